#!/usr/bin/env bash
# tests/bench/run.sh -- Qmgr's download benchmark, side by side with curl and aria2c.
#
#     tests/bench/run.sh                  # full run, ~10 min on 2 cores
#     RUNS=1 BIG_MIB=64 tests/bench/run.sh  # quick look
#
# Not part of CI's test run ("speed and memory are measured by benchmarks, not timed tests").
# What it does, in one invocation, on one machine:
#   0. checks its tools; as root with apt-get it installs missing ones
#      (nginx-light aria2 curl time iproute2 openssl), otherwise it names the packages and exits 1;
#   1. builds qmgr (`dotnet build src/Qmgr.Host -c Release`) and runs it as
#      `dotnet src/Qmgr.Host/bin/Release/net10.0/qmgr.dll`, with a fresh --data-dir for every run;
#   2. makes a deterministic corpus in WORK/www (AES-256-CTR keystream keyed by SEED: incompressible,
#      byte-identical between runs): big.bin (BIG_MIB), mid.bin (MID_MIB), small.bin (SMALL_MIB),
#      tiny.bin (4 KiB), and starts ONE private nginx on 127.0.0.1:PORT serving it, whose access log
#      records "$request" $status $body_bytes_sent "$http_range" $msec $request_time; nginx runs
#      under `timeout NGINX_TTL` and is stopped by an EXIT trap;
#   3. measures curl, aria2c (-x1) and qmgr on the same files, RUNS times each, and prints medians:
#      a  big file to disk: wall seconds, MiB/s over wall time, and MiB/s on the server side (body
#         bytes / time from the first request's start to the last one's end, from the nginx log:
#         the transfer alone, without process start-up). qmgr's wall time includes starting .NET,
#         Akka, the cluster and the SQLite journal (~2-3 s), so a 4 KiB file is timed too ("tiny":
#         the fixed cost per invocation). qmgr's own progress line rate is also shown
#         (a_qmgr_big_selfreported_rate: bytes / time since it started polling the job), and each
#         tool's time from process start to its request (start_to_request) and from nginx's last
#         byte sent to process exit (response_to_exit). Socket buffers (several MiB on loopback) let
#         nginx finish a little before the client has read everything: server-side rates are a bit high.
#      b  rate-cap accuracy: CAP_MIB MiB/s on mid.bin and SMALL_CAP_MIB MiB/s on small.bin
#         (curl --limit-rate, aria2c --max-overall-download-limit, qmgr --max-bandwidth in bytes/s);
#         ratio_wall = size / process wall time / cap (for qmgr this includes its start-up);
#         ratio_transfer = size / (end - the request's start in the nginx log) / cap (fair to qmgr),
#         end = the first 50 ms ss sample where the client had read the whole file, else its exit;
#         ahead_of_cap = the most the client was ever ahead of the line cap * (t - request start), MiB.
#      c  resume after SIGKILL at KILL_PCT % of RESUME_FILE.bin [mid.bin] (measured as bytes the client has taken off
#         its sockets, via ss) at the RESUME_CAP_MIB cap; the resume run keeps the cap (qmgr keeps it
#         anyway: it is persisted with the group). Resumes: curl -C -, aria2c -c (default
#         --auto-save-interval=60, and =1), qmgr `serve --exit-when-idle` on the same data dir.
#         refetched = body bytes nginx sent in both runs - file size (includes bytes that were in
#         socket buffers when the client died); lost_client_bytes = bytes sent in the resume run -
#         (size - bytes the client had read at the kill): what the tool itself threw away.
#         sha256 of every result is checked.
#      d  CPU seconds (user+sys) and peak RSS for the big file, via GNU time -v (qmgr: also tiny.bin,
#         i.e. the start-up cost).
#   4. prints one line per figure, `name value unit` (also WORK/figures.txt), then a table with
#      qmgr/curl and qmgr/aria2c ratios (also WORK/table.md). Progress goes to stderr.
#
# Knobs (environment, defaults in brackets):
#   PORT [18091]  RUNS [3]  WARMUP [1] (untimed runs per tool before section a)  SECTIONS ["a b c d"]
#   BIG_MIB [256]  MID_MIB [48]  SMALL_MIB [16]  CAP_MIB [4]  SMALL_CAP_MIB [1] (0 skips it)
#   KILL_PCT [40]  RESUME_FILE [mid] (section c's file: mid = MID_MIB, big = BIG_MIB)  RESUME_CAP_MIB [CAP_MIB] (its cap)
#   SEED [qmgr-bench-1]  WORK [mktemp -d under $TMPDIR or /tmp]  KEEP [0] (1 keeps WORK)
#   BUILD [1] (0: use the existing Release build)  TOOL_TIMEOUT [600] s per client run
#   NGINX_TTL [7200] s, the longest nginx may live  TIME_BIN [/usr/bin/time, GNU]
#   SHARED_WWW, SHARED_ACCESS (set by tests/bench/all.sh): use the nginx already on PORT, serving SHARED_WWW and
#   logging to SHARED_ACCESS in nginx_bench_log's format (nginx-conf.sh); the corpus goes to SHARED_WWW/run.
# Units: MiB = 2^20 bytes. Caps are 1024-based for all three tools.
# Requires: bash >= 5, dotnet (SDK 10), nginx, curl, aria2c, GNU time, ss (iproute2), openssl, coreutils.
# Figures on a VM move between invocations: compare tools within one run only.
set -euo pipefail
. "$(dirname "$0")/nginx-conf.sh"
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-18091}; RUNS=${RUNS:-3}; WARMUP=${WARMUP:-1}; SECTIONS=${SECTIONS:-"a b c d"}
BIG_MIB=${BIG_MIB:-256}; MID_MIB=${MID_MIB:-48}; SMALL_MIB=${SMALL_MIB:-16}
CAP_MIB=${CAP_MIB:-4}; SMALL_CAP_MIB=${SMALL_CAP_MIB:-1}; KILL_PCT=${KILL_PCT:-40}
RESUME_FILE=${RESUME_FILE:-mid}; RESUME_CAP_MIB=${RESUME_CAP_MIB:-$CAP_MIB}; SHARED_WWW=${SHARED_WWW:-}
SEED=${SEED:-qmgr-bench-1}; KEEP=${KEEP:-0}; BUILD=${BUILD:-1}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-600}; NGINX_TTL=${NGINX_TTL:-7200}; TIME_BIN=${TIME_BIN:-/usr/bin/time}
MIB=1048576

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "bash >= 5 required"

