# The compose stack's processes, started natively (no Docker engine here): PostgreSQL with
# pgvector and Redis with AOF from local/services, `ragbase serve --no-worker --migrate` and
# `ragbase worker`s with the environment and commands that docker-compose.prod.yml gives them.
# Sourced by local/check/stack and local/bench/stack:
#
#   source local/lib/native-stack.bash
#   stack_up BINARY WORKERS [NAME=VALUE...]   (settings for .env)
#                                → BACKEND_URL, WORKER_URLS[], BACKEND_PID, WORKER_PIDS[], API_KEY
#   stack_down                   (also on EXIT)
#
# What differs from the containers, and why: each process gets a free PORT (containers each have
# their own network namespace; here all share loopback), EMBEDDING_MODEL_DIR is the checkout's
# model (the image's ENV points at its copy), and the database and Redis URLs point at loopback.

source "$(dirname "${BASH_SOURCE[0]}")/apt.bash"
CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DIR=$(mktemp -d /tmp/ragbase-stack.XXXXXX)
STACK_DB=stack_$(date +%s)_$$
API_KEY=stack-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
REDIS_ENV=(RAGBASE_SERVICES_DIR="$STACK_DIR/services" REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')" REDIS_APPENDONLY=yes)
WORKER_PIDS=()
WORKER_URLS=()
STACK_DATABASES=()

stack_log() { printf 'stack: %s\n' "$*" >&2; }

# Debian's docker-compose (config validation only) and Prometheus (promtool, and the server).
need_deploy_tools() {
  need_command docker-compose docker-compose prometheus
  need_command promtool prometheus
}

# compose_config ENV_FILE: the compose file as docker-compose resolves it with ENV_FILE alone
# (variables in the caller's environment would take precedence over the file's).
compose_config() {
  env -i PATH="$PATH" docker-compose --env-file "$1" -f "$CHECKOUT/docker-compose.prod.yml" config
}

# service_spec SERVICE: its resolved environment as NAME=value lines, then `--`, then its
# command, one argument a line, from the rendered compose file.
service_spec() {
  python3 -c '
import sys, yaml
service = yaml.safe_load(sys.stdin)["services"][sys.argv[1]]
for name, value in service["environment"].items():
    print(f"{name}={value if value is not None else str()}")
print("--")
print("\n".join(service["command"]))
' "$1" <"$STACK_DIR/compose.yml"
}

# write_env_file [NAME=VALUE...]: the deployment's .env, made from the template as an operator
# would: the secrets set, the URLs pointed at loopback, and any other settings given.
write_env_file() {
  local setting edits=()
  for setting in POSTGRES_PASSWORD=unused-natively "API_KEY=$API_KEY" "$@"; do
    edits+=(-e "s|^${setting%%=*}=.*|$setting|")
  done
  sed "${edits[@]}" "$CHECKOUT/env.production.template" >"$STACK_DIR/.env"
}

# start_ragbase NAME SERVICE [ENV=VALUE...]: runs the service's command with its environment;
# echoes the URL it listens on.
start_ragbase() {
  local name=$1 service=$2 spec vars=() args=() line seen_separator=
  shift 2
  spec=$(service_spec "$service")
  while IFS= read -r line; do
    if [[ $line == -- ]]; then
      seen_separator=1
    elif [[ -n $seen_separator ]]; then
      args+=("$line")
    else
      vars+=("$line")
    fi
  done <<<"$spec"
  env -i PATH="$PATH" HOME="$HOME" "${vars[@]}" PORT=0 EMBEDDING_MODEL_DIR="$EMBEDDING_MODEL_DIR" "$@" \
    "$RAGBASE_BIN" "${args[@]}" >"$STACK_DIR/$name.log" 2>&1 &
  echo $! >"$STACK_DIR/$name.pid"
  local addr=
  for _ in $(seq 600); do
    addr=$(grep -m1 '"msg":"Server running on port ' "$STACK_DIR/$name.log" | grep -o '"addr":"[^"]*"' | cut -d'"' -f4) || true
    [[ -n $addr ]] && break
    kill -0 "$(cat "$STACK_DIR/$name.pid")" 2>/dev/null || { tail -n 20 "$STACK_DIR/$name.log" >&2; stack_log "$name exited"; return 1; }
    sleep 0.1
  done
  [[ -n $addr ]] || { tail -n 20 "$STACK_DIR/$name.log" >&2; stack_log "$name did not start"; return 1; }
  echo "http://127.0.0.1:${addr##*:}"
}

pid_of() { cat "$STACK_DIR/$1.pid"; }

# stop_process NAME: SIGTERM (a graceful stop, as `docker stop`), then wait.
stop_process() {
  local pid
  pid=$(pid_of "$1" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

start_workers() {
  local n=$1 i
  WORKER_PIDS=()
  WORKER_URLS=()
  for i in $(seq "$n"); do
    WORKER_URLS+=("$(start_ragbase "worker-$i" worker)")
    WORKER_PIDS+=("$(pid_of "worker-$i")")
  done
}

stop_workers() {
  local i
  for i in "${!WORKER_PIDS[@]}"; do stop_process "worker-$((i + 1))"; done
}

create_database() {
  "$CHECKOUT/local/services" psql -q -d postgres -c "CREATE DATABASE $1" >&2
  STACK_DATABASES+=("$1")
}

stack_up() {
  RAGBASE_BIN=$1
  local workers=$2
  shift 2
  need_deploy_tools
  eval "$("$CHECKOUT/local/services" start postgres)"
  eval "$(env "${REDIS_ENV[@]}" "$CHECKOUT/local/services" start redis)"
  eval "$("$CHECKOUT/local/fetch-model")"
  create_database "$STACK_DB"
  write_env_file "DATABASE_URL=${DATABASE_URL%/*}/$STACK_DB?connection_limit=10" "REDIS_URL=$REDIS_URL" "$@"
  compose_config "$STACK_DIR/.env" >"$STACK_DIR/compose.yml"
  stack_log "backend and $workers workers from docker-compose.prod.yml; logs in $STACK_DIR"
  BACKEND_URL=$(start_ragbase backend backend)
  BACKEND_PID=$(pid_of backend)
  start_workers "$workers"
}

stack_down() {
  local name db
  for name in "$STACK_DIR"/*.pid; do
    [[ -e $name ]] && stop_process "$(basename "$name" .pid)"
  done
  env "${REDIS_ENV[@]}" "$CHECKOUT/local/services" stop redis 2>/dev/null || true
  for db in "${STACK_DATABASES[@]}"; do
    "$CHECKOUT/local/services" psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >&2 || true
  done
  [[ -n ${KEEP_STACK_DIR:-} ]] || rm -rf "$STACK_DIR"
}
trap stack_down EXIT
