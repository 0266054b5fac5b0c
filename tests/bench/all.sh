#!/usr/bin/env bash
# tests/bench/all.sh -- issue 9's figures in one invocation: Qmgr beside curl and aria2c, ONE loopback nginx.
#
#     tests/bench/all.sh                    # full run (1 GiB, 1,000 x 64 KiB, 10,000 x 4 KiB, 10,000 groups): ~1 h on 2 cores
#     QUICK=1 tests/bench/all.sh            # quick check that every figure prints: ~7 min on 2 cores
#     SECTIONS="files recovery" QUICK=1 tests/bench/all.sh
#
# Not part of CI. Starts one private nginx on 127.0.0.1:PORT (under `timeout NGINX_TTL`, stopped by an EXIT trap)
# serving WORK/www, logging every request ("$request" status bytes "range" $msec $request_time, nginx-conf.sh), and
# runs the sections below against it; the older scripts run in their shared-server mode (SHARED_WWW, see
# nginx-conf.sh). Writes WORK/figures.txt (`name value unit`, also on stdout) and WORK/table.md (figure | qmgr | curl |
# aria2c | qmgr/curl | qmgr/aria2c; ratios are always qmgr / peer, so > 1 is worse for times and better for rates).
# Sections (SECTIONS, default all):
#   big       run.sh sections a + d on a BIG_MIB file: wall s, MiB/s over wall time, CPU s (user+sys) per GiB and peak
#             RSS (GNU time -v) of `curl`, `aria2c -x1`, `qmgr transfer`; run.sh a also times a 4 KiB file (startup).
#   startup   the fixed cost of one `qmgr transfer` of 4 KiB: wall s and peak RSS (run.sh a + d's tiny file; both
#             come from the same run.sh invocation as `big`). tests/bench/startup.sh, where present, has the detail.
#   resume    run.sh section c: SIGKILL at KILL_PCT % of the BIG_MIB file at RESUME_CAP_MIB MiB/s, then resume (curl
#             -C -, aria2c -c with default and 1 s control-file saves, qmgr `serve --exit-when-idle`): MiB re-fetched.
#   files     FILES64 x 64 KiB and FILES4 x 4 KiB (one seeded stream cut with split): files/s of `curl -Z
#             --parallel-max CONC` (a -K config of url/output pairs), `aria2c -j CONC -i LIST`, `qmgr transfer -i LIST`
#             (the CLI splits it into jobs of <= 200 files in one group; a fresh --data-dir per run; wall includes the
#             process start) and the embedding API (tests/bench/ScaleBench: API_GROUPS groups, jobs of 200 files,
#             AutoComplete, created/added/resumed one after the other; wall from the first call to the last job
#             Acknowledged, the node's start excluded; also the time of the create/add/resume calls). Every output set
#             is checked (count and sha256 of the concatenation). Old output is moved aside and deleted at exit.
#   journal   (with files) journal events per second: rows of the SQLite `journal` table in the data directory after
#             the largest CLI and API runs, divided by that run's wall time; also events per file.
#   recovery  a store of REC_GROUPS groups built with ScaleBench store (REC_GROUPS - REC_UNFINISHED groups with one
#             Acknowledged job of one 4 KiB file; REC_UNFINISHED groups whose one job of one REC_UNFINISHED_KIB file was
#             Queued/Transferring when the node stopped), copied, then `qmgr serve --exit-when-idle` on the copy:
#             start -> "Recovered N groups" logged, -> first request of an unfinished job in nginx's log, -> last
#             response, -> process exit (all done); peak RSS of serve. Building takes minutes (10,000 groups: 4 min on a
#             shared 2-core machine at 8f2654c): REC_CACHE=DIR keeps the built store between invocations (keyed by the
#             counts, the port and the last commit of src/ and hocon/). The unfinished jobs' targets are restored from a
#             pristine copy before every run.
#   throttle  throttle.sh section r: achieved/cap over WINDOW s at 1, 10, 100 MiB/s (CAPS_MIB) for each tool.
#   api       api.sh + ApiBench: API calls/s and p50/p99 latency of queries and commands while API_JOBS transfers run,
#             qmgr's REST API beside aria2c's JSON-RPC (curl has no API: "-").
# Knobs (environment) [full / QUICK=1 defaults]:
#   QUICK [0]  SECTIONS ["big startup resume files journal recovery throttle api"]  RUNS [3 / 1] (medians of RUNS)
#   BIG_MIB [1024 / 64]  FILES64 [1000 / 1000]  FILES4 [10000 / 1000]  CONC [16] (curl/aria2c parallelism)
#   API_GROUPS [5]  KILL_PCT [40]  RESUME_CAP_MIB [100 / 32]  REC_GROUPS [10000 / 1000]  REC_UNFINISHED [100]
#   REC_UNFINISHED_KIB [1024]  REC_PARALLEL [32] (submissions in flight while building)  REC_CACHE [unset]
#   CAPS_MIB ["1 10 100"]  WINDOW [10] (curl runs ~7-9 MiB ahead, then pauses: shorter windows mislead)
#   THROTTLE_RUNS [1]  API_JOBS [16]  API_SECONDS [10 / 3]
#   PORT [18291]  SEED [qmgr-bench-1]  WORK [mktemp -d]  KEEP [0] (1 keeps the corpus and outputs)  BUILD [1]
#   TOOL_TIMEOUT [1800] s per client run  NGINX_TTL [14400] s  TIME_BIN [/usr/bin/time]
#   QMGR_HOCON is passed through to every qmgr process (the CLI, serve and ScaleBench read it).
# Requires: bash >= 5, dotnet SDK 10, nginx, curl, aria2c, GNU time, ss (iproute2), openssl, sqlite3 or python3.
# As root with apt-get it installs missing packages (nginx-light aria2 curl time iproute2 openssl sqlite3).
# The machine is shared and noisy: compare tools within one run only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/nginx-conf.sh"
. "$HERE/lib.sh"

