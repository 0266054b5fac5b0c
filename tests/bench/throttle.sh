#!/usr/bin/env bash
# tests/bench/throttle.sh -- Qmgr's background cap and priority preemption, measured (not a test; CI does not run it).
#
#     tests/bench/throttle.sh                      # ~4 min: caps 1, 10, 100 MiB/s x curl, aria2c, qmgr + priority run
#     RATE_RUNS=3 CAPS_MIB="1 10" tests/bench/throttle.sh
#
# Install the tools first (the script installs nothing): apt-get install nginx-light aria2 curl iproute2
# What it does, in one invocation, against ONE private nginx on 127.0.0.1:PORT serving a sparse file (zeros,
# SIZE_MIB, served from the page cache):
#   r  achieved rate at each cap in CAPS_MIB (MiB/s, 1024-based for all three tools), RATE_RUNS runs per tool:
#        curl --limit-rate CAP, aria2c -x1 -s1 --max-overall-download-limit=CAP, and qmgr as a background (Normal)
#        job: `QMGR_HOCON='qmgr.bandwidth.max-bytes-per-second = CAP' qmgr transfer URL FILE` (the node-wide
#        background cap of DESIGN Decision 4, not the group cap). Every 100 ms the bytes the client has taken off its
#        socket (ss: bytes_received - Recv-Q) are sampled; rate = bytes over the WINDOW (10) seconds that follow the
#        first sample with bytes, then the client is killed. ratio = rate / cap (1.000 = exactly the cap); the
#        window includes the token bucket's initial burst (qmgr: burst-seconds = 0.1, i.e. +1 % over 10 s at most).
#   p  priority: tests/bench/ThrottleBench (Qmgr embedded, same nginx) runs PRIO_NORMALS Normal jobs at a cap of
#        PRIO_CAP_MIB, then starts a High job and reports how long until it is Transferring, has its first bytes,
#        and moves >= 90 % of the cap over 500 ms; how long until every Normal job is back in Queued (T8); the High
#        job's rate / cap; and the Normal bytes moved meanwhile (see the header of ThrottleBench/Program.cs).
# Output: one `name value unit` line per figure on stdout (also WORK/figures.txt); progress on stderr.
# Knobs [defaults]: PORT [18093] CAPS_MIB ["1 10 100"] RATE_RUNS [1] WINDOW [10] SIZE_MIB [2048] PRIO_CAP_MIB [10]
#   PRIO_NORMALS [3] SECTIONS ["r p"] BUILD [1] (0: reuse the Release builds) WORK [mktemp -d] KEEP [0]
# Peer figures from ../shared/bench/peer-bench.sh (whole 100 MiB file per cap) can be taken in the same run with
#   PEER=1: it runs `SECTIONS="check e" CAPS="1M 10M 100M" RATE_RUNS=1 peer-bench.sh PORT+1 WORK/peer` (~2 min)
#   on a sparse corpus (mid/100MiB.bin, big/1GiB.bin); its lines are prefixed with "peer_". PEER_BENCH [/work/shared/bench/peer-bench.sh]
# SHARED_WWW, SHARED_ACCESS (set by tests/bench/all.sh): use the nginx already on PORT serving SHARED_WWW; the sparse
#   file goes to SHARED_WWW/throttle (see nginx-conf.sh).
# Requires: bash >= 5, dotnet SDK 10, nginx, curl, aria2c, ss (iproute2), awk; PEER=1 also hyperfine, GNU time.
set -euo pipefail
. "$(dirname "$0")/nginx-conf.sh"
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-18093}; CAPS_MIB=${CAPS_MIB:-"1 10 100"}; RATE_RUNS=${RATE_RUNS:-1}; WINDOW=${WINDOW:-10}
SIZE_MIB=${SIZE_MIB:-2048}; PRIO_CAP_MIB=${PRIO_CAP_MIB:-10}; PRIO_NORMALS=${PRIO_NORMALS:-3}
SECTIONS=${SECTIONS:-"r p"}; BUILD=${BUILD:-1}; KEEP=${KEEP:-0}; PEER=${PEER:-0}
PEER_BENCH=${PEER_BENCH:-/work/shared/bench/peer-bench.sh}
MIB=1048576
say() { echo "throttle: $*" >&2; }
die() { echo "throttle: $*" >&2; exit 1; }
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for t in curl aria2c ss awk dotnet; do command -v $t >/dev/null || die "missing $t (apt-get install nginx-light aria2 curl iproute2)"; done
[ -x "$NGINX" ] || die "missing nginx (apt-get install nginx-light)"

