"""Helpers shared by the integration tests: writing Iceberg tables with
PyIceberg, and comparing what townlake returns with PyIceberg's own read."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import struct
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import psycopg
import pyarrow as pa
from psycopg import sql
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table


@dataclass
class Lake:
    """One Iceberg warehouse as seen from both sides: the PyIceberg catalog
    that writes it and the townlake foreign server that reads it."""

    kind: str            # "local" or "s3"
    server: str          # foreign server name (= catalog name)
    catalog: SqlCatalog
    base_location: str   # tables of this test database live under here

    def create_table(self, namespace: str, name: str, schema: Schema,
                     partition_spec: PartitionSpec | None = None) -> Table:
        self.catalog.create_namespace_if_not_exists(namespace)
        ident = f"{namespace}.{name}"
        if self.catalog.table_exists(ident):
            self.catalog.purge_table(ident)
        kwargs = {"partition_spec": partition_spec} if partition_spec else {}
        return self.catalog.create_table(
            ident, schema, location=f"{self.base_location}/{namespace}/{name}", **kwargs)

    def pg_schema(self, namespace: str) -> str:
        """The Postgres schema that holds this lake's foreign tables for a namespace."""
        return f"{self.kind}_{namespace}"

    def import_table(self, conn: psycopg.Connection, namespace: str, name: str) -> str:
        """IMPORT FOREIGN SCHEMA ... LIMIT TO (name); returns the qualified name."""
        schema = self.pg_schema(namespace)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP FOREIGN TABLE IF EXISTS {}.{}").format(
            sql.Identifier(schema), sql.Identifier(name)))
        conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA {} LIMIT TO ({}) FROM SERVER {} INTO {}").format(
            sql.Identifier(namespace), sql.Identifier(name),
            sql.Identifier(self.server), sql.Identifier(schema)))
        return f'"{schema}"."{name}"'


# ---------------------------------------------------------------- comparing

def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _nested_to_plain(value: Any, arrow_type: pa.DataType | None) -> Any:
    """Arrow nested values as the JSON townlake should produce: maps become
    objects, bytes and dates become strings."""
    if value is None:
        return None
    if arrow_type is not None and pa.types.is_map(arrow_type):
        return {str(k): _nested_to_plain(v, arrow_type.item_type) for k, v in value}
    if arrow_type is not None and pa.types.is_struct(arrow_type):
        return {f.name: _nested_to_plain(value.get(f.name), f.type) for f in arrow_type}
    if arrow_type is not None and (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)):
        return [_nested_to_plain(v, arrow_type.value_type) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.time, uuid.UUID)):
        return str(value)
    return value


def normalise(value: Any, arrow_type: pa.DataType | None = None, from_arrow: bool = False) -> Any:
    """Bring a Postgres value and an Arrow value of the same Iceberg field to
    one comparable form. `arrow_type` is the Iceberg side's Arrow type."""
    if value is None:
        return None
    if arrow_type is not None and pa.types.is_nested(arrow_type):
        # Postgres gives jsonb (already dicts/lists); Arrow gives its own shapes.
        plain = _nested_to_plain(value, arrow_type) if from_arrow else value
        return _canonical_json(_json_numbers(plain))
    if arrow_type is not None and pa.types.is_floating(arrow_type) and arrow_type.bit_width == 32:
        return _float32(float(value))
    if isinstance(value, decimal.Decimal):
        return value.normalize(decimal.Context(prec=100))  # the default 28 digits would round
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, bytes) and arrow_type is not None and isinstance(arrow_type, pa.UuidType):
        return uuid.UUID(bytes=value)
    return value


