# townlake: thin wrappers around scripts/*.sh (the logic lives there).
SHELL := /bin/bash
PROFILE ?= dev
export PROFILE
# Builds go outside the clone; an existing CARGO_TARGET_DIR wins.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/townlake/target
# PostgreSQL major version: 15 (Debian, the default) or 18 (`make test PG=18`).
export PG

.PHONY: deps venv build install mcp start stop status psql demo load-project test bench bench-ingest bench-aggregates bench-count bench-scheduler bench-clickhouse-insert bench-clickhouse-groupby bench-tpch pii-eval clean-state

deps:
	scripts/deps.sh all

venv:
	scripts/deps.sh venv

build:
	scripts/deps.sh system
	scripts/build.sh build

install:
	scripts/deps.sh system
	scripts/build.sh install

# The MCP server for agents (docs/agent.md): $(CARGO_TARGET_DIR)/debug/townlake-mcp
mcp:
	scripts/build.sh mcp

start:
	scripts/cluster.sh start

stop:
	scripts/cluster.sh stop

status:
	scripts/cluster.sh status

psql:
	scripts/cluster.sh psql

demo: deps install start
	scripts/demo.sh

# Load a directory of .sql model files with YAML front matter, or a YAML
# project file, into the project database: make load-project PROJECT=models/
load-project:
	scripts/load_project.sh "$(PROJECT)"

test:
	scripts/test.sh

bench:
	bench/iceberg_scan.sh

bench-ingest:
	bench/iceberg_ingest.sh

bench-aggregates:
	bench/iceberg_aggregates.sh

bench-count:
	bench/iceberg_count.sh

bench-tpch:
	bench/tpch.sh

bench-scheduler:
	bench/scheduler_idle.sh

bench-clickhouse-insert:
	bench/clickhouse_insert.sh

bench-clickhouse-groupby:
	bench/clickhouse_groupby.sh

# PII classifier on its frozen held-out set, side by side with Presidio (SET=dev for the development set).
pii-eval:
	bench/pii/eval/run.sh

# Stops the cluster and deletes its data (demo and test databases, warehouse).
clean-state: stop
	scripts/cluster.sh clean
