"""Per-role S3 credentials: each role reads with the keys of its own user
mapping, falls back to the PUBLIC mapping only when it has none, may use
temporary credentials with a session token, and a wrong key, secret or token
is refused by the store (this module's own moto server checks signatures and
session tokens) with an error that says so and shows no secret."""

from __future__ import annotations

import json
import uuid

import boto3
import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from pyiceberg.catalog.sql import SqlCatalog

from conftest import PG_HOST, PG_PORT, S3_REGION, catalog_uri, connect, start_moto
from lakedata import EVOLVING_SCHEMA, evolving_rows
from lakehelpers import expect_error

NAMESPACE = "creds"
SERVER = "s3creds"
# moto checks signatures after this many unauthenticated requests: create
# the user, its policy, its key, the role and the role's policy
SETUP_REQUESTS = 5


class Store:
    """A moto S3/IAM/STS server, a user with a key, and a role it may assume."""

    def __init__(self, endpoint: str, key_id: str, secret: str, role_arn: str):
        self.endpoint, self.key_id, self.secret, self.role_arn = endpoint, key_id, secret, role_arn

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=S3_REGION,
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)

    def temporary_credentials(self) -> dict:
        """AccessKeyId (ASIA...), SecretAccessKey, SessionToken of an assumed role."""
        answer = self.client("sts").assume_role(RoleArn=self.role_arn, RoleSessionName="townlake-tests")
        return answer["Credentials"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    process, endpoint = start_moto(tmp_path_factory, SETUP_REQUESTS, "moto_creds")
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=S3_REGION,
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        allow = {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole"], "Resource": "*"}]}
        iam.create_user(UserName="creds-user")
        iam.put_user_policy(UserName="creds-user", PolicyName="all", PolicyDocument=json.dumps(allow))
        key = iam.create_access_key(UserName="creds-user")["AccessKey"]
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="creds-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        s3_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_role_policy(RoleName="creds-reader", PolicyName="s3", PolicyDocument=json.dumps(s3_only))
        yield Store(endpoint, key["AccessKeyId"], key["SecretAccessKey"], role["Arn"])
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def remote(store, conn, database):
    """Server s3creds (no mapping yet) and an Iceberg table of 20 rows written by PyIceberg."""
    bucket = f"tlc-{uuid.uuid4().hex[:12]}"
    store.client("s3").create_bucket(Bucket=bucket)
    warehouse = f"s3://{bucket}/wh"
    conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER iceberg OPTIONS (warehouse {}, s3_endpoint {}, "
                         "s3_region {}, s3_path_style 'true', s3_allow_http 'true')").format(
        sql.Identifier(SERVER), sql.Literal(warehouse), sql.Literal(store.endpoint), sql.Literal(S3_REGION)))
    catalog = SqlCatalog(SERVER, uri=catalog_uri(database), warehouse=warehouse,
                         **{"s3.endpoint": store.endpoint, "s3.access-key-id": store.key_id,
                            "s3.secret-access-key": store.secret, "s3.region": S3_REGION})
    catalog.create_namespace_if_not_exists(NAMESPACE)
    table = catalog.create_table(f"{NAMESPACE}.remote", EVOLVING_SCHEMA, location=f"{warehouse}/{NAMESPACE}/remote")
    table.append(pa.Table.from_pylist(evolving_rows(1, 20, ["id", "name", "amount"]),
                                      schema=table.schema().as_arrow()))
    # the test's own superuser reads with the right keys (governance reads the table as it)
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (s3_access_key_id {}, "
                         "s3_secret_access_key {})").format(sql.Identifier(SERVER), sql.Literal(store.key_id),
                                                           sql.Literal(store.secret)))
    conn.execute("CREATE SCHEMA IF NOT EXISTS creds")
    conn.execute(f"CREATE FOREIGN TABLE creds.remote (id bigint, name text, amount bigint) SERVER {SERVER} "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'remote')")
    conn.execute("GRANT USAGE ON SCHEMA creds TO PUBLIC")
    conn.execute("GRANT SELECT ON creds.remote TO PUBLIC")
    yield "creds.remote"
    catalog.engine.dispose()


