"""What the provider modules share: the static-header check, the rule for user ids, and
the registry."""

from __future__ import annotations

import pytest

from webhooks.models import Scheme
from webhooks.providers import SCHEMES, secret_problem
from webhooks.providers.base import (
    Malformed,
    VerificationFailed,
    as_user_id,
    verify_static_header,
)


def test_static_header_uses_the_configured_header_name():
    headers = {"x-hook-secret": "s3cret-value", "authorization": "wrong"}
    verify_static_header(headers=headers, secrets=["s3cret-value"], header_name="X-Hook-Secret")
    with pytest.raises(VerificationFailed):
        verify_static_header(headers=headers, secrets=["s3cret-value"], header_name="")


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\n", "\x7f", "\x9b", "\ud800", "\udfff"])
def test_user_id_with_a_control_character_or_a_lone_surrogate_is_malformed(char):
    with pytest.raises(Malformed, match="data.id has a control character or a lone surrogate"):
        as_user_id(f"user{char}1", "data.id")


def test_user_id_keeps_any_other_text_and_drops_surrounding_white_space():
    # Provider ids and emails are not only ASCII; the hashed key is compared stripped.
    assert as_user_id(" jöhn.døe+ü@exämple.com\t\n", "data.id") == "jöhn.døe+ü@exämple.com"
    assert as_user_id("auth0|6a1 b2 😀", "data.id") == "auth0|6a1 b2 😀"
    assert as_user_id(" \n ", "data.id") is None
    assert as_user_id(12345, "data.id") == "12345"


def test_every_scheme_has_a_provider_with_its_deletion_events():
    assert set(SCHEMES) == set(Scheme.values)
    assert all(provider.deletion_events for provider in SCHEMES.values())


def test_secret_rules_of_every_scheme_and_the_standard_webhooks_format():
    assert secret_problem("okta", "short") == "a secret has at least 8 characters"
    assert secret_problem("okta", " padded-secret") == (
        "a secret must not start or end with white space"
    )
    assert secret_problem("okta", "Basic b2t0YTpzZWNyZXQ=") is None
    assert secret_problem("standard_webhooks", "not-base64!") == (
        "a Standard Webhooks secret is whsec_ followed by base64"
    )
    assert secret_problem("standard_webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") is None
    assert secret_problem("", "any-long-value") is None  # a form without a scheme yet
