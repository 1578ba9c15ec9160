"""The admin of the service, one module per model or page.

Django's autodiscover imports this package; importing each module registers its admin.
Every write goes through the same services as the API; the evidence (audit events,
items, dispatches, mappings, aliases) is read-only (erasure.admin.base.ReadOnlyAdmin).
The dashboard (erasure.admin.dashboard) is a page of its own, routed in config/urls.py;
the admins of users, groups and jobs (erasure.admin.outside) get the same guards.
"""

from erasure.admin import (  # noqa: F401 (imported to register their admins)
    api_keys,
    audit,
    completeness,
    dispatches,
    items,
    mappings,
    namespaces,
    outside,
    requests,
    subjects,
)
