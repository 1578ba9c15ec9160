"""Every role reads the scans, re-checks and replays (erasure.roles.COMPLETENESS_READ)."""

from django.db import migrations

GRANTS = [
    ("erasure", "view_namespacescan"),
    ("erasure", "view_recheck"),
    ("erasure", "view_replay"),
]
ROLES = ["Compliance officer", "Approver", "Auditor"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in GRANTS
    ]
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(
        content_type__app_label="erasure", codename__in=[c for _, c in GRANTS]
    )
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("erasure", "0014_items_discovered")]

    operations = [migrations.RunPython(grant, revoke)]
