"""Room on each page of the items table for updates to stay on it (HOT).

A claim changes no indexed column of an item, so with free space on its page PostgreSQL
updates it in place without touching any index.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("erasure", "0002_audit_append_only")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE erasure_erasureitem SET (fillfactor = 70)",
            "ALTER TABLE erasure_erasureitem RESET (fillfactor)",
        ),
    ]