if [ "$BUILD" = 1 ]; then
  say "building qmgr and ThrottleBench (Release)"
  (cd "$ROOT" && dotnet build src/Qmgr.Host -c Release -nologo -v q -clp:ErrorsOnly >&2 && dotnet build tests/bench/ThrottleBench -c Release -nologo -v q -clp:ErrorsOnly >&2) || die "build failed"
fi
QMGR=(dotnet "$ROOT/src/Qmgr.Host/bin/Release/net10.0/qmgr.dll")
BENCH=(dotnet "$ROOT/tests/bench/ThrottleBench/bin/Release/net10.0/ThrottleBench.dll")

WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/qmgr-throttle.XXXXXX")}; mkdir -p "$WORK"; chmod 755 "$WORK"; WORK=$(cd "$WORK" && pwd)  # nginx workers must read www/
WWW=$WORK/www; DL=$WORK/dl; NG=$WORK/nginx; LOG=$WORK/logs
BASE=http://127.0.0.1:$PORT; SHARED_WWW=${SHARED_WWW:-}
if [ -n "$SHARED_WWW" ]; then WWW=$SHARED_WWW/throttle; BASE=$BASE/throttle; fi
mkdir -p "$WWW" "$DL" "$NG/logs" "$NG/tmp" "$LOG"; FIG=$WORK/figures.txt; : > "$FIG"
NGINX_PID=""; CHILD=""
cleanup() {
  local rc=$?
  bench_stop_children
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$DL" "$WWW" "$WORK/prio" "$WORK/peer"; say "logs and figures in $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

truncate -s $((SIZE_MIB * MIB)) "$WWW/big.bin"
if [ -z "$SHARED_WWW" ]; then
  nginx_conf "$NG" "$PORT" "$WWW" > "$NG/nginx.conf"
  timeout --signal=TERM 7200 "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" > "$NG/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 100); do curl -q -sf -r 0-0 -o /dev/null "$BASE/big.bin" && break; sleep 0.1; done
fi
curl -q -sf -r 0-0 -o /dev/null "$BASE/big.bin" || die "nginx did not start (see $NG/logs/error.log)"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
  echo "tools: $("$NGINX" -v 2>&1 | sed 's/.*: //') | $(curl --version | head -1 | cut -d' ' -f1-2) | $(aria2c --version | head -1) | dotnet $(dotnet --version) | qmgr $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "knobs: CAPS_MIB='$CAPS_MIB' RATE_RUNS=$RATE_RUNS WINDOW=$WINDOW SIZE_MIB=$SIZE_MIB PRIO_CAP_MIB=$PRIO_CAP_MIB PRIO_NORMALS=$PRIO_NORMALS"
} | tee "$WORK/meta.txt" | sed 's/^/# /' >&2