@pytest.fixture(scope="module")
def roles(admin_conn, database, remote):
    """Three login roles: `own` and `wrong` get mappings of their own, `none` has none."""
    suffix = uuid.uuid4().hex[:6]
    names = {kind: f"tl_creds_{kind}_{suffix}" for kind in ("own", "wrong", "none")}
    for name in names.values():
        admin_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield names
    with connect(database) as c:
        for name in names.values():
            c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    for name in names.values():
        admin_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def mapping(conn, role: str, key_id: str, secret: str, token: str | None = None) -> None:
    """CREATE (or replace) the user mapping of `role` ('PUBLIC' for everyone) on the server."""
    who = sql.SQL("PUBLIC") if role == "PUBLIC" else sql.Identifier(role)
    conn.execute(sql.SQL("DROP USER MAPPING IF EXISTS FOR {} SERVER {}").format(who, sql.Identifier(SERVER)))
    options = [sql.SQL("s3_access_key_id {}").format(sql.Literal(key_id)),
               sql.SQL("s3_secret_access_key {}").format(sql.Literal(secret))]
    if token is not None:
        options.append(sql.SQL("s3_session_token {}").format(sql.Literal(token)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER {} OPTIONS ({})").format(
        who, sql.Identifier(SERVER), sql.SQL(", ").join(options)))


def as_role(database: str, role: str) -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=role, dbname=database, autocommit=True,
                           options="-c TimeZone=UTC")


def refused(code: str) -> list[str]:
    """What a refused request says: privileges lacking, the store's 403, and
    its S3 error code (moto's are AWS's)."""
    return ["lacked the necessary privileges", "403 Forbidden", code]


BAD_SIGNATURE = refused("SignatureDoesNotMatch")
UNKNOWN_KEY = refused("InvalidAccessKeyId")
WRONG = "wrong-secret-0123456789abcdef"


def test_own_mapping_first_then_public(conn, database, store, remote, roles):
    mapping(conn, roles["own"], store.key_id, store.secret)
    mapping(conn, roles["wrong"], store.key_id, WRONG)
    mapping(conn, "PUBLIC", store.key_id, WRONG)
    try:
        _own_then_public(conn, database, store, remote, roles)
    finally:
        conn.execute(sql.SQL("DROP USER MAPPING IF EXISTS FOR PUBLIC SERVER {}").format(sql.Identifier(SERVER)))


def _own_then_public(conn, database, store, remote, roles):
    with as_role(database, roles["own"]) as c:
        assert c.execute(f"SELECT count(*), sum(id) FROM {remote}").fetchone() == (20, 210)
    # no mapping of its own: PUBLIC's (wrong) secret is used, and refused
    with as_role(database, roles["none"]) as c:
        expect_error(c, f"SELECT * FROM {remote}", *BAD_SIGNATURE, forbidden=[WRONG, store.secret])
    # with a right PUBLIC mapping, the role without a mapping reads ...
    mapping(conn, "PUBLIC", store.key_id, store.secret)
    with as_role(database, roles["none"]) as c:
        assert c.execute(f"SELECT count(*), sum(id) FROM {remote}").fetchone() == (20, 210)
    # ... but a role's own (wrong) mapping still wins over PUBLIC's right one
    with as_role(database, roles["wrong"]) as c:
        expect_error(c, f"SELECT * FROM {remote}", *BAD_SIGNATURE, forbidden=[WRONG, store.secret])


