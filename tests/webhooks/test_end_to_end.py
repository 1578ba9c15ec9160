"""The whole loop from an identity system: Okta announces a deletion, the auto-approving
source files the request, a real Procrastinate worker erases the subject's items from the
emulator over real HTTP; afterwards no table holds the Okta user id or the email."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from erasure.actors import Actor
from erasure.models import ErasureRequest
from erasure.services.aliases import AliasInput, aliases_register
from erasure.services.mappings import MappingInput, mappings_register
from tests.conftest import run_worker_once, tables_containing
from tests.webhooks import payloads
from tests.webhooks.conftest import make_source, outcomes, post

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "Basic b2t0YTpzdXBlcnNlY3JldA=="
OKTA_ID = "00u3m90rxKjGQ0G6L1d6"
EMAIL = "john.doe@example.com"


@pytest.mark.parametrize("mapping", ["alias", "direct"])
def test_okta_deletion_erases_the_subjects_items_and_keeps_no_identifier(emulator, mapping):
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": f"{w}-{n}", "text": "t"} for w in ("john", "joe") for n in (1, 2)],
            }
        ]
    )
    app = Actor.system("test")
    john = "customer-john" if mapping == "alias" else OKTA_ID
    mappings_register(
        items=[MappingInput(john, "notes", f"john-{n}") for n in (1, 2)]
        + [MappingInput("customer-joe", "notes", f"joe-{n}") for n in (1, 2)],
        actor=app,
    )
    if mapping == "alias":
        aliases_register(items=[AliasInput("customer-john", "okta", OKTA_ID)], actor=app)
        make_source("okta", [SECRET], auto_approve=True, subject_mapping="alias", alias_kind="okta")
    else:
        make_source("okta", [SECRET], auto_approve=True)

    body = payloads.okta(
        payloads.okta_event("user.lifecycle.delete.initiated", "e-1", OKTA_ID, EMAIL)
    )
    response = post(Client(), "okta", body, {"Authorization": SECRET})
    assert outcomes(response) == {"filed": 1}

    run_worker_once(connection.settings_dict["NAME"], emulator)

    request = ErasureRequest.objects.get()
    assert request.status == "completed"
    assert emulator.ids("notes") == {"joe-1", "joe-2"}
    assert tables_containing(OKTA_ID) == []
    assert tables_containing(EMAIL) == []
