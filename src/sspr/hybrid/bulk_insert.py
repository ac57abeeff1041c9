"""Inserting many rows with one prepared statement.

`bulk_create` assembles one SQL text holding every row's placeholders, which for a page of a
thousand synced users costs more than the database's work. Here the statement is built once
and the rows go through the driver's `executemany`; each value is still prepared by its own
model field, so what lands in the table is what the ORM would have written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin


def insert_rows(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Insert `objects` (unsaved, their primary key set unless it is generated); their
    generated keys are not read back."""
    if not objects:
        return
    columns = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, AutoFieldMixin))
    ]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the model
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in columns),
        ", ".join(["%s"] * len(columns)),
    )
    # Most columns hold the same object on every row (the tenant, flags, empty strings):
    # preparing a value costs more than the insert, so a repeat reuses the last preparation.
    last: list[tuple[object, Any]] = [(_NOTHING, None)] * len(columns)
    rows: list[list[Any]] = []
    for obj in objects:
        row: list[Any] = []
        for i, f in enumerate(columns):
            raw = f.pre_save(obj, add=True)
            seen, prepared = last[i]
            if raw is not seen:
                prepared = f.get_db_prep_save(raw, connection)
                last[i] = (raw, prepared)
            row.append(prepared)
        rows.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


_NOTHING = object()
