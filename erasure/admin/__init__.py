"""The admin of the service, one module per model or page.

Django's autodiscover imports this package; importing each module registers its admin.
Every write goes through the same services as the API; the evidence (audit events,
items, dispatches, mappings, aliases) is read-only (erasure.admin.base.ReadOnlyAdmin).
The dashboard (erasure.admin.dashboard) is a page of its own, routed in config/urls.py;
the admins of users, groups and jobs (erasure.admin.outside) get the same guards.
"""

from django.conf import settings
from django.contrib import admin

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

# The admin is the whole site: no "View site" link to a page that does not exist.
admin.site.site_url = None
admin.site.site_header = f"Erasure service · {settings.ORGANISATION_NAME}"
admin.site.site_title = "Erasure service"
admin.site.index_title = "Erasure requests and their evidence"
# The pages are wide tables (items, dispatches, requests): the model list stays on the
# index page rather than taking a quarter of every page.
admin.site.enable_nav_sidebar = False