QUICK=${QUICK:-0}
q() { if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }   # full / quick default
SECTIONS=${SECTIONS:-"big startup resume files journal recovery throttle api"}
RUNS=${RUNS:-$(q 3 1)}; BIG_MIB=${BIG_MIB:-$(q 1024 64)}; FILES64=${FILES64:-1000}; FILES4=${FILES4:-$(q 10000 1000)}
CONC=${CONC:-16}; API_GROUPS=${API_GROUPS:-5}; KILL_PCT=${KILL_PCT:-40}; RESUME_CAP_MIB=${RESUME_CAP_MIB:-$(q 100 32)}
REC_GROUPS=${REC_GROUPS:-$(q 10000 1000)}; REC_UNFINISHED=${REC_UNFINISHED:-100}; REC_UNFINISHED_KIB=${REC_UNFINISHED_KIB:-1024}
REC_PARALLEL=${REC_PARALLEL:-32}; REC_CACHE=${REC_CACHE:-}
CAPS_MIB=${CAPS_MIB:-"1 10 100"}; WINDOW=${WINDOW:-10}; THROTTLE_RUNS=${THROTTLE_RUNS:-1}
API_JOBS=${API_JOBS:-16}; API_SECONDS=${API_SECONDS:-$(q 10 3)}
PORT=${PORT:-18291}; SEED=${SEED:-qmgr-bench-1}; KEEP=${KEEP:-0}; BUILD=${BUILD:-1}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-1800}; NGINX_TTL=${NGINX_TTL:-14400}; TIME_BIN=${TIME_BIN:-/usr/bin/time}
MIB=1048576
say() { echo "all: [$(printf '%4d' "$SECONDS") s] $*" >&2; }
die() { echo "all: $*" >&2; exit 1; }
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "bash >= 5 required"

# ---------------------------------------------------------------- tools, build
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
missing=()
for t in curl:curl aria2c:aria2 ss:iproute2 openssl:openssl; do command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}"); done
[ -x "$NGINX" ] || missing+=(nginx-light)
{ [ -x "$TIME_BIN" ] && "$TIME_BIN" --version 2>&1 | grep -q GNU; } || missing+=(time)
command -v sqlite3 >/dev/null || command -v python3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  else die "missing tools; install them with: apt-get update && apt-get install -y ${missing[*]}"; fi
fi
command -v dotnet >/dev/null || die "dotnet (the .NET 10 SDK) is not on PATH"
if [ "$BUILD" = 1 ]; then
  say "building qmgr, ScaleBench, ApiBench (Release)"
  for p in src/Qmgr.Host tests/bench/ScaleBench tests/bench/ApiBench; do
    (cd "$ROOT" && dotnet build "$p" -c Release -nologo -v q -clp:ErrorsOnly >&2) || die "build of $p failed"
  done
