"""`/webhooks/<slug>/`: verify, record, acknowledge; a worker acts on what was recorded
(webhooks.services says how).

Answers (what each sender does with them, identity-webhooks.md):
- 404 unknown or disabled source; 413 body over MAX_BODY_BYTES; 405 other methods;
- 401 verification failed (Okta does not retry a 4xx; the others retry, then give up);
- 400 a verified body that is not the documented shape (in a batch, unreadable entries
  are skipped and counted instead: Okta does not retry a 4xx);
- 200 everything else, irrelevant events and duplicates included, with the count of each
  (`accepted`: recorded, for a worker to act on). Never 410: Standard Webhooks and Svix
  senders disable an endpoint that answers 410.
Nothing is written before verification succeeds, and the body is neither stored nor logged.
"""

from __future__ import annotations

import logging
import time

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from webhooks.models import Scheme, WebhookSource
from webhooks.providers import SCHEMES, Malformed, VerificationFailed, okta
from webhooks.services import webhook_accept

logger = logging.getLogger("webhooks")

MAX_BODY_BYTES = 1024 * 1024


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


@csrf_exempt
def receive(request: HttpRequest, slug: str) -> JsonResponse:
    source, secrets = _enabled_source(slug)
    if source is None:
        return _error(404, "not_found", "no such webhook source")
    headers = {name.lower(): value for name, value in request.headers.items()}
    scheme = SCHEMES[source.scheme]

    if request.method == "GET" and source.scheme == Scheme.OKTA:
        return _okta_verification(source, headers, secrets)
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "deliveries are POST requests")
        response["Allow"] = "GET, POST" if source.scheme == Scheme.OKTA else "POST"
        return response

    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Refused before reading: an oversized body never reaches memory.
    if declared > MAX_BODY_BYTES:
        return _too_large(source)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _too_large(source)

    try:
        scheme.verify(
            body=body,
            headers=headers,
            secrets=secrets,
            header_name=source.header_name,
            now=time.time(),
        )
    except VerificationFailed as exc:
        logger.warning("webhook %s: refused, %s", source.slug, exc)
        return _error(401, "unauthorized", "the delivery could not be verified")
    delivery_id = scheme.delivery_id(headers)
    try:
        events = scheme.events(body, delivery_id)
        result = webhook_accept(source=source, events=events)
    except Malformed as exc:
        # The header's delivery id is not validated yet: logged escaped and cut short.
        logger.warning(
            "webhook %s: malformed delivery %r: %s", source.slug, (delivery_id or "")[:64], exc
        )
        return _error(400, "malformed", str(exc))
    return JsonResponse({"received": len(events), "outcomes": dict(result.outcomes)})


def _enabled_source(slug: str) -> tuple[WebhookSource | None, list[str]]:
    """The enabled source of `slug` and its active secrets, in one
    query, read anew on every delivery: a secret revoked or a source disabled takes effect
    at once. Written out rather than built by the ORM: this runs for every delivery,
    forged ones included, and compiling the annotated query cost more than running it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT source.*, ARRAY(
                SELECT secret.value FROM webhooks_webhooksecret AS secret
                WHERE secret.source_id = source.id AND secret.active ORDER BY secret.id
            )
            FROM webhooks_webhooksource AS source
            WHERE source.slug = %s AND source.enabled
            """,
            [slug],
        )
        row = cursor.fetchone()
        if row is None:
            return None, []
        columns = [column.name for column in cursor.description or ()]
    return WebhookSource.from_db(connection.alias, columns[:-1], row[:-1]), row[-1]


def _too_large(source: WebhookSource) -> JsonResponse:
    logger.warning("webhook %s: refused, body over %d bytes", source.slug, MAX_BODY_BYTES)
    return _error(413, "too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")


def _okta_verification(
    source: WebhookSource, headers: dict[str, str], secrets: list[str]
) -> JsonResponse:
    """Okta's one-time verification: a GET whose `x-okta-verification-challenge` is echoed
    back as `{"verification": ...}`. It carries the hook's auth header like every call
    (Okta's support article "Unable to verify event hook" shows the GET with
    `Authorization: my-shared-secret`), which is checked: only the configured sender gets
    the answer."""
    challenge = okta.verification_challenge(headers)
    if not challenge:
        response = _error(405, "method_not_allowed", "deliveries are POST requests")
        response["Allow"] = "GET, POST"
        return response
    try:
        okta.verify(
            body=b"", headers=headers, secrets=secrets, header_name=source.header_name, now=0
        )
    except VerificationFailed as exc:
        logger.warning("webhook %s: verification challenge refused, %s", source.slug, exc)
        return _error(401, "unauthorized", "the request could not be verified")
    logger.info("webhook %s: answered Okta's verification challenge", source.slug)
    return JsonResponse({"verification": challenge})
