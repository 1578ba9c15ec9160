"""The data model of product.md's vocabulary.

Invariants that must never break are database constraints, not only code: an item appears
once per request, a subject has at most one open request, statuses and outcomes are from
their enumerations, and nobody approves what they filed.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from erasure.apis import namespace_label
from erasure.lifecycle import OPEN_STATUSES, ItemOutcome, RequestStatus


class NamespaceKind(models.TextChoices):
    TEXT = "text", "Text (documents)"
    VECTOR = "vector", "Vector"


class AttributionMode(models.TextChoices):
    """How an outcome is attributed to each ID (namespace-api.md section 6)."""

    ADAPTIVE = "adaptive", "Adaptive (delete first; pre-check after mixed answers)"
    EXACT = "exact", "Exact (pre-check, delete, verify)"
    FAST = "fast", "Fast (counts only)"
    SINGLE = "single", "Single (one ID per call)"


class Namespace(models.Model):
    # The namespace API it lives in (erasure.apis; NAMESPACE_API_NAME for the default
    # one): a name is unique within its API only.
    api = models.CharField("API", max_length=64, default="default")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=NamespaceKind.choices)
    attribution_mode = models.CharField(max_length=10, choices=AttributionMode.choices)
    scan_interval_hours = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Hours between periodic coverage scans (empty: the service's default, "
        "ERASURE_SCAN_INTERVAL_HOURS; 0: no periodic scans).",
    )
    subject_field = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="The metadata key that names an item's subject (e.g. user_id): scans "
        "register a mapping for every item that names a known subject. Empty: none.",
    )
    subject_field_kind = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="What the subject field holds: empty for the subject key itself, else the "
        "kind of alias it is (e.g. email).",
    )
    recheck_after_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days after a request completes at which its erased items are checked "
        "again (empty: the service's default, ERASURE_RECHECK_DAYS; 0: no re-check).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "api"]
        constraints = [
            models.UniqueConstraint(fields=["api", "name"], name="namespace_unique_per_api"),
            models.CheckConstraint(
                condition=Q(kind__in=NamespaceKind.values), name="namespace_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(attribution_mode__in=AttributionMode.values),
                name="namespace_attribution_mode_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.kind})"

    @property
    def label(self) -> str:
        """For people: the name, after its API's name unless that is the default API."""
        return namespace_label(self.api, self.name)

    @staticmethod
    def default_mode(kind: str) -> str:
        # Text namespaces delete first and fall back to the item-by-item pre-check
        # (documents/get) when answers come back mixed; vector namespaces cannot be
        # checked, so counts are the best evidence there (namespace-api.md 5.2).
        return AttributionMode.ADAPTIVE if kind == NamespaceKind.TEXT else AttributionMode.FAST


