"""Fixtures for the integration tests.

The tests talk to the project cluster started by `make start` (127.0.0.1,
port $TOWNLAKE_PORT, default 5499, townlake preloaded). Each test module gets
its own database with `CREATE EXTENSION townlake`, dropped at the end. A moto
S3 server with authentication switched on runs on a free loopback port for the
whole session.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest
from psycopg import sql
from pyiceberg.catalog.sql import SqlCatalog

sys.path.insert(0, str(Path(__file__).parent))
from lakehelpers import Lake  # noqa: E402

PG_HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("TOWNLAKE_PORT", "5499"))
S3_REGION = "us-east-1"


def connect(dbname: str) -> psycopg.Connection:
    """Autocommit session in UTC, so timestamptz literals mean the same everywhere."""
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=dbname,
                           autocommit=True, options="-c TimeZone=UTC")


def catalog_uri(dbname: str) -> str:
    """SQLAlchemy URI for PyIceberg's SqlCatalog on the extension's own catalog tables."""
    options = urllib.parse.quote("-csearch_path=lake")
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{dbname}?options={options}"


# ---------------------------------------------------------------- Postgres

@pytest.fixture(scope="session")
def admin_conn():
    try:
        conn = connect("postgres")
    except psycopg.OperationalError as exc:
        pytest.exit(f"cannot reach the townlake cluster on {PG_HOST}:{PG_PORT} "
                    f"(run `make start`): {exc}", returncode=2)
    preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    if "townlake" not in preload:
        pytest.exit(f"the cluster on port {PG_PORT} does not preload townlake ({preload!r})", returncode=2)
    # scripts/test.sh exports the version it built for (PG): testing another
    # version's cluster would report a pass for the wrong server.
    wanted = os.environ.get("PG")
    major = conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()[0]
    if wanted and int(wanted) != major:
        pytest.exit(f"the cluster on port {PG_PORT} is PostgreSQL {major}, not {wanted} "
                    f"(TOWNLAKE_PORT names another version's cluster)", returncode=2)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def database(request, admin_conn):
    """A fresh database with the extension, private to one test module."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"tl_{module}_{uuid.uuid4().hex[:6]}"
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with connect(name) as conn:
        conn.execute("CREATE EXTENSION townlake")
    yield name
    admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def conn(database):
    with connect(database) as connection:
        yield connection


# ---------------------------------------------------------------- moto S3

@dataclass
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=S3_REGION,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key)

    def pyiceberg_properties(self) -> dict[str, str]:
        return {"s3.endpoint": self.endpoint, "s3.access-key-id": self.access_key_id,
                "s3.secret-access-key": self.secret_access_key, "s3.region": S3_REGION}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_http(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {url}")


# moto checks signatures only after this many unauthenticated requests; we
# spend exactly these on creating an IAM user with S3 rights and its key.
MOTO_SETUP_REQUESTS = 3


def _create_s3_user(endpoint: str) -> tuple[str, str]:
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=S3_REGION,
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="townlake-tests")
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="townlake-tests", PolicyName="s3-all",
                        PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="townlake-tests")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def start_moto(tmp_path_factory, setup_requests: int, name: str) -> tuple[subprocess.Popen, str]:
    """A moto server on a free loopback port that checks signatures after
    `setup_requests` unauthenticated ones; returns it and its endpoint once
    it answers. The caller terminates it."""
    moto = Path(sys.executable).parent / "moto_server"
    port = free_port()
    log = tmp_path_factory.mktemp(name) / "moto.log"
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(setup_requests))
    with open(log, "wb") as log_file:
        process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                                   env=env, stdout=log_file, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(f"{endpoint}/moto-api/", process)
    except BaseException:
        process.terminate()
        raise
    return process, endpoint


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A moto S3 API server on loopback that rejects wrong credentials."""
    process, endpoint = start_moto(tmp_path_factory, MOTO_SETUP_REQUESTS, "moto")
    try:
        key_id, secret = _create_s3_user(endpoint)
        yield S3Server(endpoint, key_id, secret)
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---------------------------------------------------------------- lakes

@pytest.fixture(scope="module")
def local_lake(conn, database):
    """The default server lake_local; this database's tables go to their own directory."""
    warehouse = conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0].rstrip("/")
    catalog = SqlCatalog("lake_local", uri=catalog_uri(database), warehouse=warehouse)
    base = f"{warehouse}/{database}"
    yield Lake("local", "lake_local", catalog, base)
    catalog.engine.dispose()
    if base.startswith("file://"):
        shutil.rmtree(urllib.parse.urlparse(base).path, ignore_errors=True)


