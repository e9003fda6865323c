"""Demo instances registered before the emulator left ``engines/`` start ``python -m emulator``."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

OLD = "python -m engines.emulator"
NEW = "python -m emulator"


def forward(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    instance = apps.get_model("console", "Instance")
    instance.objects.filter(launch_executable=OLD).update(launch_executable=NEW)


def backward(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    instance = apps.get_model("console", "Instance")
    instance.objects.filter(launch_executable=NEW).update(launch_executable=OLD)


class Migration(migrations.Migration):
    dependencies = [("console", "0006_hash_rest_tokens")]
    operations = [migrations.RunPython(forward, backward)]
