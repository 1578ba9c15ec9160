"""Identity-system webhook sources, their secrets, and the deliveries they made.

No body is ever stored: a delivery row keeps the provider's delivery id (the dedup key),
the event type and what was done with it. Subject identifiers appear only as keyed hashes
(through erasure.Subject).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from erasure.models import MAX_GRACE_HOURS, ErasureRequest, Regulation, Subject

# Bounds of a source's delays (the service refuses a longer grace period).
MAX_DEACTIVATION_DELAY_HOURS = 24 * 365


class Scheme(models.TextChoices):
    """How a sender authenticates and shapes its deliveries (identity-webhooks.md)."""

    STANDARD_WEBHOOKS = "standard_webhooks", "Standard Webhooks / Svix (Clerk)"
    OKTA = "okta", "Okta Event Hooks"
    AUTH0 = "auth0", "Auth0 Log Streams"
    WORKOS = "workos", "WorkOS"
    KEYCLOAK = "keycloak", "Keycloak (p2-inc keycloak-events, HMAC)"
    STATIC_HEADER = "static_header", "Generic: static secret header"


class SubjectMapping(models.TextChoices):
    DIRECT = "direct", "The provider's user id is the subject key"
    ALIAS = "alias", "The provider's user id is an alias registered with the mappings"


class DeactivationPolicy(models.TextChoices):
    IGNORE = "ignore", "Ignore deactivation and suspension"
    DELAY = "delay", "File a request after a delay, unless reactivated first"


slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,49}$", "1-50 characters of a-z, 0-9 and '-', not starting with '-'"
)
kind_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,39}$", "1-40 characters of a-z, 0-9, '_', '.', '-'"
)


class WebhookSource(models.Model):
    """One configured sender, answering at /webhooks/<slug>/."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    scheme = models.CharField(max_length=32, choices=Scheme.choices)
    enabled = models.BooleanField(
        default=True, help_text="A disabled source answers 404, like an unknown one."
    )
    header_name = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Okta, Auth0 and the generic scheme: the header that carries the secret "
        "(default Authorization). Ignored by the signing schemes.",
    )
    regulation = models.CharField(
        max_length=16, choices=Regulation.choices, default=Regulation.GDPR
    )
    auto_approve = models.BooleanField(
        default=False, help_text="Requests filed by this source skip the four-eyes approval."
    )
    grace_hours = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_GRACE_HOURS)],
        help_text="Hours between approval and execution during which its requests can still "
        "be cancelled (empty: the service's default, ERASURE_GRACE_HOURS).",
    )
    subject_mapping = models.CharField(
        max_length=10, choices=SubjectMapping.choices, default=SubjectMapping.DIRECT
    )
    alias_kind = models.CharField(
        max_length=40,
        blank=True,
        default="",
        validators=[kind_validator],
        help_text="With alias mapping: the kind the aliases were registered under (e.g. okta).",
    )
    request_events = ArrayField(
        models.CharField(max_length=100),
        blank=True,
        default=list,
        help_text="Event types that file a request, comma-separated. Empty: the scheme's "
        "deletion events.",
    )
    deactivation_policy = models.CharField(
        max_length=10, choices=DeactivationPolicy.choices, default=DeactivationPolicy.IGNORE
    )
    deactivation_delay_hours = models.PositiveIntegerField(
        default=720,
        validators=[MaxValueValidator(MAX_DEACTIVATION_DELAY_HOURS)],
        help_text="With the delay policy: hours between deactivation and filing (at most a year).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheme__in=Scheme.values), name="webhook_source_scheme_valid"
            ),
            models.CheckConstraint(
                condition=Q(subject_mapping=SubjectMapping.DIRECT)
                | (Q(subject_mapping=SubjectMapping.ALIAS) & ~Q(alias_kind="")),
                name="webhook_source_alias_needs_kind",
            ),
            models.CheckConstraint(
                condition=Q(deactivation_policy__in=DeactivationPolicy.values),
                name="webhook_source_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class WebhookSecret(models.Model):
    """A shared secret of a source. Several may be active at once: a sender's secret is
    rotated by adding the new one, switching the sender over, then revoking the old one.

    The value is needed in clear to compute HMACs; the admin never shows it back.
    """

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="secrets")
    value = models.TextField()
    prefix = models.CharField(
        max_length=16, help_text="A fingerprint (SHA-256, 8 hex digits), to tell secrets apart."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(active=True) | Q(revoked_at__isnull=False),
                name="webhook_secret_revoked_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({'active' if self.active else 'revoked'})"


class DeliveryOutcome(models.TextChoices):
    RECEIVED = "received", "Received: waiting for a worker to act on it"
    FILED = "filed", "Request filed"
    ALREADY_OPEN = "already_open", "The subject already had an open request"
    UNKNOWN_SUBJECT = "unknown_subject", "Ignored: no subject registered for the alias"
    DEFERRED = "deferred", "Deactivation: request deferred"
    ALREADY_DEFERRED = "already_deferred", "Deactivation: a deferred request was pending"
    DEFERRAL_CANCELLED = "deferral_cancelled", "Reactivation: deferred request cancelled"
    NOTHING_TO_CANCEL = "nothing_to_cancel", "Reactivation: the deferral was already settled"
    FAILED = "failed", "Failed: the worker could not act on it (see the error)"


class DeliveryAction(models.TextChoices):
    FILE = "file", "File a request"
    DEFER = "defer", "Defer a request (deactivation)"
    CANCEL = "cancel", "Cancel a deferral (reactivation)"


class WebhookDelivery(models.Model):
    """One acted-upon event of a source, by the provider's delivery (or event) id.

    The view verifies a delivery and inserts this row (`received`), and that is all it
    writes: the unique key makes a redelivery a duplicate, which changes nothing. A worker
    then acts on received rows in bulk (files, defers, cancels) and sets the outcome.
    Irrelevant events leave no row.
    """

    source = models.ForeignKey(WebhookSource, on_delete=models.PROTECT, related_name="deliveries")
    delivery_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    action = models.CharField(
        max_length=8, choices=DeliveryAction.choices, default=DeliveryAction.FILE
    )
    outcome = models.CharField(max_length=20, choices=DeliveryOutcome.choices)
    pending_user_id = models.TextField(  # noqa: DJ001 (NULL once acted upon, never "")
        null=True,
        blank=True,
        help_text="The provider's user id, kept only until a worker has acted on the "
        "delivery (then NULL): the raw key lives where an open request needs it.",
    )
    request = models.ForeignKey(
        ErasureRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="webhook_deliveries",
    )
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "delivery_id"], name="webhook_delivery_unique_per_source"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=DeliveryOutcome.values),
                name="webhook_delivery_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(action__in=DeliveryAction.values),
                name="webhook_delivery_action_valid",
            ),
        ]
        indexes = [
            # The worker's queue: the rows still to act on, oldest first.
            models.Index(
                fields=["id"], condition=Q(outcome="received"), name="webhook_delivery_todo_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.delivery_id} {self.event_type} → {self.outcome}"


class DeferralState(models.TextChoices):
    PENDING = "pending", "Pending"
    FILED = "filed", "Filed"
    CANCELLED = "cancelled", "Cancelled (reactivated)"


class DeferredErasure(models.Model):
    """A request to file once `due_at` passes: the delay policy for deactivations.

    At most one pending per (source, subject); a reactivation cancels it.
    """

    source = models.ForeignKey(WebhookSource, on_delete=models.PROTECT, related_name="deferrals")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    delivery = models.OneToOneField(
        WebhookDelivery, on_delete=models.PROTECT, related_name="deferral"
    )
    due_at = models.DateTimeField()
    state = models.CharField(
        max_length=10, choices=DeferralState.choices, default=DeferralState.PENDING
    )
    request = models.ForeignKey(
        ErasureRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "subject"],
                condition=Q(state="pending"),
                name="webhook_deferral_one_pending_per_subject",
            ),
            models.CheckConstraint(
                condition=Q(state__in=DeferralState.values), name="webhook_deferral_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="deferral_due_idx")
        ]

    def __str__(self) -> str:
        return f"deferred erasure {self.pk} ({self.state}, due {self.due_at:%Y-%m-%d %H:%M})"
