"""The three role groups (viewer, operator, admin) that ``console.roles`` reads."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Written out rather than imported from console.roles: a migration must not change when
# the code it was written against does.
ROLE_GROUPS = ("viewer", "operator", "admin")


def create_groups(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        group.objects.get_or_create(name=name)


def delete_groups(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = (
        ("auth", "0012_alter_user_first_name_max_length"),
        ("console", "0001_initial"),
    )

    operations = (migrations.RunPython(create_groups, delete_groups),)
