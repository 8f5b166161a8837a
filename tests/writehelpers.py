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


# Decimal's default context has 28 digits: normalising a decimal(38, s) in it
# would round both sides alike and hide a wrong last digit.
_EXACT = decimal.Context(prec=100)

# Temporal columns are compared as integers (days / microseconds since the
# Unix epoch, microseconds since midnight): exact, time-zone free, and defined
# for dates Python's datetime cannot hold (before year 1, after 9999).
TEMPORAL_KINDS = {"date": pa.int32(), "timestamp without time zone": pa.int64(),
                  "timestamp with time zone": pa.int64(), "time without time zone": pa.int64()}


def canonical(value: Any, kind: str) -> Any:
    """One comparable form for a value of a column of Postgres type `kind`,
    whichever side (psycopg, PyIceberg's Arrow, DuckDB's Arrow, Python source
    rows) produced it."""
    if value is None:
        return None
    if kind in ("real", "double precision"):
        # hex keeps what == loses: -0.0 vs 0.0, and NaN equals itself
        value = float(value)
        return (_float32(value) if kind == "real" else value).hex()
    if kind.startswith("numeric"):
        return decimal.Decimal(value).normalize(_EXACT)
    if kind in TEMPORAL_KINDS:
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            raise TypeError(f"{kind} values are compared as integers, got {value!r}")
        return int(value)
    if kind == "uuid":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return uuid.UUID(bytes=bytes(value))
        return uuid.UUID(str(value))
    if kind == "bytea":
        return bytes(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def canonical_rows(rows: Sequence[Sequence[Any]], kinds: Sequence[str]) -> list[tuple]:
    return sort_rows(tuple(canonical(v, k) for v, k in zip(row, kinds)) for row in rows)


def _select_item(column: str, kind: str) -> str:
    quoted = f'"{column}"'
    if kind in ("json", "jsonb"):
        return f"{quoted}::text"  # json and jsonb are Iceberg strings: compare their text
    if kind == "date":
        return f"{quoted} - DATE '1970-01-01'"
    if kind == "time without time zone":
        return f"(extract(epoch FROM {quoted}) * 1000000)::int8"
    if kind in TEMPORAL_KINDS:
        # days and time of day apart: extract(epoch) goes through float8 at the
        # far end of the range (its subtraction overflows) and loses digits
        utc = f"({quoted} AT TIME ZONE 'UTC')" if kind == "timestamp with time zone" else quoted
        return (f"(({utc}::date - DATE '1970-01-01')::int8 * 86400000000"
                f" + (extract(epoch FROM {utc}::time) * 1000000)::int8)")
    return quoted


def townlake_rows(conn: psycopg.Connection, relation: str, columns: Sequence[str],
                  kinds: dict[str, str]) -> list[tuple]:
    """Rows of any relation (the foreign table, or a heap table with the same
    column names) in the comparable form."""
    select = ", ".join(_select_item(c, kinds[c]) for c in columns)
    rows = conn.execute(f"SELECT {select} FROM {relation}").fetchall()
    return canonical_rows(rows, [kinds[c] for c in columns])


def _arrow_column(column: pa.ChunkedArray, kind: str) -> list:
    if kind in TEMPORAL_KINDS:
        if pa.types.is_timestamp(column.type) and column.type.unit != "us":
            column = column.cast(pa.timestamp("us", tz=column.type.tz))
        if pa.types.is_time(column.type) and column.type.unit != "us":
            column = column.cast(pa.time64("us"))
        column = column.cast(TEMPORAL_KINDS[kind])
    return column.to_pylist()


def arrow_table_rows(table: pa.Table, columns: Sequence[str], kinds: dict[str, str]) -> list[tuple]:
    data = [_arrow_column(table.column(c), kinds[c]) for c in columns]
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
                         use_duckdb: bool = True, *, source: str | Sequence[Sequence[Any]]) -> int:
    """townlake's SELECT, PyIceberg's scan and DuckDB's read_parquet over the
    live files each equal the source rows: a relation or query Postgres
    answers without townlake (a heap copy that received the same statements),
    or rows generated in Python in `columns` order. Returns the number of rows."""
    kinds = column_kinds(conn, relation)
    columns = list(columns or kinds)
    if isinstance(source, str):
        expected = townlake_rows(conn, source, columns, kinds)
    else:
        expected = canonical_rows(source, [kinds[c] for c in columns])
    ours = townlake_rows(conn, relation, columns, kinds)
    assert_same_rows(ours, expected, f"{relation} (townlake) vs source")
    table = load(catalog, namespace, name)
    theirs = arrow_table_rows(table.scan(selected_fields=tuple(columns)).to_arrow(), columns, kinds)
    assert_same_rows(theirs, expected, f"{relation}: PyIceberg vs source")
    if use_duckdb:
        duck = duckdb_rows(table, columns, kinds)
        assert_same_rows(duck, expected, f"{relation}: DuckDB read_parquet vs source")
    return len(expected)


def heap_copy(conn: psycopg.Connection, relation: str, heap: str) -> str:
    """A temporary heap table with the foreign table's columns (no rows)."""
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TEMP TABLE {heap} AS SELECT * FROM {relation} LIMIT 0")
    return heap


class Mirrored:
    """A foreign table and a heap table receiving the same statements: the
    heap is the source of truth for what the foreign table must hold.
    Statements name the table as {t}."""

    def __init__(self, conn: psycopg.Connection, relation: str, heap: str):
        self.conn, self.relation, self.heap = conn, relation, heap

    def execute(self, statement: str, params: Any = None) -> int:
        """Run on both; the row counts must agree. Returns the count."""
        ours = self.conn.execute(statement.format(t=self.relation), params).rowcount
        theirs = self.conn.execute(statement.format(t=self.heap), params).rowcount
        assert ours == theirs, f"{statement}: {ours} rows on the Iceberg table, {theirs} on the heap"
        return ours


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
