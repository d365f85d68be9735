# Sourced by the checks that drive a running server. `serve_ragbase BINARY LOG NAME=VALUE...`
# starts `BINARY serve --migrate` on a free port with only the settings given (and the model),
# waits until it listens, and sets $server (its pid) and $url. `stop_ragbase` stops it.
serve_ragbase() {
  local bin=$1 log=$2
  shift 2
  env -i PATH="$PATH" HOME="$HOME" "$@" PORT=0 EMBEDDING_MODEL_DIR="$EMBEDDING_MODEL_DIR" \
    LOG_FORMAT=json "$bin" serve --migrate >"$log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    url=$(grep -o '"addr":"[^"]*"' "$log" | head -1 | cut -d'"' -f4 || true)
    [[ -n $url ]] && url=http://$url && return
    kill -0 "$server" 2>/dev/null || break
    sleep 0.2
  done
  cat "$log" >&2
  echo "the server did not start" >&2
  exit 1
}

stop_ragbase() {
  [[ -n ${server:-} ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  server=
}