# ---------------------------------------------------------------- tools
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v aria2c >/dev/null || missing+=(aria2)
[ -x "$NGINX" ] || missing+=(nginx-light)
command -v ss >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
{ [ -x "$TIME_BIN" ] && "$TIME_BIN" --version 2>&1 | grep -q GNU; } || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  else
    die "missing tools; install them with: apt-get update && apt-get install -y ${missing[*]}"
  fi
fi
command -v dotnet >/dev/null || die "dotnet (the .NET 10 SDK) is not on PATH"

QMGR_DLL=$ROOT/src/Qmgr.Host/bin/Release/net10.0/qmgr.dll
if [ "$BUILD" = 1 ]; then
  say "building qmgr (Release)"
  (cd "$ROOT" && dotnet build src/Qmgr.Host -c Release -nologo -v q >&2) || die "build failed"
fi
[ -f "$QMGR_DLL" ] || die "no $QMGR_DLL (build with: dotnet build src/Qmgr.Host -c Release)"
QMGR=(dotnet "$QMGR_DLL")
if [ -z "$SHARED_WWW" ] && ss -ltnH "( sport = :$PORT )" | grep -q .; then die "port $PORT is in use (set PORT=)"; fi

# ---------------------------------------------------------------- work dir, nginx, trap
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d "${TMPDIR:-/tmp}/qmgr-bench.XXXXXX"); fi
mkdir -p "$WORK"; chmod 755 "$WORK"; WORK=$(cd "$WORK" && pwd)  # nginx workers (not root) must read www/
WWW=$WORK/www; DL=$WORK/dl; NG=$WORK/nginx; LOG=$WORK/logs
ACCESS=$NG/logs/access.log
BASE=http://127.0.0.1:$PORT
if [ -n "$SHARED_WWW" ]; then WWW=$SHARED_WWW/run; ACCESS=${SHARED_ACCESS:?SHARED_ACCESS is needed with SHARED_WWW}; BASE=$BASE/run; fi
mkdir -p "$WWW" "$DL" "$NG/logs" "$NG/tmp" "$LOG"
FIG=$WORK/figures.txt; : > "$FIG"
declare -A F=()