class Subject(models.Model):
    """A data subject, known by the keyed hash of its stable key.

    `raw_key` is kept only while a request of the subject is open (the worker and the
    admin need it to show who is being erased); it is purged on completion.
    """

    key_hash = models.CharField(max_length=64, unique=True)
    # NULL means "purged", which an empty string would blur.
    raw_key = models.TextField(null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"subject {self.key_hash[:12]}…"


class ItemMapping(models.Model):
    """Item `item_id` of `namespace` belongs to `subject`, as registered by an application."""

    # No index of their own: the unique constraint's prefix serves `subject`, the coverage
    # index's serves `namespace`; two more indexes only slowed every registration.
    subject = models.ForeignKey(
        Subject, on_delete=models.CASCADE, related_name="mappings", db_index=False
    )
    namespace = models.ForeignKey(
        Namespace, on_delete=models.PROTECT, related_name="mappings", db_index=False
    )
    item_id = models.CharField(max_length=512)
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "namespace", "item_id"], name="mapping_unique_item_per_subject"
            ),
        ]
        indexes = [
            # Coverage: whether an item the API holds is mapped (services.scans).
            models.Index(fields=["namespace", "item_id"], name="mapping_by_namespace_item"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace.name}/{self.item_id}"


class SubjectAlias(models.Model):
    """Another identifier of a subject: an identity provider's user id, an email, ...

    Stored as the keyed hash of the alias (like subject keys), under a `kind` that names
    where the alias comes from (`okta`, `auth0`, `email`, ...): the same string may be an
    alias of different subjects in different systems, never twice in one.
    """

    kind = models.CharField(max_length=40)
    alias_hash = models.CharField(max_length=64)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="aliases")
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name_plural = "subject aliases"
        constraints = [
            models.UniqueConstraint(fields=["kind", "alias_hash"], name="alias_unique_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} alias {self.alias_hash[:12]}…"


# The longest grace period between approval and execution (hours).
MAX_GRACE_HOURS = 720


class Regulation(models.TextChoices):
    GDPR = "gdpr", "GDPR Art. 17"
    CCPA = "ccpa", "CCPA/CPRA 1798.105"
    LGPD = "lgpd", "LGPD Art. 18"
    OTHER = "other", "Other"


class RequestSource(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "REST API"
    WEBHOOK = "webhook", "Identity webhook"
    # Filed by the service itself: items registered after a completed erasure
    # (ERASURE_LATE_MAPPINGS=erase).
    SYSTEM = "system", "The service itself"


class ErasureRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="requests")
    status = models.CharField(
        max_length=32, choices=RequestStatus.choices, default=RequestStatus.RECEIVED
    )
    source = models.CharField(max_length=16, choices=RequestSource.choices)
    regulation = models.CharField(
        max_length=16, choices=Regulation.choices, default=Regulation.GDPR
    )
    reason = models.TextField(blank=True, default="")
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="filed_erasure_requests",
    )
    filed_by_api_key = models.ForeignKey(
        "ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="filed_requests"
    )
    # NULL (no key) stays outside the partial unique constraint below.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approved_erasure_requests",
    )
    approved_by_api_key = models.ForeignKey(
        "ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="approved_requests"
    )
    auto_approved = models.BooleanField(default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(
        blank=True, default="", help_text="Why work on this request is stopped, if it is."
    )
    wakeups = models.PositiveIntegerField(
        default=0, help_text="Times the sweeper found it without a job and re-queued it."
    )
    stuck_since = models.DateTimeField(
        null=True, blank=True, help_text="Flagged for an operator: the sweeper gave up."
    )
    # A legal hold blocks execution until released; the status to return to is kept.
    held_from = models.CharField(max_length=32, blank=True, default="")
    hold_reason = models.TextField(blank=True, default="")
    held_at = models.DateTimeField(null=True, blank=True)
    original_due_at = models.DateTimeField(
        null=True, blank=True, help_text="The legal deadline before any extension."
    )
    # A grace period between approval and execution, during which it can still be
    # cancelled: the request is `scheduled` until `scheduled_for`.
    grace_seconds = models.PositiveIntegerField(default=0)
    # The deadline's clock is stopped (e.g. waiting for the subject to prove who they are);
    # resuming adds the paused time to `due_at`.
    deadline_paused_at = models.DateTimeField(null=True, blank=True)
    deadline_pause_reason = models.TextField(blank=True, default="")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # When the request entered its status: set by every transition (erasure.lifecycle
    # STATE_CLOCKS), never by other changes such as a deadline extension.
    status_changed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        permissions = [
            ("approve_erasurerequest", "Can approve erasure requests"),
            ("cancel_erasurerequest", "Can cancel erasure requests"),
            ("retry_erasurerequest", "Can retry the failed items of erasure requests"),
            ("hold_erasurerequest", "Can place and release legal holds"),
            ("extend_erasurerequest", "Can extend and pause deadlines"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RequestStatus.values), name="request_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(regulation__in=Regulation.values), name="request_regulation_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=RequestSource.values), name="request_source_valid"
            ),
            # Four-eyes (product.md): a person never approves what they filed.
            models.CheckConstraint(
                condition=Q(filed_by__isnull=True)
                | Q(approved_by__isnull=True)
                | ~Q(filed_by=models.F("approved_by")),
                name="request_four_eyes",
            ),
            models.UniqueConstraint(
                fields=["subject"],
                condition=Q(status__in=OPEN_STATUSES),
                name="request_one_open_per_subject",
            ),
            models.UniqueConstraint(
                fields=["filed_by_api_key", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="request_idempotency_key_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"Erasure request {str(self.id)[:8]} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Dispatch(models.Model):
    """One HTTP call to the namespace API on behalf of one request."""

    # One of the two: the request it was sent for, or the replay.
    request = models.ForeignKey(
        ErasureRequest, on_delete=models.PROTECT, related_name="dispatches", null=True, blank=True
    )
    replay = models.ForeignKey(
        "Replay", on_delete=models.PROTECT, related_name="dispatches", null=True, blank=True
    )
    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="dispatches")
    endpoint = models.CharField(max_length=64)
    ids_sent = models.PositiveIntegerField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    requested_deletions = models.PositiveIntegerField(null=True, blank=True)
    actual_deletions = models.PositiveIntegerField(null=True, blank=True)
    unprocessed_count = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    latency_ms = models.PositiveIntegerField()
    worker = models.CharField(
        max_length=128, blank=True, default="", help_text="host:pid:thread:claim that sent it"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "dispatches"
        constraints = [
            models.CheckConstraint(
                condition=Q(request__isnull=False, replay__isnull=True)
                | Q(request__isnull=True, replay__isnull=False),
                name="dispatch_for_request_or_replay",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} x{self.ids_sent} → {self.http_status or 'no answer'}"


class ErasureItem(models.Model):
    # The hot table: 100,000s of rows per request, each written once after its insert
    # (its outcome: claims insert most items already leased, see
    # `expansion.items_expand_leased`; a proof of presence is one LeaseProof row per
    # batch). Its foreign keys carry neither an index (`request` is served by the unique
    # constraint's prefix; the others are only looked up on deletes, which never happen)
    # nor a database constraint: PostgreSQL checks a constraint row by row, which cost
    # more than the insert itself (100,000 items: 0.5 s to insert, 1.3 s of checks).
    # Integrity holds by construction instead: items are only inserted by the expansions
    # (`erasure.services.expansion`), from mappings (whose namespace is constrained) for
    # the request being carried out, and outcomes only name dispatches inserted in the
    # same transaction; requests, namespaces and dispatches are never deleted (PROTECT,
    # no delete in the admin, evidence).
    request = models.ForeignKey(
        ErasureRequest,
        on_delete=models.CASCADE,
        related_name="items",
        db_index=False,
        db_constraint=False,
    )
    namespace = models.ForeignKey(
        Namespace, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    item_id = models.CharField(max_length=512)
    outcome = models.CharField(
        max_length=32, choices=ItemOutcome.choices, default=ItemOutcome.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(
        Dispatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decided_items",
        db_index=False,
        db_constraint=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="A pending item waiting for its retry backoff."
    )
    # A claim: the worker that holds the item until it records an outcome, and until when.
    # A worker that dies loses its claims when the lease runs out.
    lease_owner = models.CharField(max_length=128, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    maybe_applied = models.BooleanField(
        default=False,
        help_text="An earlier try may have deleted it unseen (no answer, 429 resend, 5xx, "
        "or a worker that died): 'absent now' cannot mean not_found.",
    )
    seen_present = models.BooleanField(
        default=False,
        help_text="A check of this erasure saw the item stored (exact mode): if it is gone "
        "later, this erasure deleted it.",
    )
    discovered = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Its mapping came from a scan of the namespace's subject field, not from "
        "an application.",
    )

    class Meta:
        ordering = ["namespace_id", "item_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "namespace", "item_id"], name="item_unique_per_request"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=ItemOutcome.values), name="item_outcome_valid"
            ),
        ]
        # Only the pending items are indexed by state: claims, "is anything left?" and the
        # per-namespace sweep then never walk past finished items (a request's 100,000
        # finished items would be scanned by every job, every round). A claim changes no
        # indexed column, so it stays a HOT update with fillfactor 40 (migration 0020).
        indexes = [
            models.Index(
                fields=["request", "namespace", "item_id"],
                condition=Q(outcome=ItemOutcome.PENDING),
                name="item_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} → {self.outcome}"


class LeaseProof(models.Model):
    """A delete answer proved every item leased to `owner` present: they existed until this
    erasure deleted them. One row per batch, committed before the outcomes are recorded,
    instead of marking each of its items `seen_present` (an owner holds one batch at a
    time). Recording the batch removes it. If the owner dies first, the claim that takes
    its items over carries the proof to them (`seen_present`), so the resend's "0 deleted"
    cannot turn them into not_found."""

    owner = models.CharField(max_length=128, primary_key=True)
    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"proof of {self.owner}"


class ApiKey(models.Model):
    """A key of the REST API; only its SHA-256 is stored (the key is printed once)."""

    class Scope(models.TextChoices):
        MAPPINGS_WRITE = "mappings:write"
        REQUESTS_WRITE = "requests:write"
        REQUESTS_APPROVE = "requests:approve"
        AUDIT_READ = "audit:read"

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.name

    # DRF's IsAuthenticated and friends ask the authenticated object this.
    is_authenticated = True


class ApiThrottle(models.Model):
    """Shared pacing of calls to one namespace API, for every worker on every machine."""

    name = models.CharField(max_length=500, unique=True)
    not_before = models.DateTimeField(null=True, blank=True)
    tokens = models.FloatField(default=0)
    refilled_at = models.DateTimeField(auto_now_add=True)
    # The API refused our key (401/403), or its key cannot be read: nothing is sent to it
    # before this time; its namespaces wait, the other APIs' go on.
    refused_until = models.DateTimeField(null=True, blank=True)
    refused_reason = models.TextField(blank=True, db_default="")
    # The HTTP status of the last answer recorded, and since when it has been that status
    # (written when it changes, not on every call). 0: no answer (a timeout, a reset).
    last_status = models.IntegerField(null=True, blank=True)
    last_status_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class AuditEventType(models.TextChoices):
    """Stable event type names: exports and auditors rely on them, never rename one."""

    REQUEST_FILED = "request.filed"
    REQUEST_APPROVED = "request.approved"
    REQUEST_STARTED = "request.started"
    REQUEST_COMPLETED = "request.completed"
    REQUEST_CANCELLED = "request.cancelled"
    REQUEST_RETRIED = "request.retried"
    REQUEST_REQUEUED = "request.requeued"
    REQUEST_FLAGGED_STUCK = "request.flagged_stuck"
    ITEMS_EXPANDED = "items.expanded"
    # Items whose every try ended without a recorded answer (their workers died).
    ITEMS_FAILED = "items.failed"
    DISPATCH_RECORDED = "dispatch.recorded"
    MAPPINGS_REGISTERED = "mappings.registered"
    MAPPINGS_REMOVED = "mappings.removed"
    # Items registered for a subject whose request had already completed.
    MAPPINGS_AFTER_ERASURE = "mappings.after_erasure"
    # Mappings a scan registered from the subject field of the items' metadata.
    MAPPINGS_DISCOVERED = "mappings.discovered"
    ALIASES_REGISTERED = "aliases.registered"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    SUBJECT_PURGED = "subject.purged"
    NAMESPACE_MODE_CHANGED = "namespace.mode_changed"
    REQUEST_SCHEDULED = "request.scheduled"
    REQUEST_DEADLINE_EXTENDED = "request.deadline_extended"
    REQUEST_DEADLINE_PAUSED = "request.deadline_paused"
    REQUEST_DEADLINE_RESUMED = "request.deadline_resumed"
    REQUEST_HELD = "request.held"
    REQUEST_RELEASED = "request.released"
    WEBHOOK_SOURCE_CHANGED = "webhook_source.changed"
    WEBHOOK_UNKNOWN_SUBJECT = "webhook.unknown_subject"
    WEBHOOK_DEFERRED = "webhook.deferred"
    WEBHOOK_DEFERRAL_CANCELLED = "webhook.deferral_cancelled"
    EXPORT_CREATED = "export.created"
    NAMESPACE_CREATED = "namespace.created"
    CERTIFICATE_DOWNLOADED = "certificate.downloaded"
    EVIDENCE_DOWNLOADED = "evidence.downloaded"
    NAMESPACE_CHANGED = "namespace.changed"
    NAMESPACE_API_RESUMED = "namespace_api.resumed"
    SCAN_COMPLETED = "scan.completed"
    SCAN_FAILED = "scan.failed"
    # A completed request's erased items checked again after the vendor's retention window.
    REQUEST_RECHECKED = "request.rechecked"
    REPLAY_STARTED = "replay.started"
    REPLAY_DISPATCH_RECORDED = "replay.dispatch_recorded"
    REPLAY_COMPLETED = "replay.completed"


class AuditEvent(models.Model):
    """Append-only record of something that happened: a leaf of the audit log.

    Writers insert events in their own transaction, without a lock. The sequencer
    (erasure.services.audit_log) then gives each committed event, once, its place in the
    log (`leaf_index`) and its Merkle leaf hash (`leaf_hash`: SHA-256 of 0x00 and the
    event's canonical bytes, erasure.transparency.leaves). PostgreSQL refuses every other
    change, TRUNCATE included (trigger in migration 0009).

    `prev_hash` and `hash` are the retired linear chain: kept as they were on events
    written before the log replaced it, empty (NULL) on every later one.
    """

    occurred_at = models.DateTimeField()
    event_type = models.CharField(max_length=64, choices=AuditEventType.choices)
    actor = models.CharField(max_length=200)
    request = models.ForeignKey(
        ErasureRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    subject_hash = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (NULL: none)
    hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    leaf_index = models.BigIntegerField(null=True, blank=True, unique=True)
    leaf_hash = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        permissions = [
            ("export_audit", "Can export the audit trail, item outcomes and requests"),
        ]
        indexes = [
            # The sequencer's queue: events committed but not yet in the log.
            models.Index(
                fields=["id"], name="auditevent_unsequenced", condition=Q(leaf_index__isnull=True)
            ),
        ]
        constraints = [
            # The retired chain's hashes stay unique; new events (NULL) add nothing to the
            # index, and no LIKE index is kept for a column nobody searches by prefix.
            models.UniqueConstraint(
                fields=["hash"],
                condition=Q(hash__isnull=False),
                name="auditevent_chain_hash_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.event_type}"


class AuditTreeNode(models.Model):
    """The hash of one complete subtree of the audit log, level >= 1: leaves
    [index * 2**level, (index + 1) * 2**level). Written once, by the sequencer, as the
    subtree completes; with the leaf hashes, every proof reads O(log n) of them."""

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class AuditSigningKey(models.Model):
    """A public key that has signed checkpoints: listed for verification for ever, also
    once the key has rotated (`GET /api/v1/audit/public-keys`)."""

    key_id = models.CharField(max_length=8, help_text="The note key hint, 8 hex digits.")
    name = models.CharField(max_length=200)
    verifier_key = models.CharField(max_length=300, unique=True)
    first_used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_used_at", "id"]

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id}"


class AuditCheckpoint(models.Model):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) of the audit log,
    issued after each sequencing pass that added events."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.BinaryField()
    note = models.TextField(help_text="The signed note, exactly as published.")
    key = models.ForeignKey(AuditSigningKey, on_delete=models.PROTECT, related_name="checkpoints")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tree_size"]
        get_latest_by = "tree_size"

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying an `Idempotency-Key`, replayed to its repeats.

    Written in the transaction of the POST's own effect (erasure.api.idempotency): the
    record exists if and only if the effect does. Only 2xx answers are kept; a refused
    call changed nothing and may be sent again under the same key.
    """

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    body_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"


class Installation(models.Model):
    """Facts of this database that every process must agree with; one row.

    `subject_hash_key_fingerprint` is an HMAC of a fixed text under SUBJECT_HASH_KEY
    (erasure.hash_key_guard), written by the first migrate. Keyed hashes cannot be re-keyed
    once the raw keys are purged, so a process whose key gives another fingerprint must not
    run against this database at all.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    subject_hash_key_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="installation_one_row")]

    def __str__(self) -> str:
        return f"installation (subject hash key {self.subject_hash_key_fingerprint[:12]}…)"


class ScanState(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class NamespaceScan(models.Model):
    """One pass over a namespace: what the API holds against what the registry maps.

    Every namespace gets the count comparison (the API's item count against the mapped
    items). A text namespace is also read in full (documents/fetch-text-data, page by
    page): each page is recorded in one transaction with the cursor to the next, so a
    scan stopped at any point resumes from its last page.
    """

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="scans")
    state = models.CharField(max_length=10, choices=ScanState.choices, default=ScanState.RUNNING)
    full = models.BooleanField(
        help_text="Read every item (text namespaces); otherwise counts only (vector "
        "namespaces cannot be listed)."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    next_token = models.TextField(null=True, blank=True)  # noqa: DJ001 (NULL: from the start)
    pages = models.PositiveIntegerField(default=0)
    items_seen = models.PositiveBigIntegerField(default=0)
    summaries = models.PositiveBigIntegerField(default=0)
    unmapped = models.PositiveBigIntegerField(default=0)
    stale = models.PositiveBigIntegerField(default=0)
    discovered = models.PositiveBigIntegerField(
        default=0, help_text="Mappings registered from the subject field."
    )
    api_item_count = models.PositiveBigIntegerField(null=True, blank=True)
    mapped_count = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace"],
                condition=Q(state="running"),
                name="namespace_scan_one_running",
            ),
            models.CheckConstraint(
                condition=Q(state__in=ScanState.values), name="namespace_scan_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"scan {self.pk} of {self.namespace_id} ({self.state})"


class ScanSeenItem(models.Model):
    """An item a running full scan has read; emptied when the scan completes."""

    pk = models.CompositePrimaryKey("scan_id", "item_id")
    scan = models.ForeignKey(NamespaceScan, on_delete=models.CASCADE, related_name="+")
    item_id = models.CharField(max_length=512)
    is_summary = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.item_id


class FindingKind(models.TextChoices):
    UNMAPPED = "unmapped", "Present, no mapping"
    STALE = "stale", "Mapped, absent"


class ScanFinding(models.Model):
    """What a full scan found wrong: an item present with no mapping, or a mapping whose
    item is absent."""

    pk = models.CompositePrimaryKey("scan_id", "kind", "item_id")
    scan = models.ForeignKey(NamespaceScan, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=10, choices=FindingKind.choices)
    item_id = models.CharField(max_length=512)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=FindingKind.values), name="scan_finding_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.item_id}"


class Recheck(models.Model):
    """A completed request's erased items in one namespace, checked again once the
    vendor's retention window has passed (`recheck_after_days`): text namespaces by
    documents/get, vector namespaces by an idempotent re-delete whose counts tell what came
    back. What came back is erased by a follow-up request; the original's evidence stays."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="rechecks")
    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    checked_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=20, blank=True, default="")
    checked = models.PositiveIntegerField(default=0)
    reappeared = models.PositiveIntegerField(default=0)
    follow_up = models.ForeignKey(
        ErasureRequest, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["due_at"]
        verbose_name = "re-check"
        constraints = [
            models.UniqueConstraint(fields=["request", "namespace"], name="recheck_one_per_ns"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(checked_at__isnull=True), name="recheck_due"
            ),
        ]

    def __str__(self) -> str:
        return f"re-check of {str(self.request_id)[:8]} in {self.namespace_id}"


class ReplayState(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"


class Replay(models.Model):
    """The deletes of every item that a request erased since `since`, sent again after a
    vendor restored a backup. A run of its own: its dispatches, outcomes and audit events;
    the original requests' outcomes are never touched."""

    since = models.DateTimeField()
    namespaces = models.JSONField(default=list, blank=True, help_text="Empty: every namespace.")
    state = models.CharField(
        max_length=10, choices=ReplayState.choices, default=ReplayState.RUNNING
    )
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    items = models.PositiveBigIntegerField(default=0)
    came_back = models.PositiveBigIntegerField(
        default=0, help_text="Deleted again: present before the replay's delete."
    )
    absent = models.PositiveBigIntegerField(default=0, help_text="Not there: nothing came back.")
    unknown = models.PositiveBigIntegerField(
        default=0, help_text="Deleted or not found (vector namespaces' counts cannot tell)."
    )
    failed = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=ReplayState.values), name="replay_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"replay {self.pk} since {self.since:%Y-%m-%d %H:%M}"


class ReplayItem(models.Model):
    """One item a replay sends again, and what its delete found."""

    pk = models.CompositePrimaryKey("replay_id", "namespace_id", "item_id")
    replay = models.ForeignKey(Replay, on_delete=models.CASCADE, related_name="replay_items")
    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="+")
    item_id = models.CharField(max_length=512)
    outcome = models.CharField(max_length=24, default="pending")
    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    def __str__(self) -> str:
        return f"{self.item_id}: {self.outcome}"
