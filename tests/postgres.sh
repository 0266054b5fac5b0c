#!/usr/bin/env bash
# Starts the machine's PostgreSQL 15 cluster (Debian's 15/main) and creates the `qmgr` role the multi-node tests
# use: they make a database of their own per test class (CREATEDB) and drop it afterwards. Idempotent.
# Tests read the connection string from QMGR_TEST_POSTGRES (default below). Run as root or as postgres.
set -euo pipefail
pg_ctlcluster 15 main start 2>/dev/null || [ $? -eq 2 ] # 2 = already running
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }
as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qmgr') THEN CREATE ROLE qmgr LOGIN CREATEDB PASSWORD 'qmgr'; END IF;
END \$\$;"
echo "postgres: ready on 127.0.0.1:5432 (role qmgr)"
