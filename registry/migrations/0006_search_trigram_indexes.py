"""Trigram indexes for the dashboard's text search (issue 6), on PostgreSQL only.

`icontains` on PostgreSQL is `UPPER(column::text) LIKE UPPER('%term%')`; a GIN index with `gin_trgm_ops` on
that same expression answers it without reading every row. With 100,000 systems a search went from a scan of
every registration joined to its system to a few index scans (bench/dashboard.py). Other databases (the
SQLite used for quick local runs) keep scanning, which is fine at their size.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = [
    ("registry_aisystem_name_trgm", "registry_aisystem", "name"),
    ("registry_aisystem_purpose_trgm", "registry_aisystem", "purpose"),
    ("registry_aisystem_vendor_trgm", "registry_aisystem", "vendor"),
    ("registry_organization_name_trgm", "registry_organization", "name"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_registration_overview_index"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
