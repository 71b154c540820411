#!/usr/bin/env bash
# Checks the /metrics exposition with `promtool check metrics`.
#
# Builds nothing: expects dist/ to be built and the models to exist
# (`npm run models`). Starts its own redis-server and `infercache serve` on
# free ports, makes one Predict call so labelled series exist, then lints the
# scrape. Fails when promtool cannot parse the scrape or reports a problem
# with any metric whose name starts with infercache_ (all of ours do,
# including the process and Node.js metrics).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in node redis-server promtool curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "check_metrics: $tool not found on PATH" >&2
    exit 1
  fi
done
if [ ! -f dist/cli/main.js ]; then
  echo "check_metrics: dist/cli/main.js is missing; run npm run build (or npm run models) first" >&2
  exit 1
fi

work=$(mktemp -d)
redis_pid=''
serve_pid=''
cleanup() {
  local pid
  for pid in "$serve_pid" "$redis_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port that was free a moment ago (the kernel picks it).
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Waits until "$@" succeeds; the named process must stay alive meanwhile.
wait_for() {
  local what=$1 pid=$2 log=$3
  shift 3
  local i
  for i in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "check_metrics: $what exited before it was ready; its output:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "check_metrics: $what not ready after 30 s; its output:" >&2
  cat "$log" >&2
  exit 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
wait_for redis-server "$redis_pid" "$work/redis.log" \
  node -e "const c=require('net').connect($redis_port,'127.0.0.1');c.on('connect',()=>process.exit(0));c.on('error',()=>process.exit(1))"

grpc_port=$(free_port)
metrics_port=$(free_port)
metrics_url="http://127.0.0.1:$metrics_port/metrics"
INFERCACHE_GRPC_ADDR="127.0.0.1:$grpc_port" \
  INFERCACHE_METRICS_ADDR="127.0.0.1:$metrics_port" \
  INFERCACHE_REDIS_URL="redis://127.0.0.1:$redis_port" \
  node dist/cli/main.js serve >"$work/serve.log" 2>&1 &
serve_pid=$!
wait_for 'infercache serve' "$serve_pid" "$work/serve.log" curl -sf "$metrics_url"

if ! node dist/cli/main.js predict --addr "127.0.0.1:$grpc_port" -m iris -i features=5.1,3.5,1.4,0.2 \
  >"$work/predict.out" 2>&1; then
  echo "check_metrics: the Predict call failed:" >&2
  cat "$work/predict.out" "$work/serve.log" >&2
  exit 1
fi

curl -sf "$metrics_url" >"$work/metrics.txt"
series=$(grep -vc '^#' "$work/metrics.txt" || true)

set +e
promtool check metrics <"$work/metrics.txt" >"$work/promtool.out" 2>&1
promtool_rc=$?
set -e

if [ "$promtool_rc" -eq 0 ]; then
  echo "check_metrics: promtool check metrics passed ($series series)"
  exit 0
fi
# promtool prints one line per problem, starting with the metric's name; any
# other line (e.g. a parse error) means the scrape itself is broken.
if [ ! -s "$work/promtool.out" ] || grep -qE '^(infercache_|error)' "$work/promtool.out" ||
  grep -qvE '^[a-zA-Z_:][a-zA-Z0-9_:]* ' "$work/promtool.out"; then
  echo "check_metrics: promtool check metrics failed (exit $promtool_rc):" >&2
  cat "$work/promtool.out" >&2
  exit 1
fi
echo "check_metrics: passed; promtool reported only metrics outside infercache_ ($series series):"
cat "$work/promtool.out"
