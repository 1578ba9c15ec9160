"""Configuration as code: a deploy script made only of the management commands sets up a
webhook source, a namespace and looks at the keys; run twice, the second run changes and
records nothing; the source it made then files a request from a signed delivery."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.db import connection

from erasure.actors import Actor
from erasure.models import ApiKey, AuditEvent, AuditEventType, Namespace
from erasure.services.api_keys import api_key_create
from tests.conftest import ROOT, manage_py, worker_env
from tests.webhooks import payloads
from tests.webhooks.conftest import VECTOR_SECRET, filed_for, post, standard_headers
from webhooks.models import WebhookSource

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOY = """\
set -euo pipefail
PY="{python}"
$PY manage.py webhook_source create clerk --scheme standard_webhooks --regulation gdpr \\
    --no-auto-approve --request-events user.deleted
$PY manage.py webhook_source add-secret clerk --secret-file "{secret}"
$PY manage.py namespace set notes --subject-field user_id --recheck-after-days 90
$PY manage.py api_key list
$PY manage.py webhook_source list
"""


def deploy(tmp_path: Path, emulator) -> subprocess.CompletedProcess:
    secret = tmp_path / "clerk-secret"
    secret.write_text(VECTOR_SECRET + "\n")
    script = tmp_path / "deploy.sh"
    script.write_text(DEPLOY.format(python=ROOT / ".venv/bin/python", secret=secret))
    return subprocess.run(  # noqa: S603
        ["bash", str(script)],  # noqa: S607
        cwd=ROOT,
        env=worker_env(connection.settings_dict["NAME"], emulator),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_deploy_script_configures_a_source_that_files_a_request(tmp_path, emulator, client):
    Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    api_key_create(name="ci", scopes=["requests:write"], actor=Actor.system("test"))

    first = deploy(tmp_path, emulator)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "clerk: created" in first.stdout and "secret #" in first.stdout
    assert "notes: changed (subject_field, recheck_after_days)" in first.stdout
    assert "ci: " in first.stdout and "active" in first.stdout
    assert VECTOR_SECRET not in first.stdout + first.stderr  # never echoed
    events = AuditEvent.objects.count()

    again = deploy(tmp_path, emulator)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "clerk: unchanged" in again.stdout and "is active already" in again.stdout
    assert "notes: unchanged" in again.stdout
    assert AuditEvent.objects.count() == events  # nothing changed, nothing recorded
    changes = AuditEvent.objects.filter(event_type=AuditEventType.WEBHOOK_SOURCE_CHANGED)
    assert {e.actor for e in changes} == {"system:cli"} and changes.count() == 2

    body = payloads.clerk("user.deleted", "user_42")
    response = post(client, "clerk", body, standard_headers(VECTOR_SECRET, "msg_1", body))
    assert response.status_code == 200
    assert filed_for("user_42").status == "awaiting_approval"


def test_secrets_rotate_and_sources_disable(emulator):
    env = worker_env(connection.settings_dict["NAME"], emulator)
    created = manage_py("webhook_source", "create", "okta", "--scheme", "okta", env=env)
    assert created.returncode == 0, created.stderr
    added = subprocess.run(  # noqa: S603
        [
            str(ROOT / ".venv/bin/python"),
            "manage.py",
            "webhook_source",
            "add-secret",
            "okta",
            "--secret-stdin",
        ],
        cwd=ROOT,
        env=env,
        input="okta-secret-1\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0 and "okta-secret-1" not in added.stdout
    prefix = added.stdout.split("secret ")[1].split()[0]
    revoked = manage_py("webhook_source", "revoke-secret", "okta", prefix, env=env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    again = manage_py("webhook_source", "revoke-secret", "okta", prefix, env=env)
    assert again.returncode == 0 and "revoked already" in again.stdout
    disabled = manage_py("webhook_source", "disable", "okta", env=env)
    assert disabled.returncode == 0
    assert WebhookSource.objects.get(slug="okta").enabled is False


@pytest.mark.parametrize(
    "args",
    [
        ["webhook_source", "create", "bad", "--scheme", "okta", "--regulation", "nope"],
        ["webhook_source", "update", "missing", "--regulation", "gdpr"],
        ["webhook_source", "create", "x", "--scheme", "okta", "--grace-hours", "soon"],
        ["namespace", "set", "notes", "--subject-field-kind", "Not A Kind"],
        ["namespace", "set", "nowhere", "--subject-field", "user_id"],
        ["namespace", "set", "notes", "--recheck-after-days", "ten"],
        ["api_key", "revoke", "nobody"],
    ],
)
def test_bad_input_exits_2_and_changes_nothing(emulator, args):
    Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    events = AuditEvent.objects.count()
    result = manage_py(*args, env=worker_env(connection.settings_dict["NAME"], emulator))
    assert result.returncode == 2, result.stdout + result.stderr
    assert AuditEvent.objects.count() == events
    assert not WebhookSource.objects.exists()
    assert Namespace.objects.get(name="notes").subject_field == ""


def test_revoking_a_key_is_audited_once(emulator):
    api_key_create(name="old", scopes=["audit:read"], actor=Actor.system("test"))
    env = worker_env(connection.settings_dict["NAME"], emulator)
    assert "old: revoked" in manage_py("api_key", "revoke", "old", env=env).stdout
    assert "revoked already" in manage_py("api_key", "revoke", "old", env=env).stdout
    assert ApiKey.objects.get(name="old").revoked_at is not None
    assert AuditEvent.objects.filter(event_type=AuditEventType.API_KEY_REVOKED).count() == 1
