"""The request page's state changes: what each does, said before it is done.

Approve, cancel and retry are confirmed on a page of their own that states the
consequence ("Approve: erase 1,204 items in 3 namespaces; this cannot be undone") and takes
an optional comment for the audit event; hold, release, extend, pause and resume take a
reason. `actions_for` is what the case file offers a person: only what they may do now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.urls import reverse

from erasure.lifecycle import (
    RequestStatus,
    can_approve,
    can_cancel,
    can_extend,
    can_hold,
    can_release,
    can_retry,
)
from erasure.models import ErasureRequest, ItemOutcome
from erasure.services.requests import (
    MAX_REASON_LENGTH,
    request_approve,
    request_cancel,
    request_extend_deadline,
    request_hold,
    request_pause_deadline,
    request_release,
    request_resume_deadline,
    request_retry,
)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=MAX_REASON_LENGTH,
        help_text="Required; recorded in the audit trail.",
    )


class ExtendForm(ReasonForm):
    due_at = forms.DateTimeField(label="New deadline", help_text="UTC, e.g. 2026-12-31 17:00.")

    field_order = ["due_at", "reason"]


class CommentForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Comment (optional)",
        help_text="Recorded in the audit trail with your name.",
    )


class ApproveEmptyForm(CommentForm):
    confirm_nothing_mapped = forms.BooleanField(
        required=True,
        label="I understand that nothing will be erased",
        error_messages={
            "required": "Tick the box: this request erases nothing, and approving it records "
            "that nothing was mapped to the subject."
        },
    )

    field_order = ["confirm_nothing_mapped", "comment"]


@dataclass(frozen=True)
class ConfirmedAction:
    """A state change of the request page that shows its consequence and asks for a
    confirmation (and an optional comment) before it is made."""

    permission: str
    title: str
    submit: str
    done: str
    service: Any
    # The service's keyword for the optional comment.
    comment_as: str = "comment"


CONFIRMED_ACTIONS = {
    "approve": ConfirmedAction(
        "erasure.approve_erasurerequest",
        "Approve the erasure",
        "Approve and erase",
        "approved",
        request_approve,
    ),
    "cancel": ConfirmedAction(
        "erasure.cancel_erasurerequest",
        "Cancel the request",
        "Cancel the request",
        "cancelled",
        request_cancel,
        comment_as="reason",
    ),
    "retry": ConfirmedAction(
        "erasure.retry_erasurerequest",
        "Send the failed items again",
        "Send the failed items again",
        "sent again (its failed items only)",
        request_retry,
    ),
}


def items_in(total: int, namespaces: int) -> str:
    return (
        f"{total:,} item{'' if total == 1 else 's'} in {namespaces} "
        f"namespace{'' if namespaces == 1 else 's'}"
    )


def consequence(action: str, request: ErasureRequest, counts: dict[str, int], namespaces: int):
    """What an action will do, as its confirmation states it: (sentence, notes)."""
    total = counts["total"]
    if action == "approve":
        if not total:
            return (
                "Approve: no item is mapped to this subject, so nothing will be erased. The "
                "request will complete, and its certificate will say that nothing was mapped.",
                [],
            )
        notes = [
            "Items registered for the subject before the erasure starts are erased too.",
        ]
        if request.grace_seconds:
            notes.insert(
                0,
                f"The erasure starts after a grace period of {request.grace_seconds / 3600:g} "
                "hours; until then the request can still be cancelled.",
            )
        return (
            f"Approve: erase {items_in(total, namespaces)}; this cannot be undone.",
            notes,
        )
    if action == "cancel":
        return (
            "Cancel: nothing will be erased for this request, and it cannot be reopened; a new "
            "request would have to be filed.",
            ["The subject's raw key, kept while the request is open, is discarded."],
        )
    failed = counts[ItemOutcome.FAILED]
    if request.status == RequestStatus.RUNNING:
        return (
            "Retry: restart this stuck erasure where it stopped; items that already have an "
            "outcome are not sent again.",
            [],
        )
    return (
        f"Retry: send the {failed:,} failed item{'' if failed == 1 else 's'} again (only "
        "those); items already erased are not touched.",
        [],
    )


@dataclass(frozen=True)
class ReasonAction:
    permission: str
    title: str
    help: str
    done: str
    service: Any
    form: type[forms.Form] = ReasonForm


# The request page's state changes that take a reason, by the last part of their URL.
REASON_ACTIONS = {
    "hold": ReasonAction(
        "erasure.hold_erasurerequest",
        "Place a legal hold",
        "Nothing more is sent for this request until the hold is released.",
        "placed on hold",
        request_hold,
    ),
    "release": ReasonAction(
        "erasure.hold_erasurerequest",
        "Release the legal hold",
        "The request goes back to where it was; an approved or running one is carried out "
        "again from what is left.",
        "released from its hold",
        request_release,
    ),
    "pause": ReasonAction(
        "erasure.extend_erasurerequest",
        "Pause the deadline",
        "The deadline's clock stops (execution goes on); resuming moves the deadline by the "
        "time it was paused.",
        "given a paused deadline",
        request_pause_deadline,
    ),
    "resume": ReasonAction(
        "erasure.extend_erasurerequest",
        "Resume the deadline",
        "The deadline moves later by the time it was paused.",
        "given its deadline clock back",
        request_resume_deadline,
    ),
    "extend": ReasonAction(
        "erasure.extend_erasurerequest",
        "Extend the deadline",
        "GDPR allows at most three months from receipt in all, CCPA 90 days; the data "
        "subject must be told of the extension and why.",
        "given a later deadline",
        request_extend_deadline,
        ExtendForm,
    ),
}


# The actions' element ids, which browser tests and people's scripts rely on.
ACTION_IDS = {
    "extend": "extend-deadline",
    "pause": "pause-deadline",
    "resume": "resume-deadline",
}


def actions_for(user: Any, obj: ErasureRequest, counts: dict[str, int], namespaces: int) -> list:
    """The actions this person may take on this request now, each with what it does. The
    page offers nothing its viewer would be refused."""
    actions = []

    def offer(name: str, label: str, permission: str, allowed: bool, primary: bool = False):
        if allowed and user.has_perm(permission):
            url = reverse(f"admin:erasure_erasurerequest_{name}", args=[obj.pk])
            actions.append(
                {
                    "id": ACTION_IDS.get(name, f"{name}-request"),
                    "label": label,
                    "url": url,
                    "primary": primary,
                    "consequence": (
                        consequence(name, obj, counts, namespaces)[0]
                        if name in CONFIRMED_ACTIONS
                        else REASON_ACTIONS[name].help
                    ),
                }
            )

    offer("approve", "Approve…", "erasure.approve_erasurerequest", can_approve(obj), True)
    offer("retry", "Retry failed items…", "erasure.retry_erasurerequest", can_retry(obj))
    offer("cancel", "Cancel request…", "erasure.cancel_erasurerequest", can_cancel(obj))
    offer("hold", "Place legal hold…", "erasure.hold_erasurerequest", can_hold(obj))
    offer("release", "Release hold…", "erasure.hold_erasurerequest", can_release(obj))
    if can_extend(obj):
        offer("extend", "Extend deadline…", "erasure.extend_erasurerequest", True)
        paused = obj.deadline_paused_at is not None
        offer("resume", "Resume deadline…", "erasure.extend_erasurerequest", paused)
        offer("pause", "Pause deadline…", "erasure.extend_erasurerequest", not paused)
    return actions
