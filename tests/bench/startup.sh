#!/usr/bin/env bash
# tests/bench/startup.sh -- the fixed cost of one process: `qmgr transfer URL FILE` of one 4 KiB file, side by side
# with curl and aria2c (not a test; CI does not run it).
#
#     tests/bench/startup.sh                 # ~1 min on 2 cores: 1 warm-up + 7 runs per tool
#     RUNS=11 BUILD=0 tests/bench/startup.sh # more runs, the existing Release build
#
# Install the tools first (the script installs nothing): apt-get install nginx-light aria2 curl time
# It builds qmgr (`dotnet build src/Qmgr.Host -c Release`, BUILD=0 skips), starts a private nginx on 127.0.0.1:PORT
# serving one 4 KiB file whose access log records $msec and $request_time, and runs each tool WARMUP + RUNS times,
# each time under GNU time (`/usr/bin/time -f %M`, peak RSS) into a fresh directory (qmgr: a fresh --data-dir, so every
# run creates its SQLite journal, as a first `qmgr transfer` does). qmgr is the build's apphost
# (src/Qmgr.Host/bin/Release/net10.0/qmgr; QMGR=path overrides). Per tool, medians of RUNS:
#   TOOL_wall              process start to exit, s (bash's $EPOCHREALTIME around the run)
#   TOOL_start_to_request  process start to the start of its request in nginx's log ($msec - $request_time), s
#   TOOL_response_to_exit  nginx's last byte sent ($msec) to process exit, s
#   TOOL_peak_rss          peak resident set size, MiB (GNU time %M)
# then qmgr's floor on the same build (`qmgr --help`, wall and peak RSS) and ratios qmgr/curl, qmgr/aria2c.
# Output: `name value unit` lines on stdout; progress on stderr. Every run's result is checked (sha256).
# Knobs [defaults]: PORT [18097] RUNS [7] WARMUP [1] BUILD [1] QMGR [the apphost] TIME_BIN [/usr/bin/time]
#   KEEP [0] (1 keeps the work directory with nginx's log and each run's stderr)
# Figures on a shared VM move between invocations: compare tools within one run only.
set -euo pipefail
. "$(dirname "$0")/nginx-conf.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-18097}; RUNS=${RUNS:-7}; WARMUP=${WARMUP:-1}; BUILD=${BUILD:-1}; KEEP=${KEEP:-0}
TIME_BIN=${TIME_BIN:-/usr/bin/time}; QMGR=${QMGR:-$ROOT/src/Qmgr.Host/bin/Release/net10.0/qmgr}
say() { echo "startup: $*" >&2; }
die() { echo "startup: $*" >&2; exit 1; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for t in curl aria2c dotnet; do command -v $t >/dev/null || die "missing $t (apt-get install nginx-light aria2 curl time)"; done
[ -x "$NGINX" ] || die "missing nginx (apt-get install nginx-light)"
{ [ -x "$TIME_BIN" ] && "$TIME_BIN" --version 2>&1 | grep -q GNU; } || die "missing GNU time (apt-get install time)"
if [ "$BUILD" = 1 ]; then
  say "building qmgr (Release)"
  (cd "$ROOT" && dotnet build src/Qmgr.Host -c Release -nologo -v q -clp:ErrorsOnly >&2) || die "build failed"
fi
[ -x "$QMGR" ] || die "no $QMGR (build with: dotnet build src/Qmgr.Host -c Release)"
if ss -ltnH "( sport = :$PORT )" 2>/dev/null | grep -q .; then die "port $PORT is in use (set PORT=)"; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qmgr-startup.XXXXXX"); chmod 755 "$WORK"
NG=$WORK/nginx; WWW=$WORK/www; DL=$WORK/dl; LOG=$WORK/logs; mkdir -p "$NG/logs" "$NG/tmp" "$WWW" "$DL" "$LOG"
ACCESS=$NG/logs/access.log
NGINX_PID=""
cleanup() {
  local rc=$?
  if [ -n "$NGINX_PID" ]; then kill -QUIT "$(cat "$NG/nginx.pid" 2>/dev/null)" 2>/dev/null || true; kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
head -c 4096 /dev/urandom > "$WWW/tiny.bin"
WANT=$(sha256sum < "$WWW/tiny.bin" | cut -c1-64)
nginx_conf "$NG" "$PORT" "$WWW" "log_format startup '\$msec \$request_time \$status'; access_log $ACCESS startup;" > "$NG/nginx.conf"
timeout --signal=TERM 3600 "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" > "$NG/logs/stdout.log" 2>&1 &
NGINX_PID=$!
URL=http://127.0.0.1:$PORT/tiny.bin
for _ in $(seq 100); do curl -q -sf -o /dev/null "$URL" && break; sleep 0.1; done
curl -q -sf -o /dev/null "$URL" || die "nginx did not start (see $NG/logs/error.log)"
echo "# date: $(date -u +%FT%TZ); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(curl --version | head -1 | cut -d' ' -f1-2); $(aria2c --version | head -1); dotnet $(dotnet --version); qmgr $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') ($QMGR); RUNS=$RUNS" >&2

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
  printf "%.3f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A M=()
fig() { M[$1]=$2; printf '%s %s %s\n' "$1" "$2" "$3"; }

# one run: TOOL TAG -> appends "wall start_to_request response_to_exit rss_mib" to LOG/TAG.runs
run() { local tool=$1 tag=$2 out=$DL/tiny.bin l0 t0 t1 rc=0 req
  rm -rf "$DL"; mkdir -p "$DL/dd"
  case $tool in
    curl)   cmd=(curl -q -sSf -o "$out" "$URL") ;;
    aria2c) cmd=(aria2c --no-conf -q --allow-overwrite=true --auto-file-renaming=false -x1 -s1 -d "$DL" -o tiny.bin "$URL") ;;
    qmgr)   cmd=("$QMGR" transfer --data-dir "$DL/dd" "$URL" "$out") ;;
  esac
  l0=$(wc -l < "$ACCESS")
  t0=$EPOCHREALTIME
  "$TIME_BIN" -f %M -o "$LOG/$tag.rss" "${cmd[@]}" > "$LOG/$tag.out" 2> "$LOG/$tag.err" || rc=$?
  t1=$EPOCHREALTIME
  [ "$rc" = 0 ] || die "$tool exited $rc: $(tail -3 "$LOG/$tag.err")"
  [ "$(sha256sum < "$out" | cut -c1-64)" = "$WANT" ] || die "$tool: wrong bytes in $out"
  for _ in $(seq 50); do [ "$(wc -l < "$ACCESS")" -gt "$l0" ] && break; sleep 0.01; done
  req=$(tail -n +$((l0 + 1)) "$ACCESS" | head -1)
  [ -n "$req" ] || die "$tool: no request in nginx's log"
  awk -v t0="$t0" -v t1="$t1" -v r="$req" -v kib="$(tail -1 "$LOG/$tag.rss")" 'BEGIN { split(r, a, " ");
    printf "%.4f %.4f %.4f %.1f\n", t1 - t0, a[1] - a[2] - t0, t1 - a[1], kib / 1024 }' >> "$LOG/$tag.runs"
}
col() { awk -v c="$1" '{ print $c }' "$LOG/$2.runs" | median; }