fi
QMGR_DLL=$ROOT/src/Qmgr.Host/bin/Release/net10.0/qmgr.dll
SCALE_DLL=$ROOT/tests/bench/ScaleBench/bin/Release/net10.0/ScaleBench.dll
[ -f "$QMGR_DLL" ] && [ -f "$SCALE_DLL" ] || die "no Release build (BUILD=1, or dotnet build src/Qmgr.Host tests/bench/ScaleBench -c Release)"
QMGR=(dotnet "$QMGR_DLL"); SCALE=(dotnet "$SCALE_DLL")
if ss -ltnH "( sport = :$PORT )" | grep -q .; then die "port $PORT is in use (set PORT=)"; fi
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
SRC_REV=$(git -C "$ROOT" log -1 --format=%h -- src hocon 2>/dev/null || echo unknown)   # the recovery store's cache key
[ -n "$(git -C "$ROOT" status --porcelain -- src hocon 2>/dev/null)" ] && { REV=$REV-dirty; SRC_REV=$SRC_REV-dirty; }

# ---------------------------------------------------------------- work dir, nginx, trap
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/qmgr-all.XXXXXX")}; mkdir -p "$WORK"; chmod 755 "$WORK"; WORK=$(cd "$WORK" && pwd)
WWW=$WORK/www; NG=$WORK/nginx; LOG=$WORK/logs; DL=$WORK/dl; TRASH=$WORK/trash; ACCESS=$NG/logs/access.log
mkdir -p "$WWW" "$NG/logs" "$NG/tmp" "$LOG" "$DL" "$TRASH"
FIG=$WORK/figures.txt; : > "$FIG"
BASE=http://127.0.0.1:$PORT
NGINX_PID=""; CHILD=""
cleanup() {
  local rc=$?
  bench_stop_children
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WWW" "$DL" "$TRASH" "$WORK/rec-store" "$WORK/rec-run"; fi
  say "figures in $FIG, table in $WORK/table.md, logs in $LOG"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nginx_conf "$NG" "$PORT" "$WWW" "$(nginx_bench_log "$ACCESS")" > "$NG/nginx.conf"
"$NGINX" -t -q -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" || die "nginx config test failed"
timeout --signal=TERM "$NGINX_TTL" "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" > "$NG/logs/stdout.log" 2>&1 &
NGINX_PID=$!
echo ok > "$WWW/ping"
for _ in $(seq 100); do curl -q -sf -o /dev/null "$BASE/ping" && break; sleep 0.1; done
curl -q -sf -o /dev/null "$BASE/ping" || die "nginx did not start (see $NG/logs/error.log)"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "fs: $(df -PT "$WORK" | awk 'NR == 2 { print $1, $2 }')"
  echo "tools: $("$NGINX" -v 2>&1 | sed 's/.*: //') | $(curl --version | head -1 | cut -d' ' -f1-2) | $(aria2c --version | head -1) | dotnet $(dotnet --version) | qmgr $REV"
  echo "knobs: QUICK=$QUICK RUNS=$RUNS BIG_MIB=$BIG_MIB FILES64=$FILES64 FILES4=$FILES4 CONC=$CONC API_GROUPS=$API_GROUPS RESUME_CAP_MIB=$RESUME_CAP_MIB REC_GROUPS=$REC_GROUPS REC_UNFINISHED=$REC_UNFINISHED CAPS_MIB='$CAPS_MIB' WINDOW=$WINDOW API_SECONDS=$API_SECONDS SECTIONS='$SECTIONS'"
} | tee "$WORK/meta.txt" | sed 's/^/# /' >&2

