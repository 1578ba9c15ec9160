"""The admin's roles (groups) and what each may do. A migration creates the groups; give
people a role by adding them to its group (Users → Groups in the admin). Four-eyes holds
for everyone: nobody approves what they filed, whatever their groups."""

from __future__ import annotations

OFFICER = "Compliance officer"
APPROVER = "Approver"
AUDITOR = "Auditor"

# Things every role reads: the requests and their evidence.
_READ = [
    ("erasure", "view_erasurerequest"),
    ("erasure", "view_erasureitem"),
    ("erasure", "view_dispatch"),
    ("erasure", "view_auditevent"),
    ("erasure", "view_namespace"),
    ("erasure", "view_itemmapping"),
    ("erasure", "view_subjectalias"),
]

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    # File, follow, cancel, retry.
    OFFICER: [
        *_READ,
        ("erasure", "add_erasurerequest"),
        ("erasure", "cancel_erasurerequest"),
        ("erasure", "retry_erasurerequest"),
    ],
    # Approve, hold and release, extend deadlines.
    APPROVER: [
        *_READ,
        ("erasure", "approve_erasurerequest"),
        ("erasure", "hold_erasurerequest"),
        ("erasure", "extend_erasurerequest"),
    ],
    # Read everything, change nothing, export.
    AUDITOR: [
        *_READ,
        ("erasure", "export_audit"),
        ("erasure", "view_apikey"),
        ("webhooks", "view_webhooksource"),
        ("webhooks", "view_webhookdelivery"),
    ],
}

# Newer than the roles' first migration (0005, which reads ROLE_PERMISSIONS as it stands
# when it runs, before these models exist): every role reads them, granted by 0015.
COMPLETENESS_READ = [
    ("erasure", "view_namespacescan"),
    ("erasure", "view_recheck"),
    ("erasure", "view_replay"),
]
