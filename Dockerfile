# townlake on the official PostgreSQL 15 image.
#   docker build -t townlake .
#   docker run -d -e POSTGRES_PASSWORD=secret -p 5432:5432 townlake
# The extension is preloaded and created in $POSTGRES_DB on first start.

FROM postgres:15-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential ca-certificates curl pkg-config clang libclang-dev \
      postgresql-server-dev-15 \
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
RUN cargo install cargo-pgrx --version 0.18.0 --locked
ENV PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
RUN cargo pgrx init --pg15 "$PG_CONFIG"

WORKDIR /build
ENV CARGO_TARGET_DIR=/build/target
COPY Cargo.toml Cargo.lock townlake.control ./
COPY src ./src
COPY sql ./sql
# Lays the files out under target/release/townlake-pg15/ as they would be installed.
RUN cargo pgrx package --pg-config "$PG_CONFIG" \
 && mkdir -p /out \
 && cp -a target/release/townlake-pg15/usr /out/

FROM postgres:15-bookworm
COPY --from=builder /out/usr/lib/postgresql/15/lib/ /usr/lib/postgresql/15/lib/
COPY --from=builder /out/usr/share/postgresql/15/extension/ /usr/share/postgresql/15/extension/
# Runs once, when the entrypoint initialises an empty data directory.
RUN echo 'CREATE EXTENSION IF NOT EXISTS townlake;' > /docker-entrypoint-initdb.d/10-townlake.sql
CMD ["postgres", "-c", "shared_preload_libraries=townlake"]
