#!/usr/bin/env bash
# docs/three-nodes.sh -- three `qmgr serve` nodes on this machine, one PostgreSQL store (README: "A cluster").
#
#     bash docs/three-nodes.sh            # starts them in the background, prints how to reach them
#     bash docs/three-nodes.sh stop       # stops them (SIGTERM: graceful; unfinished jobs stay in the store)
#
# Needs PostgreSQL 15+ on 127.0.0.1:5432 with a role that may create a database (tests/postgres.sh sets up role
# qmgr/qmgr on Debian's cluster) -- or set QMGR_CONNECTION_STRING to an existing database. Nodes listen on
# 127.0.0.1 only: remoting on 4051-4053, the REST API on 5581-5583; data directories (logs, lock, api-token) under
# ${QMGR_CLUSTER_DIR:-/tmp/qmgr-three-nodes}. Every node lists all three as seeds; node 1 is the first seed, so it
# founds the cluster when none runs (start it first after a full stop; this script does).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${QMGR_CLUSTER_DIR:-/tmp/qmgr-three-nodes}
if [ "${1:-}" = stop ]; then
  for i in 1 2 3; do [ -f "$DIR/node$i.pid" ] && kill "$(cat "$DIR/node$i.pid")" 2>/dev/null || true; done
  echo "stopped"; exit 0
fi
mkdir -p "$DIR"
if [ -z "${QMGR_CONNECTION_STRING:-}" ]; then
  PGPASSWORD=qmgr psql -q -h 127.0.0.1 -U qmgr -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'qmgr'" | grep -q 1 \
    || PGPASSWORD=qmgr psql -q -h 127.0.0.1 -U qmgr -d postgres -c "CREATE DATABASE qmgr"
  export QMGR_CONNECTION_STRING="Host=127.0.0.1;Port=5432;Database=qmgr;Username=qmgr;Password=qmgr"
fi
dotnet build src/Qmgr.Host -c Release -v q -nologo >/dev/null
QMGR="dotnet src/Qmgr.Host/bin/Release/net10.0/qmgr.dll"
$QMGR db init   # optional: every node does it too; shown here because a DBA may want to run it alone
# one token for the whole cluster (each node's DATA_DIR/api-token works on that node only)
[ -f "$DIR/token" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$DIR/token")
export QMGR_HOCON="qmgr.api.tokens = [ { token = \"$(cat "$DIR/token")\", owner = \"$(id -un)\", administrator = on } ]"
SEEDS="akka.tcp://qmgr@127.0.0.1:4051,akka.tcp://qmgr@127.0.0.1:4052,akka.tcp://qmgr@127.0.0.1:4053"
for i in 1 2 3; do
  nohup $QMGR serve --data-dir "$DIR/node$i" --urls "http://127.0.0.1:558$i" \
    --cluster-host 127.0.0.1 --cluster-port "405$i" --seed-nodes "$SEEDS" >"$DIR/node$i.out" 2>&1 &
  echo $! > "$DIR/node$i.pid"
  sleep 1
done
for i in 1 2 3; do
  for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:558$i/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  echo "node $i: http://127.0.0.1:558$i  (log: $DIR/node$i/logs)"
done
echo "token for every node: $DIR/token"
echo "try: qmgr list --all --server http://127.0.0.1:5582 --token \$(cat $DIR/token)"
