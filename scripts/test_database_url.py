"""Print the PostgreSQL URL the tests should use, or nothing for the embedded server.

Order: DATABASE_URL (handled by the Makefile), then a server on 127.0.0.1:5432 that accepts
the `postgres` user, then nothing (the settings start the embedded PostgreSQL).
pytest-django creates and drops its own `test_…` database next to the one named here.
"""

import socket

try:
    with socket.create_connection(("127.0.0.1", 5432), timeout=1):
        print("postgres://postgres@127.0.0.1:5432/postgres")
except OSError:
    pass
