"""`manage.py namespace_scan NAME [NAME ...] | --all`: scan namespaces now (resuming a
scan that stopped), and print what each found.

Exit status: 0 every scan completed; 1 a scan failed or stopped on an API error (a
stopped one resumes at the next run); 2 an unknown namespace, nothing scanned.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from erasure.apis import ApiKeyMissing
from erasure.clients import ApiClients
from erasure.errors import ServiceError
from erasure.models import Namespace, ScanState
from erasure.selectors.namespaces import namespaces_named
from erasure.services.scans import scan_run, scan_start
from namespace_api.client.errors import NamespaceApiError


class Command(BaseCommand):
    help = "Scan namespaces: counts against the registry; text namespaces read in full."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="NAME")
        parser.add_argument("--all", action="store_true", help="every known namespace")
        parser.add_argument("--api", default="", help="the names' API (default: the default one)")

    def handle(self, *args, **options):
        names = options["names"]
        if options["all"] == bool(names):
            raise CommandError("name namespaces, or give --all (not both)", returncode=2)
        namespaces = list(Namespace.objects.all()) if options["all"] else []
        if names:
            try:
                namespaces = namespaces_named(names, api=options["api"])
            except ServiceError as exc:
                raise CommandError(exc.message, returncode=2) from exc
        ok = True
        with ApiClients() as clients:
            for namespace in namespaces:
                scan = scan_start(namespace=namespace)
                try:
                    scan = scan_run(scan, client=clients.for_namespace(namespace))
                except (NamespaceApiError, ApiKeyMissing) as exc:
                    ok = False
                    self.stdout.write(
                        f"{namespace.label}: stopped after {scan.pages} pages ({exc}); "
                        "the next run resumes it"
                    )
                    continue
                ok = ok and scan.state == ScanState.COMPLETED
                self.stdout.write(_summary(scan))
        if not ok:
            raise CommandError("not every scan completed", returncode=1)


def _summary(scan) -> str:
    name = scan.namespace.label
    if scan.state != ScanState.COMPLETED:
        return f"{name}: scan {scan.pk} {scan.state}: {scan.error}"
    counts = f"API holds {_count(scan.api_item_count)} items, {scan.mapped_count} mapped"
    if not scan.full:
        return f"{name}: {counts} (a vector namespace cannot be listed: counts only)"
    return (
        f"{name}: {counts}; read {scan.items_seen} items in {scan.pages} pages: "
        f"{scan.unmapped} unmapped, {scan.stale} stale mappings, "
        f"{scan.summaries} summary chunks (not user data)"
    )


def _count(value: int | None) -> str:
    return "an unknown number of" if value is None else str(value)