NGINX_PID=""   # pid of `timeout`, whose child is the nginx master
CHILD=""       # a client started in the background (resume runs)
cleanup() {
  local rc=$?
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then kill -9 "$CHILD" 2>/dev/null || true; fi
  if [ -n "${SAMPLER:-}" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
  if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    if [ -s "$NG/nginx.pid" ]; then kill -QUIT "$(cat "$NG/nginx.pid")" 2>/dev/null || true; fi
    for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    say "nginx stopped"
  fi
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$DL" "$WWW"; say "logs and figures left in $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- corpus
stream() { bench_stream "$1" "$2"; }   # NAME BYTES -> AES-256-CTR keystream keyed by SEED:NAME (lib.sh)
say "making corpus in $WWW (seed $SEED)"
stream big $((BIG_MIB * MIB)) > "$WWW/big.bin"
stream mid $((MID_MIB * MIB)) > "$WWW/mid.bin"
stream small $((SMALL_MIB * MIB)) > "$WWW/small.bin"
stream tiny 4096 > "$WWW/tiny.bin"
(cd "$WWW" && sha256sum big.bin mid.bin small.bin tiny.bin > "$WORK/MANIFEST.sha256")
size() { stat -c %s "$WWW/$1"; }
want_sha() { awk -v f="$1" '$2 == f { print $1 }' "$WORK/MANIFEST.sha256"; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum < "$1" | cut -c1-64)" = "$(want_sha "$2")" ]; }

if [ -z "$SHARED_WWW" ]; then
  nginx_conf "$NG" "$PORT" "$WWW" "$(nginx_bench_log "$ACCESS")" > "$NG/nginx.conf"
  "$NGINX" -t -q -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" || die "nginx config test failed"
  timeout --signal=TERM "$NGINX_TTL" "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" > "$NG/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 100); do
    if [ -s "$NG/nginx.pid" ] && curl -q -s -o /dev/null "$BASE/tiny.bin"; then break; fi; sleep 0.1; done
fi
curl -q -sf -o /dev/null "$BASE/tiny.bin" || die "nginx did not start (see $NG/logs/error.log)"
cat "$WWW"/*.bin > /dev/null   # warm the page cache: the server side is not what is measured
say "nginx on 127.0.0.1:$PORT (work dir $WORK)"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo), $(uname -sr)"
  echo "fs: $(df -PT "$WORK" | awk 'NR == 2 { print $1, $2 }')"
  echo "tools: $("$NGINX" -v 2>&1 | sed 's/.*: //') | $(curl --version | head -1 | cut -d' ' -f1-2) | $(aria2c --version | head -1) | dotnet $(dotnet --version) | qmgr $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "knobs: RUNS=$RUNS WARMUP=$WARMUP BIG_MIB=$BIG_MIB MID_MIB=$MID_MIB SMALL_MIB=$SMALL_MIB CAP_MIB=$CAP_MIB SMALL_CAP_MIB=$SMALL_CAP_MIB KILL_PCT=$KILL_PCT RESUME_FILE=$RESUME_FILE RESUME_CAP_MIB=$RESUME_CAP_MIB SECTIONS='$SECTIONS'"
} | tee "$WORK/meta.txt" | sed 's/^/# /' >&2

# ---------------------------------------------------------------- helpers
fig() { F[$1]=$2; printf '%s %s %s\n' "$1" "$2" "$3" | tee -a "$FIG"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
  printf "%.6g\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
figm() { local name=$1 unit=$2 fmt=$3 file=$4 m  # median of the numbers in FILE
  m=$(median < "$file"); if [ "$m" = nan ]; then fig "$name" nan "$unit"; else fig "$name" "$(printf "$fmt" "$m")" "$unit"; fi; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
log_lines() { wc -l < "$ACCESS"; }
# log_since N -> "bytes start end requests statuses": requests logged after line N
log_since() { tail -n +$(($1 + 1)) "$ACCESS" | awk -F'"' '
  { split($3, a, " "); split($5, b, " "); bytes += a[2]; n++; st = st a[1] ",";
    s = b[1] - b[2]; if (n == 1 || s < t0) t0 = s; if (b[1] > t1) t1 = b[1] }
  END { printf "%d %.3f %.3f %d %s\n", bytes, t0, t1, n, (st == "" ? "-" : st) }'; }
# bytes the clients have taken off their sockets to PORT (bytes_received - unread Recv-Q)
client_bytes() { ss -tinH state established "( dport = :$PORT )" 2>/dev/null | awk '
  /^[0-9]/ { rq += $1; next } match($0, /bytes_received:[0-9]+/) { br += substr($0, RSTART + 15, RLENGTH - 15) }
  END { printf "%d\n", br - rq }'; }
settle() { sleep 0.3; }   # let nginx log a request whose client just finished or died

# client TOOL URL OUT DATADIR [CAP_BYTES] -> the command line (array CMD) for a one-file download
client() { local tool=$1 url=$2 out=$3 dd=$4 cap=${5:-0}
  case $tool in
    curl)   CMD=(curl -q -sSf -o "$out"); [ "$cap" -gt 0 ] && CMD+=(--limit-rate "$cap"); CMD+=("$url") ;;
    aria2c) CMD=(aria2c --no-conf -q --allow-overwrite=true --auto-file-renaming=false -x1 -s1 -d "$(dirname "$out")" -o "$(basename "$out")")
            [ "$cap" -gt 0 ] && CMD+=(--max-overall-download-limit="$cap"); CMD+=("$url") ;;
    qmgr)   CMD=("${QMGR[@]}" transfer --data-dir "$dd"); [ "$cap" -gt 0 ] && CMD+=(--max-bandwidth "$cap"); CMD+=("$url" "$out") ;;
  esac; }
fresh() { rm -rf "$DL/$1" "$DL/$1.aria2" "$DL/dd"; mkdir -p "$DL/dd"; sync; }

# sampler: "time bytes" every 50 ms, bytes = client_bytes (runs in the background during a capped run)
sampler() { while :; do echo "$EPOCHREALTIME $(client_bytes)"; sleep 0.05; done; }
SAMPLER=""
# one timed run: TOOL FILE CAP TAG [SAMPLE] -> appends to LOG/TAG.runs
#   "wall rc sha_ok bytes span nreq t0 t1 req_start resp_end statuses"
# (t0/t1: process start/exit; req_start/resp_end: first request's start, last response's end, from
#  nginx's $msec - $request_time and $msec; all on the same wall clock). With SAMPLE=1 the client's
#  socket bytes are sampled into LOG/TAG.runN.samples.
timed_run() { local tool=$1 file=$2 cap=$3 tag=$4 sample=${5:-0} l0 t0 t1 rc=0 ok=0 b s e n st r
  fresh "$file"; client "$tool" "$BASE/$file" "$DL/$file" "$DL/dd" "$cap"
  r=$(( $(wc -l < "$LOG/$tag.runs" 2>/dev/null || echo 0) + 1 ))
  if [ "$sample" = 1 ]; then sampler > "$LOG/$tag.run$r.samples" & SAMPLER=$!; fi
  l0=$(log_lines); t0=$EPOCHREALTIME
  timeout "$TOOL_TIMEOUT" "${CMD[@]}" > "$LOG/$tag.out" 2> "$LOG/$tag.err" || rc=$?
  t1=$EPOCHREALTIME
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""; fi
  settle
  sha_ok "$DL/$file" "$file" && ok=1
  read -r b s e n st < <(log_since "$l0")
  echo "$(calc %.3f "$t1 - $t0") $rc $ok $b $(calc %.3f "$e - $s") $n $t0 $t1 $s $e $st" >> "$LOG/$tag.runs"
  [ "$rc" = 0 ] && [ "$ok" = 1 ] || say "$tag: rc=$rc sha_ok=$ok (see $LOG/$tag.err)"
}
col() { awk -v c="$1" '{ print $c }' "$2"; }
okruns() { awk '$2 == 0 && $3 == 1 { n++ } END { print n + 0 }' "$1"; }

TOOLS=(curl aria2c qmgr)

# ---------------------------------------------------------------- (a) big file to disk
if has a; then
  for file in big.bin tiny.bin; do
    sz=$(size "$file"); short=${file%.bin}
    for tool in "${TOOLS[@]}"; do
      tag=a_${tool}_$short; : > "$LOG/$tag.runs"
      say "$tag: $WARMUP warm-up + $RUNS runs"
      for _ in $(seq "$WARMUP"); do timed_run "$tool" "$file" 0 "$tag.warmup"; done
      for r in $(seq "$RUNS"); do timed_run "$tool" "$file" 0 "$tag"; cp "$LOG/$tag.out" "$LOG/$tag.run$r.out"; done
      col 1 "$LOG/$tag.runs" > "$LOG/$tag.wall"
      figm "${tag}_wall" s %.3f "$LOG/$tag.wall"
      if [ "$short" = big ]; then
        awk -v b="$sz" -v M=$MIB '{ printf "%.2f\n", b / M / $1 }' "$LOG/$tag.wall" > "$LOG/$tag.rate"
        figm "${tag}_rate" MiB/s %.1f "$LOG/$tag.rate"
        awk -v M=$MIB '$5 > 0 { printf "%.2f\n", $4 / M / $5 }' "$LOG/$tag.runs" > "$LOG/$tag.srate"
        figm "${tag}_server_rate" MiB/s %.1f "$LOG/$tag.srate"
        if [ "$tool" = qmgr ]; then   # last progress line: "Acknowledged: 256.0 MiB / 256.0 MiB, files 1/1, 88.8 MiB/s"
          for r in $(seq "$RUNS"); do
            grep -h 'Acknowledged:' "$LOG/$tag.run$r.out" | tail -1 | awk '{ v = $(NF-1); u = $NF;
              f = (u ~ /^GiB/) ? 1024 : (u ~ /^MiB/) ? 1 : (u ~ /^KiB/) ? 1/1024 : 1/1048576; printf "%.2f\n", v * f }'
          done > "$LOG/$tag.selfrate"
          figm "${tag}_selfreported_rate" MiB/s %.1f "$LOG/$tag.selfrate"
        fi
      fi
      if [ "$short" = big ]; then
        awk '{ printf "%.3f\n", $9 - $7 }' "$LOG/$tag.runs" > "$LOG/$tag.before"
        awk '{ printf "%.3f\n", $8 - $10 }' "$LOG/$tag.runs" > "$LOG/$tag.after"
        figm "${tag}_start_to_request" s %.3f "$LOG/$tag.before"
        figm "${tag}_response_to_exit" s %.3f "$LOG/$tag.after"
      fi
      fig "${tag}_requests" "$(col 6 "$LOG/$tag.runs" | median)" count
      fig "${tag}_ok_runs" "$(okruns "$LOG/$tag.runs")/$RUNS" runs
    done
  done
fi

# ---------------------------------------------------------------- (b) rate-cap accuracy
if has b; then
  specs="mid.bin:$CAP_MIB"; [ "$SMALL_CAP_MIB" != 0 ] && specs="$specs small.bin:$SMALL_CAP_MIB"
  for spec in $specs; do
    file=${spec%%:*}; capm=${spec#*:}; capb=$((capm * MIB)); sz=$(size "$file")
    for tool in "${TOOLS[@]}"; do
      tag=b_${tool}_cap${capm}M; : > "$LOG/$tag.runs"
      say "$tag: $RUNS runs of ~$(calc %.0f "$sz/$capb") s on $file"
      for _ in $(seq "$RUNS"); do timed_run "$tool" "$file" "$capb" "$tag" 1; done
      awk -v b="$sz" -v c="$capb" '{ printf "%.4f\n", b / $1 / c }' "$LOG/$tag.runs" > "$LOG/$tag.rwall"
      : > "$LOG/$tag.rxfer"; : > "$LOG/$tag.burst"
      for r in $(seq "$RUNS"); do
        # from the request's start (nginx) to the first sample where the client had read the whole
        # file, or to the process's exit if no sample saw that (curl and aria2c close at once)
        read -r rs pe < <(awk -v r="$r" 'NR == r { print $9, $8 }' "$LOG/$tag.runs")
        awk -v s="$rs" -v pe="$pe" -v sz="$sz" -v c="$capb" -v M=$MIB '$1 >= s && $2 > 0 {
            if ($2 >= sz && !te) te = $1; lead = $2 - c * ($1 - s); if (lead > ml) ml = lead }
          END { if (!te) te = pe; if (te > s) printf "%.4f %.3f\n", sz / (te - s) / c, ml / M; else print "nan nan" }' \
          "$LOG/$tag.run$r.samples" > "$LOG/$tag.run$r.res"
        read -r x y < "$LOG/$tag.run$r.res"; echo "$x" >> "$LOG/$tag.rxfer"; echo "$y" >> "$LOG/$tag.burst"
      done
      sed -i '/nan/d' "$LOG/$tag.rxfer" "$LOG/$tag.burst"
      figm "${tag}_ratio_wall" x %.3f "$LOG/$tag.rwall"
      figm "${tag}_ratio_transfer" x %.3f "$LOG/$tag.rxfer"
      figm "${tag}_ahead_of_cap" MiB %.2f "$LOG/$tag.burst"
      fig "${tag}_ok_runs" "$(okruns "$LOG/$tag.runs")/$RUNS" runs
    done
  done
fi

# ---------------------------------------------------------------- (c) resume after SIGKILL
# run1: the client at the cap, SIGKILLed once it has consumed KILL_PCT % of RESUME_FILE (mid.bin or big.bin); run2
# resumes it. (MID_B below is the size of that file.)
resume_variant() { # NAME ; arrays R1 (killed run) and R2 (resume run)
  local name=$1 r l0 l1 b s1 s2 x rc ok killed deadline
  : > "$LOG/$name.runs"
  say "$name: $RUNS runs"
  for r in $(seq "$RUNS"); do
    fresh "$RF"
    l0=$(log_lines); killed=0; b=0
    "${R1[@]}" > "$LOG/$name.run$r.r1.out" 2>&1 &
    CHILD=$!; deadline=$((SECONDS + TOOL_TIMEOUT))
    while kill -0 "$CHILD" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      b=$(client_bytes)
      if [ "$b" -ge $((MID_B * KILL_PCT / 100)) ]; then kill -9 "$CHILD" 2>/dev/null && killed=1; break; fi
      sleep 0.02
    done
    if [ "$killed" = 0 ]; then kill -9 "$CHILD" 2>/dev/null || true; fi
    wait "$CHILD" 2>/dev/null || true; CHILD=""
    sleep 0.5
    read -r s1 x < <(log_since "$l0"); l1=$(log_lines)
    rc=0; timeout "$TOOL_TIMEOUT" "${R2[@]}" > "$LOG/$name.run$r.r2.out" 2>&1 || rc=$?
    settle
    read -r s2 x < <(log_since "$l1")
    ok=0; [ "$rc" = 0 ] && sha_ok "$DL/$RF" "$RF" && ok=1
    echo "$killed $rc $ok $b $s1 $s2 $(tail -n +$((l0 + 1)) "$ACCESS" | awk -F'"' '{ split($3, a, " "); printf "%s:%s:%s;", a[1], a[2], $4 }')" >> "$LOG/$name.runs"
    [ "$killed" = 1 ] || say "$name run $r: not killed (finished or timed out first)"
    [ "$ok" = 1 ] || say "$name run $r: resume rc=$rc sha_ok=$ok (see $LOG/$name.run$r.r2.out)"
  done
  awk -v M=$MIB -v sz="$MID_B" '$1 == 1 { printf "%.2f\n", ($5 + $6 - sz) / M }' "$LOG/$name.runs" > "$LOG/$name.refetch"
  awk -v sz="$MID_B" '$1 == 1 { printf "%.1f\n", $4 * 100 / sz }' "$LOG/$name.runs" > "$LOG/$name.killpct"
  awk -v M=$MIB -v sz="$MID_B" '$1 == 1 { printf "%.2f\n", ($6 - (sz - $4)) / M }' "$LOG/$name.runs" > "$LOG/$name.lost"
  figm "${name}_refetched" MiB %.2f "$LOG/$name.refetch"
  figm "${name}_lost_client_bytes" MiB %.2f "$LOG/$name.lost"
  figm "${name}_kill_at" % %.1f "$LOG/$name.killpct"
  fig "${name}_ok_runs" "$(awk '$1 == 1 && $2 == 0 && $3 == 1 { n++ } END { print n + 0 }' "$LOG/$name.runs")/$RUNS" runs
}
if has c; then
  RF=$RESUME_FILE.bin; MID_B=$(size "$RF"); capb=$((RESUME_CAP_MIB * MIB)); U=$BASE/$RF; O=$DL/$RF
  A=(aria2c --no-conf -q --allow-overwrite=true --auto-file-renaming=false -x1 -s1 --max-overall-download-limit="$capb" -d "$DL" -o "$RF")
  R1=(curl -q -sS --limit-rate "$capb" -o "$O" "$U"); R2=(curl -q -sS --limit-rate "$capb" -C - -o "$O" "$U")
  resume_variant c_curl
  R1=("${A[@]}" "$U"); R2=("${A[@]}" -c "$U")
  resume_variant c_aria2c
  R1=("${A[@]}" --auto-save-interval=1 "$U"); R2=("${A[@]}" --auto-save-interval=1 -c "$U")
  resume_variant c_aria2c_save1s
  R1=("${QMGR[@]}" transfer --data-dir "$DL/dd" --max-bandwidth "$capb" "$U" "$O"); R2=("${QMGR[@]}" serve --data-dir "$DL/dd" --exit-when-idle)
  resume_variant c_qmgr
fi

# ---------------------------------------------------------------- (d) CPU and peak RSS
if has d; then
  for file in big.bin tiny.bin; do
    short=${file%.bin}
    for tool in "${TOOLS[@]}"; do
      [ "$short" = tiny ] && [ "$tool" != qmgr ] && continue
      tag=d_${tool}_$short; : > "$LOG/$tag.cpu"; : > "$LOG/$tag.rss"
      say "$tag: $RUNS runs under GNU time -v"
      for r in $(seq "$RUNS"); do
        fresh "$file"; client "$tool" "$BASE/$file" "$DL/$file" "$DL/dd" 0
        timeout "$TOOL_TIMEOUT" "$TIME_BIN" -v -o "$LOG/$tag.run$r.time" "${CMD[@]}" > /dev/null 2>&1 || say "$tag run $r failed"
        awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { print u + s }' "$LOG/$tag.run$r.time" >> "$LOG/$tag.cpu"
        awk -F': ' '/Maximum resident set size/ { printf "%.1f\n", $2 / 1024 }' "$LOG/$tag.run$r.time" >> "$LOG/$tag.rss"
      done
      figm "${tag}_cpu" s %.2f "$LOG/$tag.cpu"
      figm "${tag}_peak_rss" MiB %.1f "$LOG/$tag.rss"
    done
  done
fi
rm -rf "$DL"/*.bin "$DL/dd"

# ---------------------------------------------------------------- table
get() { echo "${F[$1]:--}"; }
ratio() { local q=$1 p=$2
  if [[ $q =~ ^[0-9.]+$ && $p =~ ^[0-9.]+$ ]] && awk "BEGIN { exit !($p > 0) }"; then calc %.2f "$q / $p"; else echo n/a; fi; }
row() { local label=$1 q=$2 c=$3 a=$4
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$q" "$c" "$a" "$(ratio "$q" "$c")" "$(ratio "$q" "$a")"; }
{
  echo
  echo "| figure | qmgr | curl | aria2c -x1 | qmgr/curl | qmgr/aria2c |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  if has a; then
    row "${BIG_MIB} MiB to disk, wall s" "$(get a_qmgr_big_wall)" "$(get a_curl_big_wall)" "$(get a_aria2c_big_wall)"
    row "${BIG_MIB} MiB to disk, MiB/s over wall time" "$(get a_qmgr_big_rate)" "$(get a_curl_big_rate)" "$(get a_aria2c_big_rate)"
    row "${BIG_MIB} MiB, MiB/s server side (nginx log)" "$(get a_qmgr_big_server_rate)" "$(get a_curl_big_server_rate)" "$(get a_aria2c_big_server_rate)"
    row "${BIG_MIB} MiB: process start to request, s" "$(get a_qmgr_big_start_to_request)" "$(get a_curl_big_start_to_request)" "$(get a_aria2c_big_start_to_request)"
    row "${BIG_MIB} MiB: last byte sent to process exit, s" "$(get a_qmgr_big_response_to_exit)" "$(get a_curl_big_response_to_exit)" "$(get a_aria2c_big_response_to_exit)"
    row "4 KiB file, wall s (start-up)" "$(get a_qmgr_tiny_wall)" "$(get a_curl_tiny_wall)" "$(get a_aria2c_tiny_wall)"
  fi
  if has b; then
    row "cap ${CAP_MIB} MiB/s, ${MID_MIB} MiB: achieved/cap, wall" "$(get b_qmgr_cap${CAP_MIB}M_ratio_wall)" "$(get b_curl_cap${CAP_MIB}M_ratio_wall)" "$(get b_aria2c_cap${CAP_MIB}M_ratio_wall)"
    row "cap ${CAP_MIB} MiB/s: achieved/cap, request to last byte" "$(get b_qmgr_cap${CAP_MIB}M_ratio_transfer)" "$(get b_curl_cap${CAP_MIB}M_ratio_transfer)" "$(get b_aria2c_cap${CAP_MIB}M_ratio_transfer)"
    row "cap ${CAP_MIB} MiB/s: most MiB ahead of the cap line" "$(get b_qmgr_cap${CAP_MIB}M_ahead_of_cap)" "$(get b_curl_cap${CAP_MIB}M_ahead_of_cap)" "$(get b_aria2c_cap${CAP_MIB}M_ahead_of_cap)"
    if [ "$SMALL_CAP_MIB" != 0 ]; then
      row "cap ${SMALL_CAP_MIB} MiB/s, ${SMALL_MIB} MiB: achieved/cap, wall" "$(get b_qmgr_cap${SMALL_CAP_MIB}M_ratio_wall)" "$(get b_curl_cap${SMALL_CAP_MIB}M_ratio_wall)" "$(get b_aria2c_cap${SMALL_CAP_MIB}M_ratio_wall)"
      row "cap ${SMALL_CAP_MIB} MiB/s: achieved/cap, request to last byte" "$(get b_qmgr_cap${SMALL_CAP_MIB}M_ratio_transfer)" "$(get b_curl_cap${SMALL_CAP_MIB}M_ratio_transfer)" "$(get b_aria2c_cap${SMALL_CAP_MIB}M_ratio_transfer)"
      row "cap ${SMALL_CAP_MIB} MiB/s: most MiB ahead of the cap line" "$(get b_qmgr_cap${SMALL_CAP_MIB}M_ahead_of_cap)" "$(get b_curl_cap${SMALL_CAP_MIB}M_ahead_of_cap)" "$(get b_aria2c_cap${SMALL_CAP_MIB}M_ahead_of_cap)"
    fi
  fi
  if has c; then
    row "SIGKILL at ${KILL_PCT} % of $((MID_B / MIB)) MiB (cap ${RESUME_CAP_MIB} MiB/s): re-fetched MiB (aria2c default saves)" "$(get c_qmgr_refetched)" "$(get c_curl_refetched)" "$(get c_aria2c_refetched)"
    row "same, aria2c --auto-save-interval=1" "$(get c_qmgr_refetched)" "$(get c_curl_refetched)" "$(get c_aria2c_save1s_refetched)"
    row "re-fetched of what the client had read before the kill, MiB (aria2c default saves)" "$(get c_qmgr_lost_client_bytes)" "$(get c_curl_lost_client_bytes)" "$(get c_aria2c_lost_client_bytes)"
    row "same, aria2c --auto-save-interval=1" "$(get c_qmgr_lost_client_bytes)" "$(get c_curl_lost_client_bytes)" "$(get c_aria2c_save1s_lost_client_bytes)"
    row "resumed file sha256 ok (runs)" "$(get c_qmgr_ok_runs)" "$(get c_curl_ok_runs)" "$(get c_aria2c_ok_runs) ($(get c_aria2c_save1s_ok_runs) save1s)"
  fi
  if has d; then
    row "${BIG_MIB} MiB: CPU s (user+sys)" "$(get d_qmgr_big_cpu)" "$(get d_curl_big_cpu)" "$(get d_aria2c_big_cpu)"
    row "${BIG_MIB} MiB: peak RSS MiB" "$(get d_qmgr_big_peak_rss)" "$(get d_curl_big_peak_rss)" "$(get d_aria2c_big_peak_rss)"
    row "4 KiB file: CPU s / peak RSS MiB (qmgr start-up)" "$(get d_qmgr_tiny_cpu) / $(get d_qmgr_tiny_peak_rss)" - -
  fi
  echo
  echo "medians of RUNS=$RUNS; $(sed -n 's/^date: //p' "$WORK/meta.txt"); $(sed -n 's/^machine: //p' "$WORK/meta.txt")"
} | tee "$WORK/table.md"
say "done: figures in $FIG, table in $WORK/table.md, raw logs in $LOG"
