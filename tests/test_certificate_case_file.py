"""The certificate as a case file (issue 16): it names the organisation, the reason or
ticket reference, its columns in words with a legend, links back to the request on the
HTML page only, says plainly when nothing was mapped, prints every date in one format with
its time zone, and every download of it (admin or API, PDF or HTML) is an audit event
naming who downloaded it."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pypdf import PdfReader

from erasure.actors import Actor
from erasure.certificates import certificate_for, certificate_html, certificate_pdf
from erasure.models import AuditEvent, AuditEventType, ErasureRequest
from erasure.services.execution import request_execute
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_approve, request_file

pytestmark = pytest.mark.django_db

SUBJECT = "auth0|case-file-subject"
# "2026-12-02 21:50 UTC": the one format of every date on the certificate.
ONE_DATE_FORMAT = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _completed(
    django_user_model, emulator=None, *, items: int = 0, reason: str = ""
) -> ErasureRequest:
    """A request filed (with `reason`) and approved by two people and carried out: with
    `items` documents of the subject in a text namespace, or with nothing mapped."""
    if items:
        emulator.seed(
            [
                {
                    "name": "notes",
                    "type": "text",
                    "items": [{"id": f"t{n}", "text": f"text {n}"} for n in range(items)],
                }
            ]
        )
        mappings_register(
            items=[MappingInput(SUBJECT, "notes", f"t{n}") for n in range(items)],
            actor=Actor.system("test"),
        )
    filer = django_user_model.objects.create_user("filer")
    approver = django_user_model.objects.create_user("approver")
    filed = request_file(
        subject_key=SUBJECT, actor=Actor.for_user(filer), source="admin", reason=reason
    )
    request_approve(request=filed.request, actor=Actor.for_user(approver))
    assert request_execute(request_id=filed.request.pk).finished
    return ErasureRequest.objects.get(pk=filed.request.pk)


def _viewer(django_user_model, name: str = "viewer"):
    """A staff member who may view requests (every role may)."""
    user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="erasure", codename="view_erasurerequest")
    )
    return user


def test_the_certificate_names_the_organisation_and_the_reason(
    emulator, django_user_model, settings
):
    settings.ORGANISATION_NAME = "Acme Rockets GmbH"
    request = _completed(django_user_model, emulator, items=3, reason="Ticket PRIV-4711")
    certificate = certificate_for(request)

    text = _text(certificate_html(certificate))
    assert "Certificate of erasure — Acme Rockets GmbH" in text
    assert "Reason or ticket reference Ticket PRIV-4711" in text

    pdf = _pdf_text(certificate_pdf(certificate))
    assert "Certificate of erasure — Acme Rockets GmbH" in pdf
    assert "Ticket PRIV-4711" in pdf


def test_a_request_without_a_reason_says_none_given(emulator, django_user_model):
    request = _completed(django_user_model, emulator, items=1)
    text = _text(certificate_html(certificate_for(request)))
    assert "Reason or ticket reference none given" in text


def test_the_columns_have_human_labels_and_a_legend_explains_each_outcome(
    emulator, django_user_model
):
    request = _completed(django_user_model, emulator, items=2)
    html = certificate_html(certificate_for(request))
    header = re.search(r'<table aria-labelledby="items-heading".*?</thead>', html, re.S)
    assert header is not None
    columns = re.findall(r"<th scope=\"col\"[^>]*>([^<]+)</th>", header.group(0))
    assert columns == [
        "Namespace",
        "Kind",
        "Deleted",
        "Not found",
        "Deleted or not found",
        "Failed",
        "Total",
    ]
    # No raw outcome name is printed as a header or a legend term.
    assert "deleted_or_not_found</th>" not in html and "not_found</dt>" not in html

    legend = _text(re.search(r'<dl class="legend".*?</dl>', html, re.S).group(0))
    assert "Deleted The item existed before this request's call and is gone after it" in legend
    assert "Not found The item did not exist when it was checked" in legend
    assert (
        "Deleted or not found The item is gone after the call, but the API's answer cannot "
        "tell whether this call deleted it or it was already absent"
    ) in legend
    assert "Failed The item could not be erased after every retry" in legend
    assert "adaptive mode delete first" in _text(html)
    assert "Nothing was erased" not in _text(html)


def test_every_date_is_in_one_format_with_its_time_zone(emulator, django_user_model):
    request = _completed(django_user_model, emulator, items=1)
    text = _text(certificate_html(certificate_for(request)))
    for label in ("Received", "Due", "Completed", "Issued"):
        assert re.search(rf"{label} {ONE_DATE_FORMAT}\b", text), label
    assert re.search(rf"at {ONE_DATE_FORMAT}, leaf \d+ of the log", text)
    # No other format: no seconds, no time zone spelled another way.
    assert not re.search(r"\d{2}:\d{2}:\d{2}", text)


def test_a_request_with_nothing_mapped_says_so_instead_of_a_table_of_zeros(
    django_user_model,
):
    request = _completed(django_user_model)
    assert request.status == "completed"
    certificate = certificate_for(request)
    assert certificate.total == 0 and certificate.nothing_mapped

    html = certificate_html(certificate)
    text = _text(html)
    assert (
        "Nothing was erased. No item was mapped to this subject when the request ran, so "
        "there was nothing to erase and no namespace API was called."
    ) in text
    assert "it is not evidence that any data of the subject was removed" in text
    assert 'id="items-table"' not in html  # no table of zeros
    assert 'id="outcome-legend"' not in html  # no legend of outcomes nothing had
    assert "every item was erased or found absent" not in text

    pdf = re.sub(r"\s+", " ", _pdf_text(certificate_pdf(certificate)))
    assert "Nothing was erased." in pdf
    assert "No item was mapped to this subject when the request ran" in pdf


def test_the_admin_html_links_back_to_the_request_and_the_pdf_does_not(
    emulator, django_user_model, client
):
    request = _completed(django_user_model, emulator, items=2)
    client.force_login(_viewer(django_user_model))
    url = reverse("admin:erasure_erasurerequest_certificate", args=[request.pk])
    change_url = reverse("admin:erasure_erasurerequest_change", args=[request.pk])

    html = client.get(url, {"format": "html"})
    assert html.status_code == 200
    page = html.content.decode()
    link = f'<a href="{change_url}" id="certificate-request-link">'
    assert f"{link}Open request {str(request.pk)[:8]} in the admin</a>" in page
    assert client.get(change_url).status_code == 200  # the link is one the viewer may follow

    pdf = client.get(url)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert "Certificate of erasure" in text
    assert "in the admin" not in text and change_url not in text


def test_an_api_keys_html_certificate_carries_no_admin_link(
    emulator, django_user_model, api_key_factory
):
    request = _completed(django_user_model, emulator, items=1)
    reader = api_key_factory("reader", "audit:read")
    html = reader.get(f"/api/v1/requests/{request.pk}/certificate?format=html")
    assert html.status_code == 200
    page = html.content.decode()
    assert "Certificate of erasure" in page
    assert 'id="certificate-request-link"' not in page and "/admin/" not in page


def test_every_download_is_an_audit_event_naming_who_downloaded(
    emulator, django_user_model, client, api_key_factory
):
    request = _completed(django_user_model, emulator, items=2)
    client.force_login(_viewer(django_user_model, "audrey"))
    url = reverse("admin:erasure_erasurerequest_certificate", args=[request.pk])
    assert client.get(url).status_code == 200
    assert client.get(url, {"format": "html"}).status_code == 200
    reader = api_key_factory("reader", "audit:read")
    assert reader.get(f"/api/v1/requests/{request.pk}/certificate").status_code == 200
    assert reader.get(f"/api/v1/requests/{request.pk}/certificate?format=html").status_code == 200

    downloads = AuditEvent.objects.filter(
        request=request, event_type=AuditEventType.CERTIFICATE_DOWNLOADED
    ).order_by("id")
    assert [(event.actor, event.details["format"]) for event in downloads] == [
        ("user:audrey", "pdf"),
        ("user:audrey", "html"),
        ("api_key:reader", "pdf"),
        ("api_key:reader", "html"),
    ]