def _json_numbers(value: Any) -> Any:
    """JSON has one number type: compare ints and floats as floats."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    return value


def _sort_key(row: Sequence[Any]) -> tuple:
    return tuple((v is None, type(v).__name__, repr(v)) for v in row)


def sort_rows(rows: Iterable[tuple]) -> list[tuple]:
    """The order pg_rows and arrow_rows use (any total order works for comparing)."""
    return sorted(rows, key=_sort_key)


def arrow_rows(table: pa.Table, columns: Sequence[str]) -> list[tuple]:
    """Rows of `columns` from an Arrow table, normalised and sorted."""
    types = [table.schema.field(c).type for c in columns]
    data = [table.column(c).to_pylist() for c in columns]
    rows = [tuple(normalise(v, t, from_arrow=True) for v, t in zip(values, types)) for values in zip(*data)] if columns else []
    return sorted(rows, key=_sort_key)


def pg_rows(conn: psycopg.Connection, query: str | sql.Composable, params: Any = None,
            arrow_types: Sequence[pa.DataType | None] | None = None) -> list[tuple]:
    """Rows of a query, normalised (using the Arrow types of the same columns) and sorted."""
    rows = conn.execute(query, params).fetchall()
    if arrow_types is None:
        arrow_types = [None] * (len(rows[0]) if rows else 0)
    return sorted((tuple(normalise(v, t) for v, t in zip(row, arrow_types)) for row in rows),
                  key=_sort_key)


def assert_same_rows(actual: list[tuple], expected: list[tuple], what: str = "") -> None:
    """Row-for-row equality of two sorted row lists, with a readable diff."""
    if actual == expected:
        return
    def short(rows):  # long values (100k-character strings) would bury the diff
        return [tuple(repr(v)[:120] for v in r) for r in rows]

    missing = short([r for r in expected if r not in actual][:5])
    extra = short([r for r in actual if r not in expected][:5])
    raise AssertionError(
        f"{what}: {len(actual)} rows, expected {len(expected)}\n"
        f"  first expected rows missing: {missing}\n"
        f"  first unexpected rows: {extra}")


def compare_query(conn: psycopg.Connection, table: Table, foreign_table: str,
                  columns: Sequence[str], where: str = "", row_filter: Any = None,
                  snapshot_id: int | None = None, params: Any = None) -> int:
    """SELECT columns FROM foreign_table WHERE where  vs  PyIceberg's scan with
    the same filter; returns the number of rows compared."""
    scan_args: dict[str, Any] = {"selected_fields": tuple(columns) or ("*",)}
    if row_filter is not None:
        scan_args["row_filter"] = row_filter
    if snapshot_id is not None:
        scan_args["snapshot_id"] = snapshot_id
    expected_table = table.scan(**scan_args).to_arrow()
    expected = arrow_rows(expected_table, columns)
    select_list = ", ".join(f'"{c}"' for c in columns)
    query = f"SELECT {select_list} FROM {foreign_table}" + (f" WHERE {where}" if where else "")
    actual = pg_rows(conn, query, params, [expected_table.schema.field(c).type for c in columns])
    assert_same_rows(actual, expected, query)
    return len(expected)


# ---------------------------------------------------------------- EXPLAIN

def explain(conn: psycopg.Connection, query: str, analyze: bool = False) -> str:
    options = "ANALYZE, " if analyze else ""
    rows = conn.execute(f"EXPLAIN ({options}VERBOSE) {query}").fetchall()
    return "\n".join(r[0] for r in rows)


def data_files_line(plan: str) -> tuple[int, int]:
    """(planned, skipped) from the `Data Files: N planned, M skipped` line."""
    import re
    match = re.search(r"Data Files: (\d+) planned, (\d+) skipped", plan)
    assert match, f"no 'Data Files:' line in EXPLAIN output:\n{plan}"
    return int(match.group(1)), int(match.group(2))


def data_file_paths(table: Table, row_filter: Any = None, snapshot_id: int | None = None) -> list[str]:
    """Data files PyIceberg plans for a scan (its own pruning applied)."""
    args: dict[str, Any] = {}
    if row_filter is not None:
        args["row_filter"] = row_filter
    if snapshot_id is not None:
        args["snapshot_id"] = snapshot_id
    return [task.file.file_path for task in table.scan(**args).plan_files()]


# ---------------------------------------------------------------- errors

def expect_error(conn: psycopg.Connection, statement: str, *fragments: str,
                 forbidden: Iterable[str] = ()) -> str:
    """Run a statement that must fail with a Postgres ERROR mentioning every
    fragment (case-insensitive); then prove the backend is alive with SELECT 1
    on the same connection. Returns the message."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.QueryCanceled as exc:
        raise AssertionError(f"{statement!r} was cancelled (timeout), not a clear error: {exc}")
    except psycopg.Error as exc:
        message = str(exc)  # includes DETAIL and HINT lines
    else:
        raise AssertionError(f"{statement!r} succeeded; expected an ERROR")
    assert not conn.closed and not conn.broken, f"connection lost after {statement!r}: {message}"
    assert conn.execute("SELECT 1").fetchone() == (1,)
    assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == pid, "backend restarted"
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in error: {message}"
    for secret in forbidden:
        assert secret not in message, f"secret leaked in error: {message}"
    return message
