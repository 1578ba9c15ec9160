"""The request page as a case file, with the Django test client and the real database:
what it says before and after each action, the confirmations and their comments, the
mistakes it guards against and the message each gets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from erasure.actors import Actor
from erasure.admin.case_file import deadline_of, readable_details, relative
from erasure.models import AuditEvent, ErasureItem, ErasureRequest, Namespace
from erasure.roles import APPROVER, AUDITOR, OFFICER
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db

ADMIN = "/admin/erasure/erasurerequest"


@pytest.fixture
def mapped(db):
    """`mapped(key, docs=3, vecs=2)`: register that many items of subject `key` in two
    namespaces (known to the service: no API call)."""
    Namespace.objects.get_or_create(
        name="docs", defaults={"kind": "text", "attribution_mode": "adaptive"}
    )
    Namespace.objects.get_or_create(
        name="vecs", defaults={"kind": "vector", "attribution_mode": "fast"}
    )

    def make(key: str, docs: int = 3, vecs: int = 2) -> None:
        items = [MappingInput(key, "docs", f"{key}-d{i}") for i in range(docs)]
        items += [MappingInput(key, "vecs", f"{key}-v{i}") for i in range(vecs)]
        mappings_register(items=items, actor=Actor.system("test"))

    return make


def _filed(key: str, **kwargs) -> ErasureRequest:
    return request_file(subject_key=key, actor=Actor.system("test"), source="api", **kwargs).request


def _page(client, request: ErasureRequest, query: str = "") -> str:
    response = client.get(f"{ADMIN}/{request.pk}/change/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_from_filing_on_the_page_and_the_api_count_what_will_be_erased(
    client, role_user, role_groups, mapped
):
    mapped("user-1")
    request = _filed("user-1", reason="SUP-77")
    client.force_login(role_user("otto", OFFICER))
    page = _page(client, request)
    assert "5 items in 2 namespaces will be erased." in page
    assert '<td data-outcome="pending">5</td>' in page
    assert '<td data-outcome="total">5</td>' in page
    assert "SUP-77" in page
    # The API's counts agree.
    progress = client.get(f"{ADMIN}/{request.pk}/progress/").json()
    assert progress["counts"]["pending"] == progress["counts"]["total"] == 5
    assert progress["percent"] == 0


def test_approving_states_the_consequence_and_records_the_comment(
    client, role_user, role_groups, mapped
):
    mapped("user-1")
    request = _filed("user-1")
    client.force_login(role_user("ann", APPROVER))
    page = _page(client, request)
    assert "Approve: erase 5 items in 2 namespaces; this cannot be undone." in page
    confirm = client.get(f"{ADMIN}/{request.pk}/approve/").content.decode()
    assert "Approve: erase 5 items in 2 namespaces; this cannot be undone." in confirm
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"  # GET: nothing
    response = client.post(f"{ADMIN}/{request.pk}/approve/", {"comment": "  checked ID  "})
    assert response.status_code == 302
    assert ErasureRequest.objects.get(pk=request.pk).status == "approved"
    event = AuditEvent.objects.get(request=request, event_type="request.approved")
    assert event.details == {"auto": False, "comment": "checked ID"}
    timeline = _page(client, request)
    assert "Approved by ann" in timeline and "checked ID" in timeline
    assert "{&#x27;" not in timeline and "{'" not in timeline  # no Python reprs


def test_a_comment_too_long_is_refused_with_a_message_and_nothing_changes(
    client, role_user, role_groups, mapped
):
    mapped("user-1")
    request = _filed("user-1")
    client.force_login(role_user("ann", APPROVER))
    response = client.post(f"{ADMIN}/{request.pk}/approve/", {"comment": "x" * 5001})
    assert response.status_code == 200
    assert "Ensure this value has at most" in response.content.decode()
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"


def test_an_empty_request_needs_an_explicit_confirmation_to_be_approved(
    client, role_user, role_groups
):
    request = _filed("nobody-mapped")
    client.force_login(role_user("ann", APPROVER))
    page = _page(client, request)
    assert "No item is mapped to this subject" in page
    confirm = client.get(f"{ADMIN}/{request.pk}/approve/").content.decode()
    assert "no item is mapped to this subject, so nothing will be erased" in confirm
    assert "I understand that nothing will be erased" in confirm
    refused = client.post(f"{ADMIN}/{request.pk}/approve/", {"comment": ""})
    assert refused.status_code == 200
    assert "Tick the box: this request erases nothing" in refused.content.decode()
    assert ErasureRequest.objects.get(pk=request.pk).status == "awaiting_approval"
    approved = client.post(f"{ADMIN}/{request.pk}/approve/", {"confirm_nothing_mapped": "on"})
    assert approved.status_code == 302
    assert ErasureRequest.objects.get(pk=request.pk).status == "approved"


def test_filing_a_subject_with_nothing_mapped_needs_file_it_anyway(
    client, role_user, role_groups, mapped
):
    client.force_login(role_user("otto", OFFICER))
    form = {"subject_key": "ghost", "alias_kind": "", "regulation": "gdpr", "reason": ""}
    refused = client.post(f"{ADMIN}/add/", form).content.decode()
    assert "No item is mapped to this subject, so the request would erase nothing" in refused
    assert not ErasureRequest.objects.exists()
    filed = client.post(f"{ADMIN}/add/", {**form, "confirm_nothing_mapped": "on"})
    assert filed.status_code == 302
    assert ErasureRequest.objects.count() == 1
    # A subject with items needs no such box.
    mapped("user-2")
    client.post(f"{ADMIN}/add/", {**form, "subject_key": "user-2"})
    assert ErasureRequest.objects.count() == 2


def test_filing_a_subject_that_has_an_open_request_says_so_once(
    client, role_user, role_groups, mapped
):
    mapped("user-1")
    existing = _filed("user-1")
    client.force_login(role_user("otto", OFFICER))
    form = {"subject_key": "user-1", "alias_kind": "", "regulation": "gdpr", "reason": ""}
    response = client.post(f"{ADMIN}/add/", form, follow=True)
    assert response.redirect_chain[-1][0] == f"{ADMIN}/{existing.pk}/change/"
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and shown[0].startswith("No new request was filed")
    assert ErasureRequest.objects.count() == 1


def test_the_preview_names_an_unknown_alias_and_an_empty_subject(client, role_user, role_groups):
    client.force_login(role_user("otto", OFFICER))
    unknown = client.post(
        f"{ADMIN}/preview/",
        {"subject_key": "who@example.com", "alias_kind": "email", "regulation": "gdpr"},
    ).json()
    assert unknown["summary"].startswith("Unknown alias: no subject has this email alias")
    empty = client.post(
        f"{ADMIN}/preview/", {"subject_key": "ghost", "alias_kind": "", "regulation": "ccpa"}
    ).json()
    assert empty["summary"].startswith("No item is mapped to this subject")
    assert empty["due_text"].endswith("(in 45 days)")


def test_cancel_and_retry_state_what_they_do_and_keep_the_comment(
    client, role_user, role_groups, mapped
):
    mapped("user-1")
    request = _filed("user-1")
    client.force_login(role_user("otto", OFFICER))
    confirm = client.get(f"{ADMIN}/{request.pk}/cancel/").content.decode()
    assert "Cancel: nothing will be erased for this request, and it cannot be reopened" in confirm
    client.post(f"{ADMIN}/{request.pk}/cancel/", {"comment": "duplicate of SUP-12"})
    event = AuditEvent.objects.get(request=request, event_type="request.cancelled")
    assert event.details["reason"] == "duplicate of SUP-12"
    page = _page(client, request)
    assert "Cancelled by otto" in page and "duplicate of SUP-12" in page

    other = _filed("user-3")
    ErasureRequest.objects.filter(pk=other.pk).update(
        status="completed_with_failures", started_at=timezone.now(), completed_at=timezone.now()
    )
    namespace = Namespace.objects.get(name="docs")
    ErasureItem.objects.bulk_create(
        [
            ErasureItem(request=other, namespace=namespace, item_id=f"f{i}", outcome="failed")
            for i in range(3)
        ]
    )
    confirm = client.get(f"{ADMIN}/{other.pk}/retry/").content.decode()
    assert "Retry: send the 3 failed items again (only those)" in confirm
    client.post(f"{ADMIN}/{other.pk}/retry/", {"comment": "vendor fixed the 5xx"})
    event = AuditEvent.objects.get(request=other, event_type="request.retried")
    assert event.details["comment"] == "vendor fixed the 5xx"
    assert event.details["items_reopened"] == 3


@pytest.mark.parametrize("role", [OFFICER, APPROVER, AUDITOR])
def test_every_action_and_link_offered_can_be_followed_by_its_viewer(
    client, role_user, role_groups, mapped, role
):
    mapped("user-1")
    request = _filed("user-1")
    client.force_login(role_user("someone", role))
    page = _page(client, request)
    links = set(re.findall(r'href="(/admin/[^"#]*)"', page))
    assert links, page
    for link in sorted(links):
        link = link.replace("&amp;", "&")
        status = client.get(link).status_code
        assert status in (200, 302), (role, link, status)
    assert "/admin/auth/user/" not in page  # "Filed by" is a name, not a link


def test_the_items_are_filtered_by_outcome_and_namespace(client, role_user, role_groups):
    request = _filed("user-9")
    ErasureRequest.objects.filter(pk=request.pk).update(
        status="completed_with_failures", started_at=timezone.now(), completed_at=timezone.now()
    )
    docs = Namespace.objects.create(name="docs", kind="text", attribution_mode="adaptive")
    vecs = Namespace.objects.create(name="vecs", kind="vector", attribution_mode="fast")
    ErasureItem.objects.bulk_create(
        [
            ErasureItem(request=request, namespace=docs, item_id="a", outcome="deleted"),
            ErasureItem(request=request, namespace=docs, item_id="b", outcome="failed"),
            ErasureItem(request=request, namespace=vecs, item_id="c", outcome="failed"),
        ]
    )
    client.force_login(role_user("otto", OFFICER))

    def shown(query: str) -> list[str]:
        return re.findall(r'data-item-id="([^"]+)"', _page(client, request, query))

    assert shown("") == ["a", "b", "c"]
    assert shown("?outcome=failed") == ["b", "c"]
    assert shown("?outcome=failed&namespace=vecs") == ["c"]
    assert shown("?namespace=docs") == ["a", "b"]
    assert shown("?outcome=not-an-outcome") == ["a", "b", "c"]  # ignored, not a 500
    assert "No item matches this filter." in _page(client, request, "?namespace=none")


def test_deadlines_and_details_read_as_words():
    now = timezone.now()
    assert relative(now + timedelta(days=12, hours=1), now=now) == "in 12 days"
    assert relative(now - timedelta(hours=3), now=now) == "3 hours ago"
    assert relative(now + timedelta(seconds=5), now=now) == "now"
    request = ErasureRequest(status="awaiting_approval", due_at=now - timedelta(days=3, hours=2))
    assert deadline_of(request, now=now).text == "overdue by 3 days"
    assert deadline_of(request, now=now).state == "overdue"
    soon = ErasureRequest(status="running", due_at=now + timedelta(days=2, hours=1))
    assert deadline_of(soon, now=now).state == "due-soon"
    details = dict(
        readable_details(
            {
                "auto_approve": False,
                "regulation": "ccpa",
                "source": "webhook",
                "grace_hours": 0,
                "counts": {"deleted": 3, "failed": 1, "pending": 0, "total": 4},
                "by_namespace": {"docs": {}},
            }
        )
    )
    assert details == {
        "Approved automatically": "no",
        "Regulation": "CCPA/CPRA 1798.105",
        "Filed through": "Identity webhook",
        "Grace period (hours)": "none",
        "Counts": "Deleted 3, Failed 1",
    }


def test_the_requests_list_finds_a_request_by_the_short_id_the_pages_show(
    client, role_user, role_groups
):
    first, second = _filed("user-a"), _filed("user-b")
    client.force_login(role_user("otto", OFFICER))
    for typed in (str(first.pk)[:8], str(first.pk)[:8].upper(), str(first.pk)):
        listed = client.get(f"{ADMIN}/", {"q": typed}).content.decode()
        assert f"{ADMIN}/{first.pk}/change/" in listed, typed
        assert f"{ADMIN}/{second.pk}/change/" not in listed, typed


def test_the_list_names_who_filed_each_request(client, role_user, role_groups):
    from erasure.services.api_keys import api_key_create

    key, _ = api_key_create(name="crm", scopes=["requests:write"], actor=Actor.system("test"))
    request_file(subject_key="user-k", actor=Actor.for_api_key(key), source="api")
    request_file(subject_key="user-w", actor=Actor.for_webhook("okta"), source="webhook")
    client.force_login(role_user("otto", OFFICER))
    cells = re.findall(
        r'<td class="field-filed_by_text">(.*?)</td>', client.get(f"{ADMIN}/").content.decode()
    )
    assert sorted(cells) == ["API key “crm”", "Identity webhook"]