def test_switching_roles_in_one_session_switches_credentials(conn, database, store, remote, roles):
    """What one role read (metadata, files) must not serve another role whose
    credentials the store refuses: not the rows, not a count from metadata."""
    mapping(conn, roles["own"], store.key_id, store.secret)
    mapping(conn, roles["wrong"], store.key_id, WRONG)
    with connect(database) as c:
        c.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles["own"])))
        c.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles["wrong"])))
        c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles["own"])))
        assert c.execute(f"SELECT count(*), sum(id) FROM {remote}").fetchone() == (20, 210)
        c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles["wrong"])))
        for query in (f"SELECT * FROM {remote}", f"SELECT count(*) FROM {remote}",
                      f"SELECT max(id) FROM {remote}"):
            expect_error(c, query, *BAD_SIGNATURE, forbidden=[WRONG, store.secret])
        c.execute("RESET ROLE")


def test_session_token(conn, database, store, remote, roles):
    temporary = store.temporary_credentials()
    key_id, secret, token = temporary["AccessKeyId"], temporary["SecretAccessKey"], temporary["SessionToken"]
    assert key_id.startswith("ASIA")
    mapping(conn, roles["own"], key_id, secret, token)
    with as_role(database, roles["own"]) as c:
        assert c.execute(f"SELECT count(*), sum(id) FROM {remote}").fetchone() == (20, 210)
    # the same temporary key without its token, or with a forged token, is refused
    for wrong_token, fragments in ((None, refused("InvalidAccessKeyId")),
                                   (token[:-8] + "AAAAAAAA", ["400 Bad Request", "InvalidToken"])):
        mapping(conn, roles["own"], key_id, secret, wrong_token)
        with as_role(database, roles["own"]) as c:
            expect_error(c, f"SELECT * FROM {remote}", *fragments, forbidden=[secret, token])
    # a session token is a secret too: never in EXPLAIN
    mapping(conn, roles["own"], key_id, secret, token)
    with as_role(database, roles["own"]) as c:
        plan = "\n".join(r[0] for r in c.execute(f"EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM {remote}"))
        assert token not in plan and secret not in plan


def test_wrong_key_id(conn, database, store, remote, roles):
    mapping(conn, roles["own"], "AKIAWRONGWRONGWRONG0", store.secret)
    with as_role(database, roles["own"]) as c:
        expect_error(c, f"SELECT * FROM {remote}", *UNKNOWN_KEY, forbidden=[store.secret])
    mapping(conn, roles["own"], store.key_id, store.secret)


def test_governed_s3_table_reads_with_the_governance_mapping(conn, database, store, remote, roles):
    """docs/governance.md: a governed foreign table is read by its published
    view as lake_governance, so S3 needs a mapping for lake_governance (or
    PUBLIC); the analyst's own mapping, right or wrong, plays no part."""
    catalog = SqlCatalog(SERVER, uri=catalog_uri(database),
                         warehouse=conn.execute("SELECT option_value FROM pg_options_to_table((SELECT srvoptions "
                                                "FROM pg_foreign_server WHERE srvname = %s)) WHERE option_name = "
                                                "'warehouse'", (SERVER,)).fetchone()[0],
                         **{"s3.endpoint": store.endpoint, "s3.access-key-id": store.key_id,
                            "s3.secret-access-key": store.secret, "s3.region": S3_REGION})
    table = catalog.create_table(f"{NAMESPACE}.governed", EVOLVING_SCHEMA)
    table.append(pa.Table.from_pylist(evolving_rows(1, 30, ["id", "name", "amount"]),
                                      schema=table.schema().as_arrow()))
    catalog.engine.dispose()
    analyst = roles["none"]
    conn.execute("CREATE SCHEMA gov_raw")
    conn.execute(f"CREATE FOREIGN TABLE gov_raw.remote (id bigint, name text, amount bigint) SERVER {SERVER} "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'governed')")
    conn.execute("SELECT lake.govern_schema('gov_raw', 'gov_pub')")
    for column in ("id", "name", "amount"):
        conn.execute("SELECT lake.approve_column('gov_raw.remote', %s, 'public')", (column,))
    conn.execute("SELECT lake.approve_table('gov_raw.remote', 'credentials test')")
    conn.execute("SELECT lake.grant_access(%s, 'gov_pub.remote', '1 day', 'credentials test')", (analyst,))
    mapping(conn, "lake_governance", store.key_id, store.secret)
    try:
        with as_role(database, analyst) as c:
            assert c.execute("SELECT count(*), sum(id) FROM gov_pub.remote").fetchone() == (30, 465)
        # the analyst's own wrong mapping does not matter either
        mapping(conn, analyst, store.key_id, WRONG)
        with as_role(database, analyst) as c:
            assert c.execute("SELECT count(*), sum(id) FROM gov_pub.remote").fetchone() == (30, 465)
        # and without a governance (or PUBLIC) mapping, the read is refused
        conn.execute(sql.SQL("DROP USER MAPPING FOR lake_governance SERVER {}").format(sql.Identifier(SERVER)))
        mapping(conn, analyst, store.key_id, store.secret)
        with as_role(database, analyst) as c:
            # no mapping at all: townlake reads unsigned, and this moto server
            # answers unsigned requests with a 500 (not 403)
            expect_error(c, "SELECT count(*) FROM gov_pub.remote", "cannot read Iceberg metadata file",
                         "non-2xx status code", "No user mapping with S3 credentials applies",
                         forbidden=[store.secret])
    finally:
        conn.execute(sql.SQL("DROP USER MAPPING IF EXISTS FOR lake_governance SERVER {}").format(sql.Identifier(SERVER)))
        conn.execute(sql.SQL("DROP USER MAPPING IF EXISTS FOR {} SERVER {}").format(
            sql.Identifier(analyst), sql.Identifier(SERVER)))


