"""Move the plain-text REST tokens of DRF's authtoken table to knox's hashed tokens.

A database from before this migration holds each user's token in clear in
``authtoken_token`` (rest_framework.authtoken, no longer installed). Each one becomes a knox
row holding only its digest, so clients keep working with the key they have, and the plain
row is deleted. A database that never had the table has nothing to move.
"""

import hashlib

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

PLAIN_TABLE = "authtoken_token"
TOKEN_KEY_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH


def digest(key: str) -> str:
    """knox.crypto.hash_token with knox's default SECURE_HASH_ALGORITHM (SHA-512)."""
    return hashlib.sha512(key.encode("utf-8")).hexdigest()


def hash_plain_tokens(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    connection = schema_editor.connection
    if PLAIN_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {PLAIN_TABLE}")
        rows = cursor.fetchall()
    AuthToken.objects.bulk_create(
        AuthToken(digest=digest(key), token_key=key[:TOKEN_KEY_LENGTH], user_id=user_id)
        for key, user_id in rows
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PLAIN_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0005_instance_pinned_host_ram"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(hash_plain_tokens, migrations.RunPython.noop)]