fig() { printf '%s %s %s\n' "$1" "$2" "$3" | tee -a "$FIG"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
  printf "%.4f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
client_bytes() { ss -tinH state established "( dport = :$PORT )" 2>/dev/null | awk '
  /^[0-9]/ { rq += $1; next } match($0, /bytes_received:[0-9]+/) { br += substr($0, RSTART + 15, RLENGTH - 15) }
  END { printf "%d\n", br - rq }'; }

# one run: TOOL CAP_BYTES SAMPLES_FILE -> samples "time bytes" until WINDOW s after the first byte (+0.3 s)
rate_run() { local tool=$1 cap=$2 smp=$3 t0="" now b
  rm -rf "$DL"/*; mkdir -p "$DL/dd"; : > "$smp"
  case $tool in
    curl)   curl -q -sS --limit-rate "$cap" -o "$DL/big.bin" "$BASE/big.bin" 2> "$smp.err" & ;;
    aria2c) aria2c --no-conf -q --allow-overwrite=true --auto-file-renaming=false -x1 -s1 --max-overall-download-limit="$cap" \
              -d "$DL" -o big.bin "$BASE/big.bin" 2> "$smp.err" & ;;
    qmgr)   QMGR_HOCON="qmgr.bandwidth.max-bytes-per-second = $cap" "${QMGR[@]}" transfer --data-dir "$DL/dd" \
              "$BASE/big.bin" "$DL/big.bin" > /dev/null 2> "$smp.err" & ;;
  esac
  CHILD=$!
  while kill -0 "$CHILD" 2>/dev/null; do
    now=$EPOCHREALTIME; b=$(client_bytes); echo "$now $b" >> "$smp"
    if [ -z "$t0" ] && [ "$b" -gt 0 ]; then t0=$now; fi
    if [ -n "$t0" ] && awk -v n="$now" -v t="$t0" -v w="$WINDOW" 'BEGIN { exit !(n - t > w + 0.3) }'; then break; fi
    sleep 0.1
  done
  kill -9 "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; CHILD=""
}
# rate over WINDOW s from the first sample with bytes: bytes interpolated linearly at t0 + WINDOW
window_rate() { awk -v w="$WINDOW" '$2 > 0 && !t0 { t0 = $1; b0 = $2 } t0 && $1 - t0 >= w && !done {
    bw = pb + ($2 - pb) * (t0 + w - pt) / ($1 - pt); printf "%.1f\n", (bw - b0) / w; done = 1 } { pt = $1; pb = $2 }
  END { if (!done) print "nan" }' "$1"; }

if has r; then
  for capm in $CAPS_MIB; do
    capb=$((capm * MIB))
    for tool in curl aria2c qmgr; do
      tag=r_${tool}_cap${capm}M; : > "$LOG/$tag.ratio"
      for r in $(seq "$RATE_RUNS"); do
        say "$tag run $r: ${WINDOW} s at $capm MiB/s"
        rate_run "$tool" "$capb" "$LOG/$tag.run$r.samples"
        rate=$(window_rate "$LOG/$tag.run$r.samples")
        [ "$rate" = nan ] && say "$tag run $r: no full window (see $LOG/$tag.run$r.samples.err)"
        awk -v r="$rate" -v c="$capb" 'BEGIN { if (r == "nan") print "nan"; else printf "%.4f\n", r / c }' >> "$LOG/$tag.ratio"
      done
      sed -i '/nan/d' "$LOG/$tag.ratio"
      fig "${tag}_ratio" "$(median < "$LOG/$tag.ratio")" x
    done
  done
fi

if has p; then
  say "priority: $PRIO_NORMALS Normal jobs at $PRIO_CAP_MIB MiB/s, then a High job"
  rm -rf "$WORK/prio"
  "${BENCH[@]}" "$BASE/big.bin" $((PRIO_CAP_MIB * MIB)) "$WORK/prio" "$PRIO_NORMALS" 3 3 2> "$LOG/prio.err" | while read -r n v u; do fig "p_$n" "$v" "$u"; done
fi

if [ "$PEER" = 1 ]; then
  say "peer-bench.sh section e at 1M 10M 100M (same machine, same run)"
  # peer-bench.sh wants its corpus layout; section e reads only mid/100MiB.bin (sparse zeros here, like big.bin above)
  mkdir -p "$WORK/peer/www/mid" "$WORK/peer/www/big" "$WORK/peer/www/small64k" "$WORK/peer/www/tiny4k"
  truncate -s $((100 * MIB)) "$WORK/peer/www/mid/100MiB.bin"; truncate -s $((1024 * MIB)) "$WORK/peer/www/big/1GiB.bin"
  (cd "$WORK/peer/www" && sha256sum mid/100MiB.bin big/1GiB.bin > MANIFEST.sha256)
  SECTIONS="check e" CAPS="1M 10M 100M" RATE_RUNS=1 WARMUP=0 "$PEER_BENCH" $((PORT + 1)) "$WORK/peer/www" "$WORK/peer/work" \
    2> "$LOG/peer.err" | while read -r n v u; do fig "peer_$n" "$v" "$u"; done
fi
