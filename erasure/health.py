"""Health: `/healthz` (the process answers) and `/readyz` (it can do its work), for load
balancers and on-call engineers. Neither needs authentication, and neither shows a secret:
only states, ages and HTTP status codes.

`/readyz` answers 503 unless every check passes:

* `database`: a query answers;
* `migrations`: none is left to apply;
* `subject_hash_key`: the process's key is the one the database was made with;
* `worker`: a Procrastinate worker sent a heartbeat in the last READYZ_WORKER_MAX_AGE_SECONDS;
* `namespace_api`: for each configured namespace API, its key can be read and its last
  answer recorded was not a refusal of our key (401/403: nothing is sent to it until an
  operator fixes it). No call yet, or a 5xx or timeout (which retries cure), does not make
  the service unready; it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from erasure.apis import ApiKeyMissing, apis
from erasure.hash_key_guard import HashKeyMismatch, check_key, recorded_fingerprint

Check = Callable[[], dict[str, Any]]


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready", named
            result = {"ok": False, "error": exc.__class__.__name__}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        checks[name] = result
        if name == "database" and not result["ok"]:
            break  # nothing else can be asked
    ready = all(check["ok"] for check in checks.values()) and len(checks) == len(CHECKS)
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _migrations() -> dict[str, Any]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return {"ok": not plan, "unapplied": len(plan)}


def _subject_hash_key() -> dict[str, Any]:
    recorded = recorded_fingerprint()
    if recorded is None:
        return {"ok": False, "error": "the database has no subject-hash key recorded yet"}
    try:
        check_key(recorded)
    except HashKeyMismatch:
        return {"ok": False, "error": "SUBJECT_HASH_KEY is not the database's key"}
    return {"ok": True}


def _worker() -> dict[str, Any]:
    limit = settings.READYZ_WORKER_MAX_AGE_SECONDS
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE last_heartbeat > now() - make_interval(secs => %s)),
                   extract(epoch FROM now() - max(last_heartbeat))
            FROM procrastinate_workers
            """,
            [limit],
        )
        alive, age = cursor.fetchone()
    result: dict[str, Any] = {
        "ok": alive > 0,
        "alive": alive,
        "last_heartbeat_age_s": None if age is None else round(float(age), 1),
        "max_age_s": limit,
    }
    if not alive:
        result["error"] = f"no worker heartbeat in the last {limit:g} s"
    return result


def _namespace_api() -> dict[str, Any]:
    """Each configured API: its key can be read, it is not refused, and the status of its
    last answer (401/403: refused; nothing goes to it until an operator fixes the key)."""
    configured = apis()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT name, last_status, extract(epoch FROM now() - last_status_at),
                   refused_until > now(), refused_reason
            FROM erasure_apithrottle WHERE name = ANY(%s)
            """,
            [list(configured)],
        )
        state = {row[0]: row[1:] for row in cursor.fetchall()}
    result: dict[str, Any] = {"ok": True, "apis": {}}
    for name, config in configured.items():
        status, since, refused, reason = state.get(name, (None, None, False, ""))
        api: dict[str, Any] = {"ok": True, "flavor": config.flavor, "last_status": status}
        if since is not None:
            api["status_since_s"] = round(float(since), 1)
        if status is None:
            api["note"] = "no call recorded yet"
        try:
            config.key()
        except ApiKeyMissing as exc:
            api["ok"], api["error"] = False, str(exc)
        if api["ok"] and (refused or status in (401, 403)):
            api["ok"] = False
            api["error"] = reason or "the namespace API refused the service's key"
        result["apis"][name] = api
        result["ok"] = result["ok"] and api["ok"]
    if not result["ok"]:
        result["error"] = "a namespace API cannot be used: " + ", ".join(
            name for name, api in result["apis"].items() if not api["ok"]
        )
    return result


CHECKS: dict[str, Check] = {
    "database": _database,
    "migrations": _migrations,
    "subject_hash_key": _subject_hash_key,
    "worker": _worker,
    "namespace_api": _namespace_api,
}
