"""Write the demo's Iceberg table billing.usage into the lake_local catalog.

PyIceberg writes it (until townlake can write Iceberg itself) into the
catalog tables the extension created, so townlake sees it at once. Three
appends of ten days each give the table three snapshots for time travel.
Does nothing if the table already exists.
"""

import argparse
import datetime as dt
import decimal
import random
import urllib.parse

import psycopg
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DecimalType, LongType, NestedField, StringType, TimestamptzType

TABLE = "billing.usage"
START = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
DAYS_PER_APPEND = 10
APPENDS = 3
ACCOUNTS = 200
# product -> price per unit
PRODUCTS = {"compute": decimal.Decimal("0.0400"), "storage": decimal.Decimal("0.0050"),
            "egress": decimal.Decimal("0.0900"), "queries": decimal.Decimal("0.0012")}

SCHEMA = Schema(
    NestedField(1, "account_id", LongType(), required=True),
    NestedField(2, "ts", TimestamptzType(), required=True),
    NestedField(3, "product", StringType(), required=True),
    NestedField(4, "units", LongType(), required=True),
    NestedField(5, "cost", DecimalType(12, 4), required=True),
)
SPEC = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake")
    parser.add_argument("--rows", type=int, default=100_000)
    return parser.parse_args()


def usage_rows(rng: random.Random, first_day: int, days: int, count: int) -> list[dict]:
    rows = []
    for _ in range(count):
        product = rng.choice(list(PRODUCTS))
        units = rng.randrange(1, 5000)
        ts = START + dt.timedelta(days=first_day, seconds=rng.randrange(days * 86400))
        rows.append({"account_id": rng.randrange(1, ACCOUNTS + 1), "ts": ts, "product": product,
                     "units": units, "cost": PRODUCTS[product] * units})
    return rows


def main():
    args = parse_args()
    with psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db) as conn:
        warehouse = conn.execute("SHOW townlake.warehouse").fetchone()[0]
    options = urllib.parse.quote("-csearch_path=lake")
    catalog = SqlCatalog("lake_local", warehouse=warehouse,
                         uri=f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/{args.db}?options={options}")
    if catalog.table_exists(TABLE):
        print(f"{TABLE} already exists; leaving it as it is")
        return
    catalog.create_namespace_if_not_exists("billing")
    table = catalog.create_table(TABLE, SCHEMA, partition_spec=SPEC)
    rng = random.Random(2024)
    per_append = args.rows // APPENDS
    for number in range(APPENDS):
        rows = usage_rows(rng, number * DAYS_PER_APPEND, DAYS_PER_APPEND, per_append)
        table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
        print(f"appended {len(rows)} rows (snapshot {table.current_snapshot().snapshot_id})")
    catalog.engine.dispose()


if __name__ == "__main__":
    main()
