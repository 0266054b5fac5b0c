# Sourced by the benchmarks (run.sh, all.sh, throttle.sh): small shared helpers.
# bench_stream NAME BYTES [SEED] -> stdout: BYTES of AES-256-CTR keystream keyed by SEED:NAME (SEED defaults to $SEED):
#   incompressible, byte-identical between runs, ~1 GB/s. Cut it with `split` for many files in one pass.
bench_stream() {
  local seed=${3:-$SEED} key iv
  key=$(printf '%s:%s:key' "$seed" "$1" | sha256sum | cut -c1-64)
  iv=$(printf '%s:%s:iv' "$seed" "$1" | sha256sum | cut -c1-32)
  # head closes the pipe early; openssl then dies of SIGPIPE, which is expected
  { openssl enc -aes-256-ctr -nosalt -K "$key" -iv "$iv" < /dev/zero 2>/dev/null || true; } | head -c "$2"
}
# bench_median < numbers -> the median (printf %.6g), or nan for no input
bench_median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
  printf "%.6g\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# bench_ratio A B -> A / B with 2 decimals (3 below 0.1), or n/a unless both are numbers and B > 0
bench_ratio() {
  if [[ $1 =~ ^[0-9.]+(e-?[0-9]+)?$ && $2 =~ ^[0-9.]+(e-?[0-9]+)?$ ]] && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf (r < 0.1 ? "%.3f\n" : "%.2f\n"), r }'
  else echo n/a; fi
}

# bench_stop_children: for a cleanup trap. Kills $CHILD (a client started in the background) with SIGKILL and stops
# the private nginx started under `timeout` as $NGINX_PID (graceful QUIT to its master from $NG/nginx.pid, up to 5 s,
# then TERM). Either may be empty.
bench_stop_children() {
  if [ -n "${CHILD:-}" ]; then kill -9 "$CHILD" 2>/dev/null || true; fi
  if [ -n "${NGINX_PID:-}" ]; then
    [ -s "$NG/nginx.pid" ] && kill -QUIT "$(cat "$NG/nginx.pid")" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true
  fi
}
