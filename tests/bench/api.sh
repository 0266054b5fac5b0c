#!/usr/bin/env bash
# tests/bench/api.sh -- API calls answered per second and their latency while transfers run: Qmgr's REST API
# (`qmgr serve`) beside aria2c's JSON-RPC (`aria2c --enable-rpc`), same loopback nginx, same run (not a test; CI does
# not run it).
#
#     tests/bench/api.sh                          # ~1 min: 16 transfers, 10 s of calls from 8 workers per tool
#     JOBS=32 SECONDS_=20 CONCURRENCY=16 tests/bench/api.sh
#
# Install the tools first (the script installs nothing): apt-get install nginx-light aria2 curl
# Each tool gets JOBS downloads of one sparse SIZE_MIB file from a private nginx on 127.0.0.1:PORT, each limited to
# RATE_MIB MiB/s so all stay transferring; then CONCURRENCY workers call for SECONDS_: 9 in 10 a status query
# (GET /api/v1/jobs/{id} | aria2.tellStatus), 1 in 10 a change (PUT …/properties/Description, journaled |
# aria2.changeOption). Output: `name value unit` lines on stdout (calls/s, p50 and p99 in ms per kind), then ratios
# qmgr/aria2c. Details in tests/bench/ApiBench/Program.cs.
# SHARED_WWW (set by tests/bench/all.sh): use the nginx already on PORT serving SHARED_WWW; the sparse file goes to
#   SHARED_WWW/api (see nginx-conf.sh).
# Knobs [defaults]: PORT [18095] JOBS [16] SECONDS_ [10] CONCURRENCY [8] RATE_MIB [4] SIZE_MIB [4096] BUILD [1]
set -euo pipefail
. "$(dirname "$0")/nginx-conf.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-18095}; JOBS=${JOBS:-16}; SECONDS_=${SECONDS_:-10}; CONCURRENCY=${CONCURRENCY:-8}; RATE_MIB=${RATE_MIB:-4}
SIZE_MIB=${SIZE_MIB:-4096}; BUILD=${BUILD:-1}
say() { echo "api: $*" >&2; }
die() { echo "api: $*" >&2; exit 1; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for t in curl aria2c dotnet; do command -v $t >/dev/null || die "missing $t (apt-get install nginx-light aria2 curl)"; done
[ -x "$NGINX" ] || die "missing nginx (apt-get install nginx-light)"
if [ "$BUILD" = 1 ]; then
  say "building qmgr and ApiBench (Release)"
  (cd "$ROOT" && dotnet build src/Qmgr.Host -c Release -nologo -v q -clp:ErrorsOnly >&2 && dotnet build tests/bench/ApiBench -c Release -nologo -v q -clp:ErrorsOnly >&2) || die "build failed"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qmgr-api.XXXXXX"); chmod 755 "$WORK"
NG=$WORK/nginx; WWW=$WORK/www; FILE=big.bin; SHARED_WWW=${SHARED_WWW:-}
if [ -n "$SHARED_WWW" ]; then WWW=$SHARED_WWW/api; FILE=api/big.bin; fi
mkdir -p "$NG/logs" "$NG/tmp" "$WWW"
NGINX_PID=""
cleanup() {
  local rc=$?
  if [ -n "$NGINX_PID" ]; then kill -QUIT "$(cat "$NG/nginx.pid" 2>/dev/null)" 2>/dev/null || true; kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"; [ -n "$SHARED_WWW" ] && rm -rf "$WWW"; exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
truncate -s $((SIZE_MIB * 1048576)) "$WWW/big.bin"
if [ -z "$SHARED_WWW" ]; then
  nginx_conf "$NG" "$PORT" "$WWW" "access_log off;" > "$NG/nginx.conf"
  timeout --signal=TERM 3600 "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" > "$NG/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
fi
for _ in $(seq 100); do curl -q -sf -r 0-0 -o /dev/null "http://127.0.0.1:$PORT/$FILE" && break; sleep 0.1; done
echo "# date: $(date -u +%FT%TZ); machine: $(nproc) cores; $(aria2c --version | head -1); dotnet $(dotnet --version); qmgr $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
OUT=$WORK/figures.txt
dotnet "$ROOT/tests/bench/ApiBench/bin/Release/net10.0/ApiBench.dll" "$ROOT/src/Qmgr.Host/bin/Release/net10.0/qmgr.dll" \
  "http://127.0.0.1:$PORT" "$FILE" "$JOBS" "$SECONDS_" "$CONCURRENCY" $((RATE_MIB * 1048576)) | tee "$OUT"
val() { awk -v n="$1" '$1 == n { print $2 }' "$OUT"; }
for m in api_calls_per_second api_query_p50 api_query_p99 api_command_p50 api_command_p99; do
  q=$(val "qmgr_$m"); a=$(val "aria2c_$m")
  [ -n "$q" ] && [ -n "$a" ] && awk -v q="$q" -v a="$a" -v m="$m" 'BEGIN { if (a > 0) printf "ratio_%s %.2f qmgr/aria2c\n", m, q / a }'
done
