"""NAMESPACE_APIS: TOML or JSON, each API checked at start-up with a message that names the
API and the setting; keys are read when a client is made, never stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.namespace_apis import namespace_apis_parse
from erasure.apis import ApiKeyMissing, api_get, apis
from erasure.errors import InvalidInput
from tests.conftest import ROOT

TOML = """
[eu-cloud]
url = "https://api.eu.example/v1/"
key_env = "EU_KEY"
max_in_flight = 4
calls_per_second = 2.5

[onprem]
url = "http://moorcheh.internal:8080"
flavor = "onprem"
timeout = 5
"""


def test_toml_and_json_give_the_same_apis():
    from_toml = namespace_apis_parse(TOML)
    as_json = json.dumps(
        {
            "eu-cloud": {
                "url": "https://api.eu.example/v1/",
                "key_env": "EU_KEY",
                "max_in_flight": 4,
                "calls_per_second": 2.5,
            },
            "onprem": {"url": "http://moorcheh.internal:8080", "flavor": "onprem", "timeout": 5},
        }
    )
    assert namespace_apis_parse(as_json) == from_toml
    assert from_toml["eu-cloud"] == {
        "url": "https://api.eu.example/v1",
        "flavor": "cloud",
        "key_env": "EU_KEY",
        "key_file": "",
        "max_in_flight": 4,
        "calls_per_second": 2.5,
        "timeout": None,
    }
    assert from_toml["onprem"]["timeout"] == 5.0
    assert namespace_apis_parse("") == {} == namespace_apis_parse("  \n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[x]\nurl = 'ftp://a'\nkey_env = 'K'", "API 'x': url must be an http(s) URL"),
        ("[x]\nkey_env = 'K'", "API 'x': url must be an http(s) URL"),
        ("[x]\nurl = 'http://a'", "exactly one of key_env (a variable) or key_file"),
        (
            "[x]\nurl = 'http://a'\nkey_env = 'K'\nkey_file = '/k'",
            "exactly one of key_env (a variable) or key_file",
        ),
        ("[x]\nurl = 'http://a'\nflavor = 'onprem'\nkey_env = 'K'", "on-prem API takes no key"),
        ("[x]\nurl = 'http://a'\nkey_env = 'K'\nflavor = 'edge'", "flavor must be one of"),
        ("[x]\nurl = 'http://a'\nkey_env = 'K'\nkey = 'sk-1'", "unknown settings key"),
        ("[x]\nurl = 'http://a'\nkey_env = 'K'\nmax_in_flight = 0", "at least 1"),
        ("[x]\nurl = 'http://a'\nkey_env = 'K'\nmax_in_flight = 1.5", "whole number"),
        ("[x]\nurl = 'http://a'\nkey_env = 'K'\ncalls_per_second = 'fast'", "must be a number"),
        ("[Bad_Name]\nurl = 'http://a'\nkey_env = 'K'", "a name is 1-64 characters"),
        ("[default]\nurl = 'http://a'\nkey_env = 'K'", "is the default API's name"),
        ("{not json", "neither TOML nor JSON"),
        ("x = 1", "API 'x': must be a table of settings"),
        ("[1, 2]", "neither TOML nor JSON"),
    ],
)
def test_a_bad_configuration_says_what_is_wrong(text, message):
    with pytest.raises(ImproperlyConfigured) as refused:
        namespace_apis_parse(text)
    assert message in str(refused.value)


def test_the_key_itself_is_never_configuration_and_is_read_when_needed(
    settings, tmp_path, monkeypatch
):
    key_file = tmp_path / "us.key"
    settings.NAMESPACE_APIS = namespace_apis_parse(
        f'[eu]\nurl = "https://eu.example/v1"\nkey_env = "EU_KEY"\n'
        f'[us]\nurl = "https://us.example/v1"\nkey_file = "{key_file}"\n'
    )
    configured = apis()
    assert list(configured) == ["default", "eu", "us"]
    with pytest.raises(ApiKeyMissing, match="the variable EU_KEY is not set"):
        configured["eu"].key()
    monkeypatch.setenv("EU_KEY", " sk-eu \n")
    assert configured["eu"].key() == "sk-eu"
    with pytest.raises(ApiKeyMissing, match="cannot be read"):
        configured["us"].key()
    key_file.write_text("")
    with pytest.raises(ApiKeyMissing, match="is empty"):
        configured["us"].key()
    key_file.write_text("sk-us-rotated\n")
    assert configured["us"].key() == "sk-us-rotated"
    assert configured["us"].key_source == str(key_file)
    assert configured["eu"].key_source == "$EU_KEY"
    assert api_get(None).name == api_get("").name == "default"
    with pytest.raises(InvalidInput, match="no namespace API named 'mars' is configured"):
        api_get("mars")


def test_a_bad_configuration_stops_the_start_with_its_message():
    env = {
        **os.environ,
        "NAMESPACE_APIS": '[eu]\nurl = "https://eu.example/v1"\n',
        "SECRET_KEY": "x",
        "SUBJECT_HASH_KEY": "y",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "NAMESPACE_APIS, API 'eu': name its key by exactly one of key_env" in done.stderr


def test_the_documented_examples_parse():
    example = (ROOT / "deploy" / "namespace_apis.toml.example").read_text()
    assert set(namespace_apis_parse(example)) == {"us-cloud", "onprem"}
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Several namespace APIs") :]
    block = section[section.index("```toml") + len("```toml") : section.index("```\n", 10)]
    assert set(namespace_apis_parse(block)) == {"eu-cloud", "onprem"}
    env = (ROOT / "deploy" / "erasure.env.example").read_text()
    assert "NAMESPACE_APIS_FILE=/etc/erasure/namespace_apis.toml" in env
