"""The retired chain's `hash` keeps its uniqueness where it is set, without indexing the NULL
of every new event or keeping a LIKE index on it (both sat on the append path)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("erasure", "0009_audit_log"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("hash__isnull", False)),
                fields=("hash",),
                name="auditevent_chain_hash_unique",
            ),
        ),
    ]