S3_SERVER_NAME = "s3lake"


def create_s3_server(conn, name: str, s3: S3Server, warehouse: str, endpoint: str | None = None,
                     catalog_name: str | None = None, secret: str | None = None) -> None:
    """CREATE SERVER ... FOREIGN DATA WRAPPER iceberg plus a user mapping for us."""
    options = {"warehouse": warehouse, "s3_endpoint": endpoint or s3.endpoint,
               "s3_region": S3_REGION, "s3_path_style": "true", "s3_allow_http": "true"}
    if catalog_name:
        options["catalog_name"] = catalog_name
    conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER iceberg OPTIONS ({})").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v))
                           for k, v in options.items())))
    conn.execute(sql.SQL(
        "CREATE USER MAPPING FOR CURRENT_USER SERVER {} "
        "OPTIONS (s3_access_key_id {}, s3_secret_access_key {})").format(
            sql.Identifier(name), sql.Literal(s3.access_key_id),
            sql.Literal(secret or s3.secret_access_key)))


@pytest.fixture(scope="module")
def s3_lake(conn, database, s3_server):
    """Server s3lake on a bucket of its own in the moto server."""
    bucket = f"tl-{database}".replace("_", "-")[:63]
    s3_server.client().create_bucket(Bucket=bucket)
    warehouse = f"s3://{bucket}/wh"
    create_s3_server(conn, S3_SERVER_NAME, s3_server, warehouse)
    catalog = SqlCatalog(S3_SERVER_NAME, uri=catalog_uri(database), warehouse=warehouse,
                         **s3_server.pyiceberg_properties())
    yield Lake("s3", S3_SERVER_NAME, catalog, warehouse)
    catalog.engine.dispose()


@pytest.fixture(scope="module", params=["local", "s3"])
def lake(request) -> Lake:
    """Runs a test module once on local disk and once on the S3 server."""
    return request.getfixturevalue(f"{request.param}_lake")


@pytest.fixture(scope="module")
def write_ns(conn, database, local_lake) -> str:
    """A Postgres schema and an Iceberg namespace, both named after the module's
    database, for the tables that townlake creates on lake_local. townlake puts
    a table at <warehouse>/<namespace>/<table>, so these files land in the
    database's own directory, which local_lake removes afterwards."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(database)))
    return database


# ---------------------------------------------------------------- ClickHouse

REPO_DIR = Path(__file__).resolve().parent.parent


@dataclass
class ClickHouse:
    """The private ClickHouse server (scripts/clickhouse.sh), spoken to over
    its HTTP interface: the tests' independent oracle."""
    url: str
    host: str
    port: int
    # The password-protected user scripts/clickhouse.sh configures.
    user: str = "townlake"
    password: str = "townlake-secret"

    def query(self, sql: str, user: str | None = None, password: str | None = None) -> str:
        """Run one statement as `default` (or `user`) and return its text answer."""
        request = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST")
        if user is not None:
            request.add_header("X-ClickHouse-User", user)
            request.add_header("X-ClickHouse-Key", password or "")
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.read().decode()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"ClickHouse: {exc.read().decode().strip()}") from None

    def rows(self, sql: str) -> list[list[str | None]]:
        """A SELECT's rows as TSV fields (unescaped; None for NULL)."""
        text = self.query(sql + " FORMAT TabSeparated")
        return [[unescape_tsv(f) for f in line.split("\t")] for line in text.splitlines()]


def unescape_tsv(field: str) -> str | None:
    if field == "\\N":
        return None
    out, i = [], 0
    escapes = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "\\": "\\", "'": "'"}
    while i < len(field):
        if field[i] == "\\" and i + 1 < len(field):
            out.append(escapes.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


@pytest.fixture(scope="session")
def clickhouse():
    """ClickHouse on 127.0.0.1:$TOWNLAKE_CLICKHOUSE_PORT (default 18123), data
    in the state dir; started for the session unless it already runs."""
    script = REPO_DIR / "scripts" / "clickhouse.sh"
    was_running = subprocess.run([str(script), "status"], capture_output=True).returncode == 0
    if not was_running:
        subprocess.run([str(script), "start"], check=True)
    url = subprocess.run([str(script), "url"], check=True, capture_output=True, text=True).stdout.strip()
    parsed = urllib.parse.urlparse(url)
    yield ClickHouse(url, parsed.hostname, parsed.port)
    if not was_running:
        subprocess.run([str(script), "stop"], check=False)