def test_a_new_table_is_created_with_the_creating_roles_keys(conn, database, store, remote, roles):
    """CREATE FOREIGN TABLE of a new S3 table writes its first metadata file
    from an event trigger that runs as the extension owner: the write must
    still use the creating role's mapping (the extension owner's keys, which
    this module's superuser mapping holds, would succeed)."""
    creator, writer = roles["wrong"], roles["own"]
    for role in (creator, writer):
        conn.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER {} TO {}").format(sql.Identifier(SERVER),
                                                                               sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            sql.Identifier(role), sql.Identifier(role)))
    mapping(conn, creator, store.key_id, WRONG)
    mapping(conn, writer, store.key_id, store.secret)
    listed = lambda: {o["Key"] for o in store.client("s3").list_objects_v2(  # noqa: E731
        Bucket=remote_bucket(conn), Prefix="wh/").get("Contents", [])}
    before = listed()
    with as_role(database, creator) as c:
        expect_error(c, f'CREATE FOREIGN TABLE "{creator}".made (id bigint, note text) SERVER {SERVER} '
                        "OPTIONS (namespace 'created', table 'by_wrong')",
                     *BAD_SIGNATURE, forbidden=[WRONG, store.secret])
    assert conn.execute("SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = 'created'"
                        ).fetchone() == (0,)
    assert listed() == before, "a refused CREATE wrote into the bucket"
    # the same statement by a role whose own keys are right creates it, and
    # its rows are read back with those keys
    with as_role(database, writer) as c:
        c.execute(f'CREATE FOREIGN TABLE "{writer}".made (id bigint, note text) SERVER {SERVER} '
                  "OPTIONS (namespace 'created', table 'by_own')")
        c.execute(f"INSERT INTO \"{writer}\".made SELECT g, 'n' || g FROM generate_series(1, 7) g")
        assert c.execute(f'SELECT count(*), sum(id) FROM "{writer}".made').fetchone() == (7, 28)
    assert any("/by_own" in k and k.endswith(".metadata.json") for k in listed()), listed()


def remote_bucket(conn) -> str:
    warehouse = conn.execute("SELECT option_value FROM pg_options_to_table((SELECT srvoptions FROM "
                             "pg_foreign_server WHERE srvname = %s)) WHERE option_name = 'warehouse'",
                             (SERVER,)).fetchone()[0]
    return warehouse.removeprefix("s3://").split("/", 1)[0]
