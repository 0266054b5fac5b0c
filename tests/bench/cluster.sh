#!/usr/bin/env bash
# tests/bench/cluster.sh -- many small files on one Qmgr node vs three, side by side with curl and aria2c.
#
#     tests/bench/cluster.sh                     # 30 groups x 10 files of 64 KiB, 1 run each
#     GROUPS_N=30 FILES=10 SIZE_KIB=64 RUNS=3 tests/bench/cluster.sh
#     EXTRA_HOCON='qmgr.cluster.lease.heartbeat-interval = 3s' tests/bench/cluster.sh   # settings laid over the nodes'
#     TOOLS="qmgr1 qmgr3" tests/bench/cluster.sh                                        # only some of the tools
#
# Not part of CI's test run. Needs PostgreSQL (tests/postgres.sh starts it), nginx-light and aria2
# (`apt-get install -y nginx-light aria2`). For each of 1 and 3 nodes it makes a fresh database, starts
# `qmgr serve --store postgres` processes on 127.0.0.1 (one data directory each, every node a seed) and submits
# GROUPS_N groups of one job of FILES files (one group = one job here, as one `qmgr transfer` makes, with AutoComplete)
# the way many clients behind a load balancer would: all at once, group g through node g mod N's REST API. The client
# is four `curl --parallel` processes (create the groups, their jobs, add the files, resume; ids chosen by the client),
# so the shell and jq do not eat the two cores the nodes share. A warm-up batch of WARMUP groups (other files, same
# shape) runs first on every node and is not timed: a service's code is compiled and its shards allocated long before
# a batch arrives. The clock runs from the first request of the measured batch to its last job Acknowledged (every
# file renamed to its name; seen on node 0's server-sent events). CPU seconds of the nodes during that window are
# printed beside the time.
# curl (one process, all URLs, sequential) and aria2c (-j 16) fetch the same files from the same nginx.
set -euo pipefail
cd "$(dirname "$0")/../.."
GROUPS_N=${GROUPS_N:-30}; FILES=${FILES:-10}; SIZE_KIB=${SIZE_KIB:-64}; RUNS=${RUNS:-1}; PORT=${PORT:-18480}; WARMUP=${WARMUP:-30}
WORK=$(mktemp -d /tmp/qmgr-cluster-bench.XXXXXX); chmod 755 "$WORK" # nginx workers run as nobody
PIDS=()
# nodes are started inside $(...) subshells: their pids go to a file so that an early exit still stops them
cleanup() { disown -a 2>/dev/null || true; for p in "${PIDS[@]:-}" $(cat "$WORK/node-pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done; [ -f "$WORK/ng/nginx.pid" ] && kill "$(cat "$WORK/ng/nginx.pid")" 2>/dev/null || true; }
trap cleanup EXIT
for tool in nginx aria2c curl jq psql; do command -v $tool >/dev/null || { echo "missing $tool (apt-get install -y nginx-light aria2 curl jq postgresql-client)"; exit 1; }; done
bash tests/postgres.sh >/dev/null
dotnet build src/Qmgr.Host -c Release -v q -nologo >/dev/null
QMGR="dotnet src/Qmgr.Host/bin/Release/net10.0/qmgr.dll"

# corpus + nginx
mkdir -p "$WORK/www" "$WORK/ng/logs" "$WORK/ng/tmp"
total=$((GROUPS_N * FILES))
for i in $(seq 1 $total); do head -c $((SIZE_KIB * 1024)) /dev/urandom > "$WORK/www/f$i.bin"; done
source tests/bench/nginx-conf.sh
nginx_conf "$WORK/ng" "$PORT" "$WORK/www" "access_log off;" > "$WORK/ng/nginx.conf"
timeout 3600 nginx -c "$WORK/ng/nginx.conf" -p "$WORK/ng" & PIDS+=($!)
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/f1.bin" && break; sleep 0.1; done

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

node_cpu() { # pids -> CPU seconds they used so far (user + system)
  local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t / $(getconf CLK_TCK)" | bc -l; }
acknowledged() { # events count -> waits until COUNT jobs reached Acknowledged on the stream (10 min at most)
  local deadline=$((SECONDS + 600))
  while [ "$(grep -c '"to":"Acknowledged"' "$1")" -lt "$2" ]; do
    [ $SECONDS -lt $deadline ] || { echo "only $(grep -c '"to":"Acknowledged"' "$1") of $2 jobs Acknowledged after 10 min" >&2; exit 1; }
    sleep 0.05
  done; }
prepare() { # nodes outdir groups token -> OUTDIR.cfg/{groups,jobs,files,resume}: curl configs for that many groups of FILES files
  local n=$1 out=$2 groups=$3 auth="header = \"Authorization: Bearer $4\"" json='header = "Content-Type: application/json"' g f
  mkdir -p "$out" "$out.cfg"; : > "$out.cfg/groups"; : > "$out.cfg/jobs"; : > "$out.cfg/files"; : > "$out.cfg/resume"
  for g in $(seq 1 "$groups"); do
    local api="http://127.0.0.1:$((PORT + 200 + g % n))/api/v1" gid jid files=""
    gid=$(cat /proc/sys/kernel/random/uuid); jid=$(cat /proc/sys/kernel/random/uuid)
    for f in $(seq $(((g - 1) * FILES + 1)) $((g * FILES))); do
      files+="${files:+,}{\\\"remoteName\\\":\\\"http://127.0.0.1:$PORT/f$f.bin\\\",\\\"localName\\\":\\\"$out/f$f.bin\\\"}"; done
    printf 'url = "%s/groups"\n%s\n%s\ndata = "{\\"displayName\\":\\"g%s\\",\\"id\\":\\"%s\\"}"\noutput = "/dev/null"\nnext\n' "$api" "$auth" "$json" "$g" "$gid" >> "$out.cfg/groups"
    printf 'url = "%s/groups/%s/jobs"\n%s\n%s\ndata = "{\\"displayName\\":\\"j\\",\\"autoComplete\\":true,\\"id\\":\\"%s\\"}"\noutput = "/dev/null"\nnext\n' "$api" "$gid" "$auth" "$json" "$jid" >> "$out.cfg/jobs"
    printf 'url = "%s/jobs/%s/files"\n%s\n%s\ndata = "{\\"files\\":[%s]}"\noutput = "/dev/null"\nnext\n' "$api" "$jid" "$auth" "$json" "$files" >> "$out.cfg/files"
    printf 'url = "%s/jobs/%s/resume"\n%s\nrequest = "POST"\noutput = "/dev/null"\nnext\n' "$api" "$jid" "$auth" >> "$out.cfg/resume"
  done
  sed -i '$d' "$out.cfg/groups" "$out.cfg/jobs" "$out.cfg/files" "$out.cfg/resume"; } # no `next` after the last one
submit() { # outdir: sends a prepared batch, all at once, through four curl processes (one per step)
  local step; for step in groups jobs files resume; do
    curl -fs --show-error --no-progress-meter --parallel --parallel-max 64 -K "$1.cfg/$step" || { echo "submitting ($step) failed" >&2; exit 1; }; done; }

run_qmgr() { # nodes -> seconds
  local n=$1 db="qmgr_bench_$$_$RANDOM" token="bench-token-0123456789"
  PGPASSWORD=qmgr psql -q -h 127.0.0.1 -U qmgr -d postgres -c "CREATE DATABASE $db" >/dev/null
  local cs="Host=127.0.0.1;Port=5432;Database=$db;Username=qmgr;Password=qmgr" seeds="" ports=() pids=()
  for i in $(seq 0 $((n - 1))); do ports+=($((PORT + 100 + i))); done
  for p in "${ports[@]}"; do seeds+="${seeds:+,}akka.tcp://qmgr@127.0.0.1:$p"; done
  for i in $(seq 0 $((n - 1))); do
    QMGR_CONNECTION_STRING="$cs" QMGR_HOCON="qmgr.api.tokens = [ { token = \"$token\", owner = bench } ]
      qmgr.api.requests-per-second = 0
      ${EXTRA_HOCON:-}" \
      $QMGR serve --data-dir "$WORK/node$n-$i" --urls "http://127.0.0.1:$((PORT + 200 + i))" --cluster-port "${ports[$i]}" --seed-nodes "$seeds" \
      >"$WORK/node$n-$i.log" 2>&1 & pids+=($!); echo $! >> "$WORK/node-pids"
  done
  local api="http://127.0.0.1:$((PORT + 200))/api/v1" auth="Authorization: Bearer $token"
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$((PORT + 200 + i))/health/ready" >/dev/null && break; sleep 0.2; done
  done
  # every node Up in the leaders' view before timing
  for _ in $(seq 1 300); do
    [ "$(cat "$WORK"/node$n-*/logs/*.log 2>/dev/null | grep -o 'Leader is moving node \[[^]]*\] to \["\?Up' | sort -u | wc -l)" -ge "$n" ] && break; sleep 0.2
  done
  local events="$WORK/events$n"
  # the end is read from node 0's event stream (server-sent events of every job), not by polling the API
  curl -s -N -H "$auth" "$api/events" > "$events" 2>/dev/null & local evpid=$!; echo $evpid >> "$WORK/node-pids"
  prepare "$n" "$WORK/warm$n" "$WARMUP" "$token"; submit "$WORK/warm$n"; acknowledged "$events" "$WARMUP"
  local out="$WORK/out$n"; rm -rf "$out" "$out.cfg"; prepare "$n" "$out" "$GROUPS_N" "$token"
  local cpu0; cpu0=$(node_cpu "${pids[@]}")
  local start; start=$(now)
  submit "$out"
  local submitted; submitted=$(now)
  acknowledged "$events" $((WARMUP + GROUPS_N))
  local end; end=$(now)
  printf '%s node(s): submitted in %.2f s, done %.2f s later, nodes used %.2f CPU s\n' "$n" "$(echo "$submitted - $start" | bc -l)" \
    "$(echo "$end - $submitted" | bc -l)" "$(echo "$(node_cpu "${pids[@]}") - $cpu0" | bc -l)" >&2
  kill "$evpid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  PGPASSWORD=qmgr psql -q -h 127.0.0.1 -U qmgr -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  echo "$end - $start" | bc -l
}

run_curl() { local out="$WORK/curl" args=(); rm -rf "$out"; mkdir -p "$out"
  for i in $(seq 1 $total); do args+=(-o "$out/f$i.bin" "http://127.0.0.1:$PORT/f$i.bin"); done
  local s; s=$(now); curl -fs "${args[@]}"; echo "$(now) - $s" | bc -l; }
run_aria2() { local out="$WORK/aria2"; rm -rf "$out"; mkdir -p "$out"
  for i in $(seq 1 $total); do printf 'http://127.0.0.1:%s/f%s.bin\n  out=f%s.bin\n' "$PORT" "$i" "$i"; done > "$WORK/aria2.list"
  local s; s=$(now); aria2c -q -j 16 -d "$out" -i "$WORK/aria2.list" --allow-overwrite=true --auto-file-renaming=false; echo "$(now) - $s" | bc -l; }

declare -A T
TOOLS=${TOOLS:-curl aria2 qmgr1 qmgr3}
for tool in $TOOLS; do
  for r in $(seq 1 $RUNS); do
    case $tool in curl) run_curl;; aria2) run_aria2;; qmgr1) run_qmgr 1;; qmgr3) run_qmgr 3;; esac
  done | median > "$WORK/$tool.t"
  T[$tool]=$(cat "$WORK/$tool.t")
done
for n in 1 3; do [ -d "$WORK/out$n" ] && { cmp -s "$WORK/www/f$total.bin" "$WORK/out$n/f$total.bin" || { echo "qmgr's last file differs from the source ($n node(s))"; exit 1; }; }; done
printf '%s groups x %s files of %s KiB (%s files), median of %s run(s), one machine (%s cores)\n' "$GROUPS_N" "$FILES" "$SIZE_KIB" "$total" "$RUNS" "$(nproc)"
printf '%-22s %8s %10s %14s\n' tool seconds files/s "vs 1 qmgr node"
for tool in $TOOLS; do
  t=${T[$tool]}
  printf '%-22s %8.2f %10.1f %14.2f\n' "$(case $tool in curl) echo 'curl (sequential)';; aria2) echo 'aria2c -j 16';; qmgr1) echo 'qmgr, 1 node';; qmgr3) echo 'qmgr, 3 nodes';; esac)" \
    "$t" "$(echo "$total / $t" | bc -l)" "$(echo "${T[qmgr1]:-0} / $t" | bc -l)"
done