fig() { printf '%s %s %s\n' "$1" "$2" "$3" | tee -a "$FIG"; }
# add a sub-script's figure lines (name value unit) to FIG
take() { awk 'NF == 3 && $1 !~ /^#/' "$1" | tee -a "$FIG"; }
val() { awk -v n="$1" '$1 == n { v = $2 } END { print (v == "" ? "-" : v) }' "$FIG"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
secs() { if [[ $1 == nan || $2 == nan ]]; then echo nan; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; fi; }
rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.1f\n", $2 / 1024 }' "$1"; }
cpu_s() { awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f\n", u + s }' "$1"; }
aside() { [ -e "$1" ] && mv "$1" "$TRASH/$(basename "$1").$RANDOM$RANDOM"; mkdir -p "$1"; }   # no rm -rf before a timed run
journal_rows() { # DB -> number of journaled events (rows of the journal table)
  if command -v sqlite3 >/dev/null; then sqlite3 "file:$1?mode=ro" 'SELECT COUNT(*) FROM journal;'
  else python3 -c 'import sqlite3, sys; print(sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute("SELECT COUNT(*) FROM journal").fetchone()[0])' "$1"; fi; }

# ---------------------------------------------------------------- big, startup, resume: run.sh in shared mode
RUN_SECTIONS=""
{ has big || has startup; } && RUN_SECTIONS="a"
has resume && RUN_SECTIONS="$RUN_SECTIONS c"
{ has big || has startup; } && RUN_SECTIONS="$RUN_SECTIONS d"
if [ -n "$RUN_SECTIONS" ]; then
  say "run.sh sections '$RUN_SECTIONS' (BIG_MIB=$BIG_MIB, RUNS=$RUNS) on the shared nginx"
  rc=0
  SHARED_WWW=$WWW SHARED_ACCESS=$ACCESS WORK=$WORK/run PORT=$PORT BUILD=0 RUNS=$RUNS WARMUP=1 SECTIONS="$RUN_SECTIONS" \
    BIG_MIB=$BIG_MIB MID_MIB=16 SMALL_MIB=1 KILL_PCT=$KILL_PCT RESUME_FILE=big RESUME_CAP_MIB=$RESUME_CAP_MIB SEED=$SEED \
    TOOL_TIMEOUT=$TOOL_TIMEOUT TIME_BIN=$TIME_BIN "$HERE/run.sh" > "$LOG/run.out" 2> "$LOG/run.err" || rc=$?
  [ "$rc" = 0 ] || say "run.sh exited $rc (see $LOG/run.err)"
  take "$WORK/run/figures.txt" || true
  for t in qmgr curl aria2c; do   # CPU seconds per GiB
    c=$(val "d_${t}_big_cpu"); [ "$c" != - ] && fig "big_${t}_cpu_per_gib" "$(calc %.2f "$c * 1024 / $BIG_MIB")" s/GiB
  done
  c=$(val d_qmgr_big_cpu); s0=$(val d_qmgr_tiny_cpu)   # qmgr's start-up CPU (the 4 KiB run) taken out
  [ "$c" != - ] && [ "$s0" != - ] && fig big_qmgr_cpu_per_gib_after_startup "$(calc %.2f "($c - $s0) * 1024 / $BIG_MIB")" s/GiB
fi

# ---------------------------------------------------------------- files (and journal)
if has files; then
  for spec in "64k:65536:$FILES64:f:4" "4k:4096:$FILES4:t:5"; do
    IFS=: read -r set bytes n prefix digits <<< "$spec"
    [ "$n" -gt 0 ] || continue
    src=$WWW/files$set; mkdir -p "$src"
    say "corpus: $n x $bytes bytes in $src"
    bench_stream "files$set" $((n * bytes)) | (cd "$src" && split -b "$bytes" -d -a "$digits" --additional-suffix=.bin - "$prefix")
    want=$(cd "$src" && ls | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-64)
    cat "$src"/*.bin > /dev/null 2>&1 || find "$src" -type f -exec cat {} + > /dev/null   # warm the page cache
    out=$DL/files$set; lists=$WORK/lists; mkdir -p "$lists"
    (cd "$src" && ls | LC_ALL=C sort) > "$lists/$set.names"
    awk -v b="$BASE/files$set" -v o="$out" '{ printf "%s/%s %s/%s\n", b, $1, o, $1 }' "$lists/$set.names" > "$lists/$set.qmgr"
    awk -v b="$BASE/files$set" -v o="$out" '{ printf "url = \"%s/%s\"\noutput = \"%s/%s\"\n", b, $1, o, $1 }' "$lists/$set.names" > "$lists/$set.curl"
    awk -v b="$BASE/files$set" '{ printf "%s/%s\n  out=%s\n", b, $1, $1 }' "$lists/$set.names" > "$lists/$set.aria2"
    check_out() { [ "$(ls "$out" | wc -l)" = "$n" ] && [ "$(cd "$out" && ls | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-64)" = "$want" ]; }
    for tool in curl aria2c qmgr_cli qmgr_api; do
      tag=files${set}_$tool; ok=0
      for x in wall rss cpu submit journal process_wall create_job_ms_p50 add_files_ms_p50 resume_ms_p50 create_group_ms_p50 host_start_s; do : > "$LOG/$tag.$x"; done
      for r in $(seq "$RUNS"); do
        aside "$out"; dd=$DL/dd-$tag; aside "$dd"; sync
        case $tool in
          curl)     CMD=(curl -q -sSf --no-progress-meter -Z --parallel-max "$CONC" -K "$lists/$set.curl") ;;
          aria2c)   CMD=(aria2c --no-conf -q --allow-overwrite=true --auto-file-renaming=false -j "$CONC" -d "$out" -i "$lists/$set.aria2") ;;
          qmgr_cli) CMD=("${QMGR[@]}" transfer --data-dir "$dd" -i "$lists/$set.qmgr") ;;
          qmgr_api) CMD=("${SCALE[@]}" files "$dd" "$lists/$set.qmgr" "$API_GROUPS" 200 "$TOOL_TIMEOUT") ;;
        esac
        say "$tag run $r: $n files"
        rc=0; t0=$EPOCHREALTIME
        timeout "$TOOL_TIMEOUT" "$TIME_BIN" -v -o "$LOG/$tag.run$r.time" "${CMD[@]}" > "$LOG/$tag.run$r.out" 2> "$LOG/$tag.run$r.err" || rc=$?
        t1=$EPOCHREALTIME
        if [ "$rc" = 0 ] && check_out; then ok=$((ok + 1)); else say "$tag run $r: rc=$rc, output check failed or incomplete (see $LOG/$tag.run$r.err)"; continue; fi
        if [ "$tool" = qmgr_api ]; then   # wall from the first API call to the last Acknowledged (node start excluded)
          awk '$1 == "wall_s" { print $2 }' "$LOG/$tag.run$r.out" >> "$LOG/$tag.wall"
          awk '$1 == "submit_s" { print $2 }' "$LOG/$tag.run$r.out" >> "$LOG/$tag.submit"
          for k in create_job_ms_p50 add_files_ms_p50 resume_ms_p50 create_group_ms_p50 host_start_s; do
            awk -v k="$k" '$1 == k { print $2 }' "$LOG/$tag.run$r.out" >> "$LOG/$tag.$k"; done
          secs "$t0" "$t1" >> "$LOG/$tag.process_wall"
        else secs "$t0" "$t1" >> "$LOG/$tag.wall"; fi
        rss_mib "$LOG/$tag.run$r.time" >> "$LOG/$tag.rss"; cpu_s "$LOG/$tag.run$r.time" >> "$LOG/$tag.cpu"
        if [ "$tool" != curl ] && [ "$tool" != aria2c ] && [ -f "$dd/qmgr.db" ]; then
          ev=$(journal_rows "$dd/qmgr.db" || echo nan); w=$(tail -1 "$LOG/$tag.wall")
          echo "$ev $w" >> "$LOG/$tag.journal"
        fi
      done
      w=$(bench_median < "$LOG/$tag.wall")
      fig "${tag}_wall" "$w" s
      fig "${tag}_files_per_s" "$( [ "$w" = nan ] && echo nan || calc %.1f "$n / $w")" 1/s
      fig "${tag}_peak_rss" "$(bench_median < "$LOG/$tag.rss")" MiB
      fig "${tag}_cpu" "$(bench_median < "$LOG/$tag.cpu")" s
      fig "${tag}_ok_runs" "$ok/$RUNS" runs
      if [ "$tool" = qmgr_api ]; then
        fig "${tag}_submit_calls" "$(bench_median < "$LOG/$tag.submit")" s
        for k in create_group_ms_p50 create_job_ms_p50 add_files_ms_p50 resume_ms_p50; do fig "${tag}_$k" "$(bench_median < "$LOG/$tag.$k")" ms; done
        fig "${tag}_node_start" "$(bench_median < "$LOG/$tag.host_start_s")" s
        fig "${tag}_process_wall" "$(bench_median < "$LOG/$tag.process_wall")" s
      fi
      if has journal && [ -s "$LOG/$tag.journal" ]; then
        ev=$(awk '{ print $1 }' "$LOG/$tag.journal" | bench_median)
        fig "journal_${tag}_events" "$ev" count
        fig "journal_${tag}_events_per_file" "$(calc %.2f "$ev / $n")" count
        fig "journal_${tag}_events_per_s" "$(awk '$2 > 0 { printf "%.1f\n", $1 / $2 }' "$LOG/$tag.journal" | bench_median)" 1/s
      fi
    done
  done
fi

# ---------------------------------------------------------------- recovery of REC_GROUPS groups
if has recovery; then
  rec=$WWW/rec; mkdir -p "$rec"
  bench_stream rec-finished 4096 > "$rec/finished.bin"
  bench_stream rec-unfinished $((REC_UNFINISHED_KIB * 1024)) > "$rec/unfinished.bin"
  usha=$(sha256sum < "$rec/unfinished.bin" | cut -c1-64); usize=$((REC_UNFINISHED_KIB * 1024))
  if [ -n "$REC_CACHE" ]; then store=$REC_CACHE/rec-g$REC_GROUPS-u$REC_UNFINISHED-k$REC_UNFINISHED_KIB-p$PORT-$SRC_REV
  else store=$WORK/rec-store; fi
  mkdir -p "$store"; store=$(cd "$store" && pwd)
  if [ -f "$store/built" ]; then
    say "recovery: reusing the store in $store"
  else
    rm -rf "$store/data" "$store/out" "$store/unfinished.orig"
    say "recovery: building $REC_GROUPS groups ($REC_UNFINISHED unfinished) in $store (ScaleBench store; slow)"
    rc=0
    timeout "$TOOL_TIMEOUT" "${SCALE[@]}" store "$store/data" "$store/out" "$BASE/rec/finished.bin" "$BASE/rec/unfinished.bin" \
      "$REC_GROUPS" "$REC_UNFINISHED" "$REC_PARALLEL" "$TOOL_TIMEOUT" > "$LOG/rec-build.out" 2> "$LOG/rec-build.err" || rc=$?
    [ "$rc" = 0 ] || say "recovery: ScaleBench store exited $rc (see $LOG/rec-build.err)"
    cp -a "$store/out/unfinished" "$store/unfinished.orig"
    [ "$rc" = 0 ] && date -u +%FT%TZ > "$store/built"
    awk '{ print "rec_store_" $0 }' "$LOG/rec-build.out" > "$store/build-figures.txt"
  fi
  take "$store/build-figures.txt"
  : > "$LOG/rec.runs"
  [ -f "$store/built" ] || say "recovery: the store was not built completely: no timed runs"
  for r in $(seq "$RUNS"); do
    [ -f "$store/built" ] || break
    run=$WORK/rec-run; aside "$run"; rmdir "$run"
    cp -a "$store/data" "$run"
    rm -rf "$store/out/unfinished"; cp -a "$store/unfinished.orig" "$store/out/unfinished"   # 100 files: cheap
    sync
    l0=$(wc -l < "$ACCESS")
    say "recovery run $r: qmgr serve --exit-when-idle on a copy of $REC_GROUPS groups"
    t0=$EPOCHREALTIME   # every output line of serve gets the time it was read
    { rc=0; timeout "$TOOL_TIMEOUT" "$TIME_BIN" -v -o "$LOG/rec.run$r.time" "${QMGR[@]}" serve --data-dir "$run" --urls http://127.0.0.1:0 --exit-when-idle 2>&1 || rc=$?
      echo "@@exit $rc"; } | while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done > "$LOG/rec.run$r.out"
    t1=$EPOCHREALTIME
    rc=$(awk '$2 == "@@exit" { print $3 }' "$LOG/rec.run$r.out")
    sleep 0.3
    ready=$(awk '/Recovered [0-9]+ groups/ { print $1; exit }' "$LOG/rec.run$r.out")
    # the unfinished jobs' requests (…/unfinished.bin?u=N): the first one's start ($msec - $request_time), the last one's end
    read -r first last nreq nu < <(tail -n +$((l0 + 1)) "$ACCESS" | awk -F'"' '$2 ~ /unfinished\.bin\?u=/ { split($5, b, " ");
        s = b[1] - b[2]; if (!n || s < f) f = s; if (b[1] > l) l = b[1]; n++; match($2, /u=[0-9]+/); u[substr($2, RSTART, RLENGTH)] = 1 }
      END { if (n) printf "%.3f %.3f %d %d\n", f, l, n, length(u); else print "nan nan 0 0" }')
    okf=0; for f in "$store/out/unfinished"/*.bin; do [ -f "$f" ] && [ "$(stat -c %s "$f")" = "$usize" ] && [ "$(sha256sum < "$f" | cut -c1-64)" = "$usha" ] && okf=$((okf + 1)); done
    echo "$rc $(secs "$t0" "${ready:-nan}") $(secs "$t0" "$first") $(secs "$t0" "$last") $(secs "$t0" "$t1") $nreq $nu $okf $(rss_mib "$LOG/rec.run$r.time")" >> "$LOG/rec.runs"
    [ -n "$ready" ] || say "recovery run $r: no 'Recovered N groups' line (see $LOG/rec.run$r.out)"
    [ "$rc" = 0 ] && [ "$okf" = "$REC_UNFINISHED" ] || say "recovery run $r: rc=$rc, $okf of $REC_UNFINISHED unfinished files right (see $LOG/rec.run$r.out)"
  done
  col() { awk -v c="$1" '{ print $c }' "$LOG/rec.runs" | bench_median; }
  fig rec_groups "$REC_GROUPS" count
  fig rec_unfinished "$REC_UNFINISHED" count
  fig rec_to_recovered "$(col 2)" s
  fig rec_to_first_request "$(col 3)" s
  fig rec_to_last_response "$(col 4)" s
  fig rec_to_exit "$(col 5)" s
  fig rec_unfinished_files_ok "$(col 8)" count
  fig rec_serve_peak_rss "$(col 9)" MiB
  fig rec_ok_runs "$(awk -v u="$REC_UNFINISHED" '$1 == 0 && $8 == u { n++ } END { print n + 0 }' "$LOG/rec.runs")/$RUNS" runs
fi

# ---------------------------------------------------------------- throttle: throttle.sh section r in shared mode
if has throttle; then
  say "throttle.sh section r at $CAPS_MIB MiB/s, WINDOW=$WINDOW s"
  rc=0
  SHARED_WWW=$WWW SHARED_ACCESS=$ACCESS WORK=$WORK/throttle PORT=$PORT BUILD=0 SECTIONS=r CAPS_MIB="$CAPS_MIB" \
    RATE_RUNS=$THROTTLE_RUNS WINDOW=$WINDOW "$HERE/throttle.sh" > "$LOG/throttle.out" 2> "$LOG/throttle.err" || rc=$?
  [ "$rc" = 0 ] || say "throttle.sh exited $rc (see $LOG/throttle.err)"
  take "$WORK/throttle/figures.txt" || true
fi

# ---------------------------------------------------------------- api: api.sh + ApiBench in shared mode
if has api; then
  say "api.sh: $API_JOBS transfers, $API_SECONDS s of calls"
  rc=0
  SHARED_WWW=$WWW PORT=$PORT BUILD=0 JOBS=$API_JOBS SECONDS_=$API_SECONDS \
    timeout "$TOOL_TIMEOUT" "$HERE/api.sh" > "$LOG/api.out" 2> "$LOG/api.err" || rc=$?
  [ "$rc" = 0 ] || say "api.sh exited $rc (see $LOG/api.err)"
  awk '$1 !~ /^ratio_/' "$LOG/api.out" > "$LOG/api.figures"; take "$LOG/api.figures" || true
fi

# ---------------------------------------------------------------- table
ROWS=$WORK/rows.txt; : > "$ROWS"
row() { # KEY LABEL QMGR CURL ARIA2C (figure names, or - for none)
  local q c a; q=$(val "$3"); c=$( [ "$4" = - ] && echo - || val "$4"); a=$( [ "$5" = - ] && echo - || val "$5")
  [ "$q" = - ] && [ "$c" = - ] && [ "$a" = - ] && return 0
  local rc ra; rc=$(bench_ratio "$q" "$c"); ra=$(bench_ratio "$q" "$a")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$2" "$q" "$c" "$a" "$rc" "$ra" >> "$ROWS"
  [ "$rc" != n/a ] && fig "ratio_$1_qmgr_curl" "$rc" x
  [ "$ra" != n/a ] && fig "ratio_$1_qmgr_aria2c" "$ra" x
  return 0
}
row big_wall "1. $BIG_MIB MiB to disk, wall s" a_qmgr_big_wall a_curl_big_wall a_aria2c_big_wall
row big_rate "1. $BIG_MIB MiB, MiB/s over wall time" a_qmgr_big_rate a_curl_big_rate a_aria2c_big_rate
row big_server_rate "1. $BIG_MIB MiB, MiB/s server side (nginx log)" a_qmgr_big_server_rate a_curl_big_server_rate a_aria2c_big_server_rate
row big_cpu "1. CPU s (user+sys) per GiB" big_qmgr_cpu_per_gib big_curl_cpu_per_gib big_aria2c_cpu_per_gib
row big_cpu_net "1. CPU s per GiB, qmgr's start-up (4 KiB run) taken out" big_qmgr_cpu_per_gib_after_startup big_curl_cpu_per_gib big_aria2c_cpu_per_gib
row big_rss "1. $BIG_MIB MiB: peak RSS MiB" d_qmgr_big_peak_rss d_curl_big_peak_rss d_aria2c_big_peak_rss
for set in 64k 4k; do
  [ "$set" = 64k ] && n=$FILES64 || n=$FILES4
  row "files${set}_cli" "2. $n x $set: files/s, qmgr transfer -i (vs curl -Z, aria2c -j$CONC)" files${set}_qmgr_cli_files_per_s files${set}_curl_files_per_s files${set}_aria2c_files_per_s
  row "files${set}_api" "2. $n x $set: files/s, embedding API" files${set}_qmgr_api_files_per_s files${set}_curl_files_per_s files${set}_aria2c_files_per_s
  row "files${set}_api_calls" "2. $n x $set: API create/add/resume calls, s" files${set}_qmgr_api_submit_calls - -
  row "files${set}_rss" "2. $n x $set: peak RSS MiB (qmgr: CLI)" files${set}_qmgr_cli_peak_rss files${set}_curl_peak_rss files${set}_aria2c_peak_rss
done
row tiny_wall "3. one 4 KiB transfer, wall s" a_qmgr_tiny_wall a_curl_tiny_wall a_aria2c_tiny_wall
row tiny_rss "3. one 4 KiB transfer, peak RSS MiB" d_qmgr_tiny_peak_rss - -
for c in $CAPS_MIB; do
  row "cap${c}" "4. cap $c MiB/s: achieved/cap over ${WINDOW} s" r_qmgr_cap${c}M_ratio r_curl_cap${c}M_ratio r_aria2c_cap${c}M_ratio
done
row refetch "5. SIGKILL at $KILL_PCT % of $BIG_MIB MiB (cap $RESUME_CAP_MIB MiB/s): re-fetched MiB" c_qmgr_refetched c_curl_refetched c_aria2c_refetched
row refetch_save1s "5. same, aria2c --auto-save-interval=1" c_qmgr_refetched c_curl_refetched c_aria2c_save1s_refetched
row journal_cli "6. journal events/s, qmgr transfer -i $FILES4 x 4k" journal_files4k_qmgr_cli_events_per_s - -
row journal_api "6. journal events/s, embedding API $FILES4 x 4k" journal_files4k_qmgr_api_events_per_s - -
row journal_per_file "6. journal events per file (CLI, 4k)" journal_files4k_qmgr_cli_events_per_file - -
row rec_recovered "7. $REC_GROUPS groups: serve start to 'Recovered', s" rec_to_recovered - -
row rec_first "7. serve start to first request of the $REC_UNFINISHED unfinished, s" rec_to_first_request - -
row rec_done "7. serve start to all done (process exit), s" rec_to_exit - -
row api_rate "8. API calls/s while $API_JOBS transfers run" qmgr_api_calls_per_second - aria2c_api_calls_per_second
row api_q99 "8. API query p99, ms" qmgr_api_query_p99 - aria2c_api_query_p99
row api_c99 "8. API command p99, ms" qmgr_api_command_p99 - aria2c_api_command_p99
{
  echo
  echo "| figure | qmgr | curl | aria2c | qmgr/curl | qmgr/aria2c |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  cat "$ROWS"
  echo
  echo "medians of RUNS=$RUNS; $(sed -n 's/^date: //p' "$WORK/meta.txt"); $(sed -n 's/^machine: //p' "$WORK/meta.txt"); qmgr $REV"
} > "$WORK/table.md"
cat "$WORK/table.md" >&2
say "done"
