"""What a running `make run` tells the other shells of the same checkout.

`make run` (scripts/run_local.py) generates the secrets, starts the emulator on a port of
its choosing and may be given a database. A management command typed in a second shell
must use the same ones, or it files mappings under another subject-hash key, talks to no
emulator, or writes into another database. So `make run` writes what it chose to
`DATA_DIR/make-run.env` (KEY=VALUE lines, the secrets as paths to their files; removed
when `make run` stops), and manage.py takes from it every variable that is not set in its
own environment.

Only manage.py reads the file: the web process, tests and production processes get their
environment from whoever starts them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "make-run.env"
# The only variables the file may carry (it is never a general configuration file).
SHARED_VARIABLES = (
    "DEBUG",
    "DATABASE_URL",
    "SECRET_KEY_FILE",
    "SUBJECT_HASH_KEY_FILE",
    "AUDIT_SIGNING_KEY_FILE",
    "NAMESPACE_API_URL",
    "NAMESPACE_API_KEY",
    "NAMESPACE_API_FLAVOR",
    "NAMESPACE_API_NAME",
    "NAMESPACE_APIS",  # when on one line (JSON); else set NAMESPACE_APIS_FILE
    "NAMESPACE_APIS_FILE",
)


def data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parent.parent / ".data")


def write_local_run_environment(values: Mapping[str, str], *, directory: Path) -> Path:
    """Write the shared variables of `values` for other shells (owner-only permissions)."""
    path = directory / FILE_NAME
    lines = [
        "# Written by `make run` for management commands in other shells (config.local_run).",
        *(
            f"{name}={values[name]}"
            for name in SHARED_VARIABLES
            if values.get(name) and "\n" not in values[name]
        ),
    ]
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # touch() leaves the mode of a file that exists as it was
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def remove_local_run_environment(*, directory: Path) -> None:
    """Forget what a stopped `make run` chose: its emulator and DEBUG are gone with it."""
    (directory / FILE_NAME).unlink(missing_ok=True)


def load_local_run_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Default the process environment from the file; returns the names taken from it.

    A variable given in the environment always wins, and so does either form of a secret:
    `SECRET_KEY` set in the shell keeps the file's `SECRET_KEY_FILE` out.
    """
    env = os.environ if environ is None else environ
    path = data_dir() / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    taken = []
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or name not in SHARED_VARIABLES:
            continue
        base = name.removesuffix("_FILE")
        if name in env or base in env or f"{base}_FILE" in env:
            continue
        env[name] = value.strip()
        taken.append(name)
    return taken