for tool in curl aria2c qmgr; do
  say "$tool: $WARMUP warm-up + $RUNS runs"
  for _ in $(seq "$WARMUP"); do run "$tool" "$tool.warmup"; done
  : > "$LOG/$tool.runs"
  for _ in $(seq "$RUNS"); do run "$tool" "$tool"; done
  fig "${tool}_wall" "$(col 1 "$tool")" s
  fig "${tool}_start_to_request" "$(col 2 "$tool")" s
  fig "${tool}_response_to_exit" "$(col 3 "$tool")" s
  fig "${tool}_peak_rss" "$(col 4 "$tool")" MiB
done

# qmgr's floor on this build: the runtime and the CLI parser, no node
: > "$LOG/help.runs"
for _ in $(seq "$RUNS"); do
  t0=$EPOCHREALTIME; "$TIME_BIN" -f %M -o "$LOG/help.rss" "$QMGR" --help > /dev/null; t1=$EPOCHREALTIME
  awk -v t0="$t0" -v t1="$t1" -v kib="$(tail -1 "$LOG/help.rss")" 'BEGIN { printf "%.4f - - %.1f\n", t1 - t0, kib / 1024 }' >> "$LOG/help.runs"
done
fig qmgr_help_wall "$(col 1 help)" s
fig qmgr_help_peak_rss "$(col 4 help)" MiB

ratio() { awk -v q="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.1f", q / p; else printf "n/a" }'; }
for m in wall start_to_request response_to_exit peak_rss; do
  echo "ratio_${m} $(ratio "${M[qmgr_$m]}" "${M[curl_$m]}") qmgr/curl"
  echo "ratio_${m} $(ratio "${M[qmgr_$m]}" "${M[aria2c_$m]}") qmgr/aria2c"
done
