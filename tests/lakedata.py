"""Deterministic test data: Iceberg schemas, partition specs and Arrow rows."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import uuid

import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (BucketTransform, DayTransform, HourTransform,
                                  IdentityTransform, MonthTransform, TruncateTransform)
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType,
                             FixedType, FloatType, IntegerType, ListType, LongType, MapType,
                             NestedField, StringType, StructType, TimestampType,
                             TimestamptzType, TimeType, UUIDType)

UTC = dt.timezone.utc
WORDS = ["apple", "apricot", "banana", "cherry", "date", "elder", "fig", "grape", "o'neil", "ünïcode"]


def _optional(field_id: int, name: str, field_type) -> NestedField:
    return NestedField(field_id, name, field_type, required=False)


# ---------------------------------------------------------------- all types

ALL_TYPES_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    _optional(2, "c_bool", BooleanType()),
    _optional(3, "c_int", IntegerType()),
    _optional(4, "c_long", LongType()),
    _optional(5, "c_float", FloatType()),
    _optional(6, "c_double", DoubleType()),
    _optional(7, "c_decimal", DecimalType(10, 2)),
    _optional(8, "c_date", DateType()),
    _optional(9, "c_time", TimeType()),
    _optional(10, "c_ts", TimestampType()),
    _optional(11, "c_tstz", TimestamptzType()),
    _optional(12, "c_string", StringType()),
    _optional(13, "c_uuid", UUIDType()),
    _optional(14, "c_fixed", FixedType(4)),
    _optional(15, "c_binary", BinaryType()),
    _optional(16, "c_struct", StructType(_optional(17, "a", IntegerType()),
                                         _optional(18, "b", StringType()))),
    _optional(19, "c_list", ListType(20, LongType(), element_required=False)),
    _optional(21, "c_map", MapType(22, StringType(), 23, IntegerType(), value_required=False)),
)

# The Postgres type IMPORT FOREIGN SCHEMA must give each column.
ALL_TYPES_PG = {
    "id": "bigint", "c_bool": "boolean", "c_int": "integer", "c_long": "bigint",
    "c_float": "real", "c_double": "double precision", "c_decimal": "numeric(10,2)",
    "c_date": "date", "c_time": "time without time zone",
    "c_ts": "timestamp without time zone", "c_tstz": "timestamp with time zone",
    "c_string": "text", "c_uuid": "uuid", "c_fixed": "bytea", "c_binary": "bytea",
    "c_struct": "jsonb", "c_list": "jsonb", "c_map": "jsonb",
}
ALL_TYPES_COLUMNS = list(ALL_TYPES_PG)


def all_types_rows(first_id: int, count: int, seed: int) -> list[dict]:
    """Rows with every primitive; each optional column is NULL about 1 time in 8."""
    rng = random.Random(seed)
    rows = []
    for row_id in range(first_id, first_id + count):
        base = dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randrange(10 * 24 * 60),
                                                      microseconds=rng.randrange(10**6))
        row = {
            "id": row_id,
            "c_bool": rng.random() < 0.5,
            "c_int": rng.randrange(-1000, 1000),
            "c_long": rng.randrange(-(2**62), 2**62),
            "c_float": rng.uniform(-100, 100),
            "c_double": rng.uniform(-1e6, 1e6),
            "c_decimal": decimal.Decimal(rng.randrange(-10**8, 10**8)).scaleb(-2),
            "c_date": base.date(),
            "c_time": base.time(),
            "c_ts": base,
            "c_tstz": base.replace(tzinfo=UTC) + dt.timedelta(hours=rng.randrange(-12, 12)),
            "c_string": rng.choice(WORDS) + str(rng.randrange(100)),
            "c_uuid": uuid.UUID(int=rng.getrandbits(128)).bytes,
            "c_fixed": bytes(rng.getrandbits(8) for _ in range(4)),
            "c_binary": bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 12))),
            "c_struct": {"a": rng.randrange(100), "b": rng.choice(WORDS)},
            "c_list": [rng.randrange(1000) for _ in range(rng.randrange(0, 4))],
            "c_map": {rng.choice(WORDS): rng.randrange(10) for _ in range(rng.randrange(0, 3))},
        }
        for name in row:
            if name != "id" and rng.random() < 0.125:
                row[name] = None
        if row["c_map"] is not None:
            row["c_map"] = list(row["c_map"].items())
        rows.append(row)
    return rows


def append_rows(table, rows: list[dict]) -> None:
    """Append as one commit, typed by the table's schema (PyIceberg assigns
    its own field ids at create time, so the table's schema is the one to use)."""
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))


# ---------------------------------------------------------------- partitioned

EVENTS_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    _optional(2, "ts", TimestampType()),
    _optional(3, "tstz", TimestamptzType()),
    _optional(4, "d", DateType()),
    _optional(5, "category", StringType()),
    _optional(6, "n", IntegerType()),
    _optional(7, "amount", DecimalType(12, 2)),
)


def _spec(source_id: int, transform, name: str) -> PartitionSpec:
    return PartitionSpec(PartitionField(source_id=source_id, field_id=1000,
                                        transform=transform, name=name))


# table name -> partition spec (one transform each)
EVENT_SPECS = {
    "by_identity": _spec(5, IdentityTransform(), "category"),
    "by_day": _spec(3, DayTransform(), "tstz_day"),
    "by_month": _spec(4, MonthTransform(), "d_month"),
    "by_hour": _spec(2, HourTransform(), "ts_hour"),
    "by_bucket": _spec(1, BucketTransform(4), "id_bucket"),
    "by_truncate": _spec(5, TruncateTransform(3), "category_trunc"),
}

CATEGORIES = ["alpha", "alpine", "beta", "betamax", "gamma", None]


def event_rows(first_id: int, count: int, seed: int, start: dt.datetime, hours: int) -> list[dict]:
    """Events with timestamps spread over `hours` hours from `start`."""
    rng = random.Random(seed)
    rows = []
    for row_id in range(first_id, first_id + count):
        ts = start + dt.timedelta(seconds=rng.randrange(hours * 3600))
        rows.append({
            "id": row_id,
            "ts": ts,
            "tstz": ts.replace(tzinfo=UTC),
            "d": (ts + dt.timedelta(days=rng.randrange(0, 90))).date(),
            "category": rng.choice(CATEGORIES),
            "n": rng.randrange(100) if rng.random() > 0.1 else None,
            "amount": decimal.Decimal(rng.randrange(10**7)).scaleb(-2),
        })
    return rows


# ---------------------------------------------------------------- evolving

EVOLVING_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    _optional(2, "name", StringType()),
    _optional(3, "amount", LongType()),
)


def evolving_rows(first_id: int, count: int, columns: list[str]) -> list[dict]:
    rows = []
    for row_id in range(first_id, first_id + count):
        full = {"id": row_id, "name": f"n{row_id}", "label": f"n{row_id}",
                "amount": row_id * 10, "note": f"note {row_id}" if row_id % 3 else None}
        rows.append({c: full[c] for c in columns})
    return rows


# ---------------------------------------------------------------- calendar arithmetic

def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date; astronomical years
    (0 is 1 BC), so it covers what Python's datetime cannot (Postgres' and
    Iceberg's ranges)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def micros_from_civil(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
                      second: int = 0, micro: int = 0, offset_seconds: int = 0) -> int:
    """Microseconds since 1970-01-01 00:00 UTC of a wall-clock time at a UTC offset."""
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_seconds
    return seconds * 1_000_000 + micro
