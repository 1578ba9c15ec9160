"""What the service can say about a request's completeness, per namespace: the last
complete scan and what it found for the subject, the coverage counts, and the re-check.

Shown on the request page and in the certificate's "Completeness" section. Wherever the
namespace API cannot show something (vector namespaces cannot be listed), it says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from erasure.models import (
    ErasureRequest,
    Namespace,
    NamespaceKind,
    NamespaceScan,
    Recheck,
    ScanState,
)


@dataclass
class NamespaceCompleteness:
    name: str
    kind: str
    subject_field: str
    scan: NamespaceScan | None
    """The last scan completed by the time the request completed (or now, if it has not)."""
    scan_age: timedelta | None
    """How old that scan was then."""
    fresh: bool
    """The scan started after the request was approved: it looked for this subject."""
    discovered: int
    """The request's items that a scan discovered by the subject field."""
    scan_running: NamespaceScan | None
    recheck: Recheck | None
    recheck_days: int
    completed: bool

    @property
    def can_be_listed(self) -> bool:
        return self.kind == NamespaceKind.TEXT

    @property
    def searched(self) -> str:
        """How the items of the subject were looked for, in one sentence."""
        if not self.can_be_listed:
            return "cannot be listed by the API: counts only; items as registered"
        if not self.subject_field:
            return "no subject field: items as registered; scans report unmapped items"
        if self.scan is None:
            return f"subject field {self.subject_field!r}: never scanned"
        when = "after the approval" if self.fresh else f"{_age(self.scan_age)} before completion"
        return (
            f"subject field {self.subject_field!r}: scan {self.scan.pk} ({when}) "
            f"found {self.discovered} item(s) of this subject"
        )

    @property
    def recheck_state(self) -> str:
        if self.recheck is None:
            if self.recheck_days == 0:
                return "no re-check (0 days)"
            if self.completed:
                return "nothing erased here: nothing to re-check"
            return f"{self.recheck_days} days after completion"
        if self.recheck.checked_at is None:
            due = timezone.localtime(self.recheck.due_at)
            return f"due {due:%Y-%m-%d %H:%M %Z}"
        checked = timezone.localtime(self.recheck.checked_at)
        state = (
            f"re-checked on {checked:%Y-%m-%d %H:%M %Z} ({self.recheck.method}): "
            f"{self.recheck.reappeared} item(s) re-appeared"
        )
        if self.recheck.follow_up_id:
            state += f", erased by request {str(self.recheck.follow_up_id)[:8]}"
        return state


def _age(age: timedelta | None) -> str:
    if age is None:
        return "?"
    hours = age.total_seconds() / 3600
    if hours < 1:
        return f"{max(int(age.total_seconds() // 60), 0)} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


def request_completeness(*, request: ErasureRequest) -> list[NamespaceCompleteness]:
    """One row per namespace the request touched or scanned for: items there, or a subject
    field (a scan looked for the subject there)."""
    touched = Namespace.objects.filter(
        Q(pk__in=request.items.values("namespace_id")) | ~Q(subject_field="")
    ).order_by("name")
    until: datetime = request.completed_at or timezone.now()
    since = request.approved_at or request.started_at
    discovered = dict(
        request.items.filter(discovered=True)
        .values("namespace_id")
        .annotate(n=Count("pk"))
        .values_list("namespace_id", "n")
    )
    rechecks = {r.namespace_id: r for r in Recheck.objects.filter(request=request)}
    rows = []
    for namespace in touched:
        scans = NamespaceScan.objects.filter(namespace=namespace)
        scan = (
            scans.filter(state=ScanState.COMPLETED, finished_at__lte=until)
            .order_by("-finished_at")
            .first()
        )
        days = namespace.recheck_after_days
        rows.append(
            NamespaceCompleteness(
                name=namespace.label,
                kind=namespace.kind,
                subject_field=namespace.subject_field,
                scan=scan,
                scan_age=(until - scan.finished_at) if scan and scan.finished_at else None,
                fresh=bool(scan and since and scan.started_at >= since),
                discovered=discovered.get(namespace.pk, 0),
                scan_running=scans.filter(state=ScanState.RUNNING).first(),
                recheck=rechecks.get(namespace.pk),
                recheck_days=settings.ERASURE_RECHECK_DAYS if days is None else days,
                completed=request.completed_at is not None,
            )
        )
    return rows
