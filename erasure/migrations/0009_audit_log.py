"""The Merkle audit log: leaf index and hash on events, the tree's stored nodes, signed
checkpoints and the keys that signed them; and the triggers that keep all of it immutable.

An event may change once, and only by the sequencer's fill of `leaf_index` and `leaf_hash`
(both NULL before, both set after, nothing else touched). An event cannot be inserted with
them set. Nodes, checkpoints and keys never change. TRUNCATE is refused on all four tables
(a statement trigger): the service's role cannot empty the log, and neither can anyone else
without first dropping the trigger, which only the tables' owner can do (README, "Database
roles").
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
DROP TRIGGER IF EXISTS erasure_auditevent_no_update_delete ON erasure_auditevent;

CREATE FUNCTION erasure_audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.leaf_index IS NOT NULL OR NEW.leaf_hash IS NOT NULL THEN
            RAISE EXCEPTION 'an audit event enters the log through the sequencer only: '
                'insert it without leaf_index and leaf_hash'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
        AND OLD.leaf_index IS NULL AND OLD.leaf_hash IS NULL
        AND NEW.leaf_index IS NOT NULL AND NEW.leaf_hash IS NOT NULL
        AND (NEW.id, NEW.occurred_at, NEW.event_type, NEW.actor, NEW.request_id,
             NEW.subject_hash, NEW.details, NEW.prev_hash, NEW.hash)
            IS NOT DISTINCT FROM
            (OLD.id, OLD.occurred_at, OLD.event_type, OLD.actor, OLD.request_id,
             OLD.subject_hash, OLD.details, OLD.prev_hash, OLD.hash)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER erasure_auditevent_guard
    BEFORE INSERT OR UPDATE OR DELETE ON erasure_auditevent
    FOR EACH ROW EXECUTE FUNCTION erasure_audit_event_guard();
CREATE TRIGGER erasure_auditevent_no_truncate
    BEFORE TRUNCATE ON erasure_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION erasure_audit_append_only();

CREATE TRIGGER erasure_audittreenode_append_only
    BEFORE UPDATE OR DELETE ON erasure_audittreenode
    FOR EACH ROW EXECUTE FUNCTION erasure_audit_append_only();
CREATE TRIGGER erasure_audittreenode_no_truncate
    BEFORE TRUNCATE ON erasure_audittreenode
    FOR EACH STATEMENT EXECUTE FUNCTION erasure_audit_append_only();
CREATE TRIGGER erasure_auditcheckpoint_append_only
    BEFORE UPDATE OR DELETE ON erasure_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION erasure_audit_append_only();
CREATE TRIGGER erasure_auditcheckpoint_no_truncate
    BEFORE TRUNCATE ON erasure_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION erasure_audit_append_only();
CREATE TRIGGER erasure_auditsigningkey_append_only
    BEFORE UPDATE OR DELETE ON erasure_auditsigningkey
    FOR EACH ROW EXECUTE FUNCTION erasure_audit_append_only();
CREATE TRIGGER erasure_auditsigningkey_no_truncate
    BEFORE TRUNCATE ON erasure_auditsigningkey
    FOR EACH STATEMENT EXECUTE FUNCTION erasure_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS erasure_auditsigningkey_no_truncate ON erasure_auditsigningkey;
DROP TRIGGER IF EXISTS erasure_auditsigningkey_append_only ON erasure_auditsigningkey;
DROP TRIGGER IF EXISTS erasure_auditcheckpoint_no_truncate ON erasure_auditcheckpoint;
DROP TRIGGER IF EXISTS erasure_auditcheckpoint_append_only ON erasure_auditcheckpoint;
DROP TRIGGER IF EXISTS erasure_audittreenode_no_truncate ON erasure_audittreenode;
DROP TRIGGER IF EXISTS erasure_audittreenode_append_only ON erasure_audittreenode;
DROP TRIGGER IF EXISTS erasure_auditevent_no_truncate ON erasure_auditevent;
DROP TRIGGER IF EXISTS erasure_auditevent_guard ON erasure_auditevent;
DROP FUNCTION IF EXISTS erasure_audit_event_guard();
CREATE TRIGGER erasure_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON erasure_auditevent
    FOR EACH ROW EXECUTE FUNCTION erasure_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("erasure", "0008_namespace_created"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("tree_size", models.BigIntegerField(unique=True)),
                ("root_hash", models.BinaryField()),
                ("note", models.TextField(help_text="The signed note, exactly as published.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["tree_size"],
                "get_latest_by": "tree_size",
            },
        ),
        migrations.CreateModel(
            name="AuditSigningKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key_id",
                    models.CharField(help_text="The note key hint, 8 hex digits.", max_length=8),
                ),
                ("name", models.CharField(max_length=200)),
                ("verifier_key", models.CharField(max_length=300, unique=True)),
                ("first_used_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["first_used_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="AuditTreeNode",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "level",
                        "index",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.BigIntegerField()),
                ("hash", models.BinaryField()),
            ],
        ),
        migrations.AddField(
            model_name="auditevent",
            name="leaf_hash",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="leaf_index",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("leaf_index__isnull", True)),
                fields=["id"],
                name="auditevent_unsequenced",
            ),
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="key",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="checkpoints",
                to="erasure.auditsigningkey",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="event_type",
            field=models.CharField(
                choices=[
                    ("request.filed", "Request Filed"),
                    ("request.approved", "Request Approved"),
                    ("request.started", "Request Started"),
                    ("request.completed", "Request Completed"),
                    ("request.cancelled", "Request Cancelled"),
                    ("request.retried", "Request Retried"),
                    ("request.requeued", "Request Requeued"),
                    ("request.flagged_stuck", "Request Flagged Stuck"),
                    ("items.expanded", "Items Expanded"),
                    ("items.failed", "Items Failed"),
                    ("dispatch.recorded", "Dispatch Recorded"),
                    ("mappings.registered", "Mappings Registered"),
                    ("mappings.removed", "Mappings Removed"),
                    ("mappings.after_erasure", "Mappings After Erasure"),
                    ("aliases.registered", "Aliases Registered"),
                    ("api_key.created", "Api Key Created"),
                    ("api_key.revoked", "Api Key Revoked"),
                    ("subject.purged", "Subject Purged"),
                    ("namespace.mode_changed", "Namespace Mode Changed"),
                    ("request.scheduled", "Request Scheduled"),
                    ("request.deadline_extended", "Request Deadline Extended"),
                    ("request.deadline_paused", "Request Deadline Paused"),
                    ("request.deadline_resumed", "Request Deadline Resumed"),
                    ("request.held", "Request Held"),
                    ("request.released", "Request Released"),
                    ("webhook_source.changed", "Webhook Source Changed"),
                    ("webhook.unknown_subject", "Webhook Unknown Subject"),
                    ("webhook.deferred", "Webhook Deferred"),
                    ("webhook.deferral_cancelled", "Webhook Deferral Cancelled"),
                    ("export.created", "Export Created"),
                    ("namespace.created", "Namespace Created"),
                    ("certificate.downloaded", "Certificate Downloaded"),
                    ("evidence.downloaded", "Evidence Downloaded"),
                ],
                max_length=64,
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
