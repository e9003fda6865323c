"""Seconds since the epoch as a SQL expression, for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Func, IntegerField, Value
from django.db.models.functions import Cast
from django.db.models.sql.compiler import SQLCompiler


class EpochSeconds(Func):
    """Whole seconds since 1970-01-01 UTC of a datetime column (fractions cut off)."""

    output_field = IntegerField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        # The format is a parameter: a literal "%s" in the SQL would read as a placeholder.
        seconds = Func(Value("%s"), *self.get_source_expressions(), function="strftime")
        return compiler.compile(Cast(seconds, IntegerField()))

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)
