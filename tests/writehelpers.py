"""Helpers for the tests of tables that townlake writes: what townlake's own
SELECT returns compared with PyIceberg's scan and with DuckDB's read_parquet
over the live data files."""

from __future__ import annotations

import datetime as dt
import decimal
import struct
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, Sequence

import duckdb
import psycopg
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from lakehelpers import assert_same_rows, sort_rows


def column_kinds(conn: psycopg.Connection, relation: str) -> dict[str, str]:
    """Column name -> Postgres type name (format_type) of a foreign table."""
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (relation,)).fetchall()
    return dict(rows)


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def canonical(value: Any, kind: str) -> Any:
    """One comparable form for a value of a column of Postgres type `kind`,
    whichever side (psycopg, PyIceberg's Arrow, DuckDB's Arrow) produced it."""
    if value is None:
        return None
    if kind in ("real", "double precision"):
        value = float(value)
        if value != value:
            return "NaN"  # NaN equals nothing, not even itself
        return _float32(value) if kind == "real" else value
    if kind.startswith("numeric"):
        return decimal.Decimal(value).normalize()
    if kind == "uuid":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return uuid.UUID(bytes=bytes(value))
        return uuid.UUID(str(value))
    if kind == "bytea":
        return bytes(value)
    if kind == "timestamp with time zone":
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def canonical_rows(rows: Sequence[Sequence[Any]], kinds: Sequence[str]) -> list[tuple]:
    return sort_rows(tuple(canonical(v, k) for v, k in zip(row, kinds)) for row in rows)


def _select_item(column: str, kind: str) -> str:
    # json and jsonb are Iceberg strings: compare their text
    return f'"{column}"::text' if kind in ("json", "jsonb") else f'"{column}"'


def townlake_rows(conn: psycopg.Connection, relation: str, columns: Sequence[str],
                  kinds: dict[str, str]) -> list[tuple]:
    select = ", ".join(_select_item(c, kinds[c]) for c in columns)
    rows = conn.execute(f"SELECT {select} FROM {relation}").fetchall()
    return canonical_rows(rows, [kinds[c] for c in columns])


def arrow_table_rows(table: pa.Table, columns: Sequence[str], kinds: dict[str, str]) -> list[tuple]:
    data = [table.column(c).to_pylist() for c in columns]
    return canonical_rows(list(zip(*data)) if columns else [], [kinds[c] for c in columns])


def load(catalog: SqlCatalog, namespace: str, name: str) -> Table:
    """The table as the catalog has it now (never a cached object)."""
    return catalog.load_table(f"{namespace}.{name}")


def data_files(table: Table) -> list:
    """DataFile entries of the current snapshot, read from its manifests
    (PyIceberg's inspect.files() cannot build its table when a uuid column
    has bounds, so the manifests are read directly)."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return []
    files = []
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            files.append(entry.data_file)
    return files


def referenced_data_files(table: Table) -> set[str]:
    """Paths of the data files that any snapshot of the table still uses."""
    paths = set()
    for snapshot in table.snapshots():
        for manifest in snapshot.manifests(table.io):
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                paths.add(entry.data_file.file_path)
    return paths


def live_data_files(table: Table) -> list[str]:
    """Paths of the data files of the current snapshot; asserts there are no
    delete files (DuckDB's read_parquet over the data files is then complete)."""
    files = data_files(table)
    contents = {int(f.content) for f in files}
    assert contents <= {0}, f"table has delete files (content {contents}): DuckDB check invalid"
    return [f.file_path for f in files]


def local_path(location: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlparse(location).path) if location.startswith("file:") else location


def duckdb_rows(table: Table, columns: Sequence[str], kinds: dict[str, str]) -> list[tuple]:
    files = [local_path(f) for f in live_data_files(table)]
    if not files:
        return []
    select = ", ".join(f'"{c}"' for c in columns)
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        arrow = db.execute(f"SELECT {select} FROM read_parquet(?, union_by_name = true, hive_partitioning = false)",
                           [files]).to_arrow_table()
    return arrow_table_rows(arrow, columns, kinds)


def assert_readers_agree(conn: psycopg.Connection, catalog: SqlCatalog, namespace: str, name: str,
                         relation: str, columns: Sequence[str] | None = None,
                         use_duckdb: bool = True) -> int:
    """townlake's SELECT == PyIceberg's scan (== DuckDB over the live files).
    Returns the number of rows."""
    kinds = column_kinds(conn, relation)
    columns = list(columns or kinds)
    ours = townlake_rows(conn, relation, columns, kinds)
    table = load(catalog, namespace, name)
    theirs = arrow_table_rows(table.scan(selected_fields=tuple(columns)).to_arrow(), columns, kinds)
    assert_same_rows(ours, theirs, f"{relation} vs PyIceberg")
    if use_duckdb:
        duck = duckdb_rows(table, columns, kinds)
        assert_same_rows(ours, duck, f"{relation} vs DuckDB read_parquet")
    return len(ours)


def snapshots(conn: psycopg.Connection, relation: str) -> list[tuple]:
    """(snapshot_id, parent_id, operation, summary) oldest first."""
    return conn.execute(
        "SELECT snapshot_id, parent_id, operation, summary FROM lake.snapshots(%s::regclass)",
        (relation,)).fetchall()


def snapshot_count(conn: psycopg.Connection, relation: str) -> int:
    return conn.execute("SELECT count(*) FROM lake.snapshots(%s::regclass)", (relation,)).fetchone()[0]


def parquet_files_on_disk(location: str) -> set[str]:
    """Every .parquet file under a local table location."""
    root = Path(local_path(location))
    return {str(p) for p in root.rglob("*.parquet")} if root.exists() else set()


def function_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT count(*) > 0 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                        "WHERE n.nspname = 'lake' AND p.proname = %s", (name,)).fetchone()[0]
