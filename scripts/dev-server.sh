# Shell functions to start and stop the dev server (sourced by scripts/with-dev-server and scripts/test).
#   dev_server_start   sets SURREAL_URL (exported) unless it is already set, or returns 1 with the log
#   dev_server_stop    stops the server it started (idempotent)

dev_server_pid=""
dev_server_log=""

dev_server_start() {
  if [ -n "${SURREAL_URL:-}" ]; then
    return 0
  fi
  local dir
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  if [ ! -d "$dir/node_modules/@surrealdb/node" ]; then
    echo "dev server: its npm packages are missing; run: make setup" >&2
    return 1
  fi
  dev_server_log=$(mktemp -t surreal-dev-server.XXXXXX)
  node "$dir/surreal-dev-server" --bind 127.0.0.1:0 >"$dev_server_log" 2>&1 &
  dev_server_pid=$!
  local url="" _
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^listening on \(http[^ ]*\)$/\1/p' "$dev_server_log" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$dev_server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "dev server: not ready (exited or silent for 30 s); its output:" >&2
    cat "$dev_server_log" >&2
    dev_server_stop
    return 1
  fi
  export SURREAL_URL="$url"
}

dev_server_stop() {
  if [ -n "$dev_server_pid" ]; then
    if kill -0 "$dev_server_pid" 2>/dev/null; then
      kill -TERM "$dev_server_pid" 2>/dev/null || true
      local _
      for _ in $(seq 1 50); do kill -0 "$dev_server_pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$dev_server_pid" 2>/dev/null || true
    fi
    wait "$dev_server_pid" 2>/dev/null || true
    unset SURREAL_URL
    dev_server_pid=""
  fi
  [ -z "$dev_server_log" ] || rm -f "$dev_server_log"
  dev_server_log=""
}
