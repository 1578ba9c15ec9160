"""Output serializers shared by several feature modules of the API."""

from __future__ import annotations

from rest_framework import serializers

from erasure.lifecycle import RequestStatus
from erasure.models import ErasureRequest, Regulation, RequestSource
from erasure.selectors.requests import request_outcome_counts


class OutcomeCountsField(serializers.DictField):
    """A request's items per outcome (and `total`), read by the selector in one query.
    (A field's docstring does not reach the schema; a serializer's would.)"""

    child = serializers.IntegerField()

    def get_attribute(self, instance: ErasureRequest) -> dict[str, int]:
        return request_outcome_counts(request=instance)


# A request, as every operation on one answers it (GET, filing, state changes).
class RequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RequestStatus.values)
    # A field named like Field.source in the stubs; DRF collects declared fields by name.
    source = serializers.ChoiceField(choices=RequestSource.values)  # type: ignore[assignment]
    regulation = serializers.ChoiceField(choices=Regulation.values)
    subject_hash = serializers.CharField(source="subject.key_hash")
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    auto_approved = serializers.BooleanField()
    last_error = serializers.CharField(allow_blank=True)
    stuck_since = serializers.DateTimeField(allow_null=True)
    scheduled_for = serializers.DateTimeField(
        allow_null=True, help_text="While `scheduled`: when its grace period ends."
    )
    original_due_at = serializers.DateTimeField(
        allow_null=True, help_text="The legal deadline, when `due_at` was extended or paused."
    )
    deadline_paused_at = serializers.DateTimeField(allow_null=True)
    hold_reason = serializers.CharField(help_text="Why it is on hold; empty when not.")
    counts = OutcomeCountsField()
