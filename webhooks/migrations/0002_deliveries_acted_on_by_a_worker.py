"""Deliveries are recorded by the view and acted upon by a worker: the row holds what the
worker needs (the action, the user id until it acts) and when it acted."""

from django.db import migrations, models

# Rows written before this migration were acted upon when received: their action follows
# from their outcome.
ACTION_OF_OLD_ROWS = """
UPDATE webhooks_webhookdelivery SET action = CASE
    WHEN outcome IN ('deferred', 'already_deferred') THEN 'defer'
    WHEN outcome IN ('deferral_cancelled', 'nothing_to_cancel') THEN 'cancel'
    ELSE 'file' END,
    processed_at = received_at
"""


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="action",
            field=models.CharField(
                choices=[
                    ("file", "File a request"),
                    ("defer", "Defer a request (deactivation)"),
                    ("cancel", "Cancel a deferral (reactivation)"),
                ],
                default="file",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="pending_user_id",
            field=models.TextField(
                blank=True,
                help_text="The provider's user id, kept only until a worker has acted on the "
                "delivery (then NULL): the raw key lives where an open request needs it.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="processed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="error",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.RunSQL(ACTION_OF_OLD_ROWS, migrations.RunSQL.noop),
        migrations.RemoveConstraint(
            model_name="webhookdelivery", name="webhook_delivery_outcome_valid"
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("received", "Received: waiting for a worker to act on it"),
                    ("filed", "Request filed"),
                    ("already_open", "The subject already had an open request"),
                    ("unknown_subject", "Ignored: no subject registered for the alias"),
                    ("deferred", "Deactivation: request deferred"),
                    ("already_deferred", "Deactivation: a deferred request was pending"),
                    ("deferral_cancelled", "Reactivation: deferred request cancelled"),
                    ("nothing_to_cancel", "Reactivation: the deferral was already settled"),
                    ("failed", "Failed: the worker could not act on it (see the error)"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    outcome__in=[
                        "received",
                        "filed",
                        "already_open",
                        "unknown_subject",
                        "deferred",
                        "already_deferred",
                        "deferral_cancelled",
                        "nothing_to_cancel",
                        "failed",
                    ]
                ),
                name="webhook_delivery_outcome_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(action__in=["file", "defer", "cancel"]),
                name="webhook_delivery_action_valid",
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(outcome="received"),
                fields=["id"],
                name="webhook_delivery_todo_idx",
            ),
        ),
    ]
