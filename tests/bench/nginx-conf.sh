# Sourced by the benchmarks: the private nginx they share.
# nginx_conf NG PORT WWW [ACCESS_DIRECTIVES] prints a config for one loopback server on 127.0.0.1:PORT serving WWW,
# with its pid, logs and temp paths under NG (NG/logs and NG/tmp must exist). ACCESS_DIRECTIVES replaces the default
# `access_log NG/logs/access.log;` (e.g. a log_format plus an access_log using it).
# nginx_bench_log LOGFILE prints the access directives run.sh and all.sh parse: one line per request,
#   "$request" $status $body_bytes_sent "$http_range" $msec $request_time $connection
# ($msec - $request_time = the request's start on the wall clock, seconds since the epoch).
# Shared-server mode: all.sh starts ONE nginx and passes SHARED_WWW (the root it serves) and SHARED_ACCESS (its
# access log, in the format above) to run.sh, throttle.sh and api.sh, which then put their files in
# SHARED_WWW/<their name> and start no nginx of their own (PORT is the shared nginx's port).
nginx_bench_log() {
  echo "log_format bench '\"\$request\" \$status \$body_bytes_sent \"\$http_range\" \$msec \$request_time \$connection'; access_log $1 bench;"
}
nginx_conf() {
  local ng=$1 port=$2 www=$3 access=${4:-"access_log $1/logs/access.log;"}
  cat <<EOF
daemon off;
worker_processes auto;
pid $ng/nginx.pid;
error_log $ng/logs/error.log warn;
events { worker_connections 1024; }
http {
  default_type application/octet-stream;
  sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_timeout 65;
  client_body_temp_path $ng/tmp/body;  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;   uwsgi_temp_path $ng/tmp/uwsgi;   scgi_temp_path $ng/tmp/scgi;
  $access
  server { listen 127.0.0.1:$port; root $www; location / { } }
}
EOF
}
