"""PostgreSQL refuses UPDATE and DELETE on the audit trail.

TRUNCATE is left to privileges: the service's database role should not own the table in
production. (Test databases are emptied with TRUNCATE between tests.)
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION erasure_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % is not allowed on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER erasure_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON erasure_auditevent
    FOR EACH ROW EXECUTE FUNCTION erasure_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS erasure_auditevent_no_update_delete ON erasure_auditevent;
DROP FUNCTION IF EXISTS erasure_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("erasure", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
