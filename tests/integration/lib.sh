# tests/integration/lib.sh: helpers for integration tests (sourced).
#
# Each script runs in its own $TMPDIR (set by tests/run.sh), uses its own
# database ($RAG_DB), and ends with `finish`, which prints "N passed, N failed".
set -u
: "${RAG_BIN:?run through tests/run.sh or make test}"
export RAG_DB=${TMPDIR:-/tmp}/rag.db
export XDG_CONFIG_HOME=${TMPDIR:-/tmp}/config  # never read the user's config
export NO_COLOR=1
T=${TMPDIR:-/tmp}
_pass=0 _fail=0

rag() { "$RAG_BIN" "$@"; }

ok()   { _pass=$((_pass + 1)); echo "ok   $*"; }
fail() { _fail=$((_fail + 1)); echo "FAIL $*"; }

# check DESC COMMAND...: passes when COMMAND exits 0.
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

# check_eq DESC ACTUAL EXPECTED
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', expected '$3'"; fi
}

# check_contains DESC HAYSTACK NEEDLE / check_not_contains DESC HAYSTACK NEEDLE
check_contains() {
  case "$2" in *"$3"*) ok "$1" ;; *) fail "$1: output lacks '$3'"; printf '%s\n' "$2" | head -n 20 | sed 's/^/      /' ;; esac
}
check_not_contains() {
  case "$2" in *"$3"*) fail "$1: output has '$3'"; printf '%s\n' "$2" | grep -F -- "$3" | head -n 5 | sed 's/^/      /' ;; *) ok "$1" ;; esac
}

# JSON from stdin through sqlite3's JSON functions (no extra tools needed):
#   echo "$json" | json_get '$.a.b'      the value at a path
#   echo "$json" | json_len '$.results'  the length of an array
_json() { local f; f=$(mktemp "$T/json.XXXXXX"); cat > "$f"; sqlite3 :memory: "select $1(readfile('$f'), '$2');"; rm -f "$f"; }
json_get() { _json json_extract "$1"; }
json_len() { _json json_array_length "$1"; }
# echo "$json" | json_sql "select count(*) from json_each(J, '$.a')": J (a
# word of its own, so a J inside a path or a name is left alone) is the document
json_sql() {
  local f sql; f=$(mktemp "$T/json.XXXXXX"); cat > "$f"
  sql=$(printf '%s' "$1" | sed "s|\bJ\b|readfile('$f')|g")
  sqlite3 :memory: "$sql"; rm -f "$f"
}

sql() { sqlite3 "$RAG_DB" "$@"; }

# need_models: sets M to the test models folder; without it the script
# ends here, skipped loudly (a failure under CI=true).
need_models() {
  M=$RAG_TESTDATA/models
  [ -d "$M" ] && return 0
  if [ "${CI:-}" = true ]; then fail "test models missing at $M under CI"
  else echo "SKIP: test models not found at $M (set RAG_TESTDATA)"; fi
  finish; exit
}

# ---- the daemon ------------------------------------------------------------
# ragd_start ARGS...: starts ragd on a free loopback port (its log in
# $T/ragd.log); sets RAGD_PID and RAGD_URL. ragd_stop stops it (SIGTERM) and
# returns its exit status.
ragd_start() {
  : > "$T/ragd.log"
  "$RAGD_BIN" --listen 127.0.0.1:0 "$@" 2>>"$T/ragd.log" &
  RAGD_PID=$!
  local i
  for i in $(seq 1 200); do
    RAGD_URL=$(sed -n 's/^ragd: listening on \(.*\)$/http:\/\/\1/p' "$T/ragd.log" | tail -n1)
    [ -n "$RAGD_URL" ] && return 0
    kill -0 $RAGD_PID 2>/dev/null || break
    sleep 0.05
  done
  echo "ragd did not start:"; sed 's/^/    /' "$T/ragd.log"; return 1
}
ragd_stop() {
  [ -n "${RAGD_PID:-}" ] || return 0
  kill -TERM $RAGD_PID 2>/dev/null; wait $RAGD_PID; local rc=$?; RAGD_PID=; return $rc
}
# api METHOD PATH KEY [curl args...]: prints the body, then the status on a
# line of its own ("HTTP 200"). KEY "-" sends no key.
api() {
  local m=$1 p=$2 k=$3; shift 3
  local auth=(); [ "$k" != - ] && auth=(-H "Authorization: Bearer $k")
  curl -s -X "$m" "${auth[@]}" -w '\nHTTP %{http_code}\n' "$@" "$RAGD_URL$p"
}
# status OUTPUT / body OUTPUT: the parts of api's output
status() { printf '%s\n' "$1" | tail -n1 | sed 's/^HTTP //'; }
body() { printf '%s\n' "$1" | sed '$d'; }

# ---- PostgreSQL ----------------------------------------------------------------
# pg_start: a PostgreSQL cluster of its own in a temporary folder under /tmp
# (the postgres user must reach it), run as the postgres user when we are
# root (PostgreSQL refuses root), on a free loopback port, password
# authentication over TCP. Sets PG_URL (postgresql://postgres:PW@...),
# PG_PASSWORD, PG_PORT, PG_DIR. Returns 1 when PostgreSQL is not installed
# or cannot start; pg_need turns that into a loud skip, or a failure under
# CI=true. pg_stop stops the cluster and removes its folder (finish does too);
# pg_ctl_do start|stop|kill runs pg_ctl on it (fault tests).
_pg_as=()
pg_start() {
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "pg_start: no PostgreSQL server (make test-deps installs postgresql-15)"; return 1; }
  PG_BIN=$bin
  PG_DIR=$(mktemp -d /tmp/rag-pg.XXXXXX) || return 1
  chmod 755 "$PG_DIR"
  PG_PASSWORD=pw$RANDOM$RANDOM$RANDOM
  printf '%s\n' "$PG_PASSWORD" > "$PG_DIR/pw"
  if [ "$(id -u)" = 0 ]; then _pg_as=(runuser -u postgres --); chown -R postgres "$PG_DIR"; fi
  "${_pg_as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/pw" -A scram-sha-256 \
    -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || { echo "pg_start: initdb failed:"; sed 's/^/    /' "$PG_DIR/initdb.log"; return 1; }
  rm -f "$PG_DIR/pw"
  local i
  for i in $(seq 1 10); do
    PG_PORT=$((20000 + RANDOM % 30000))
    pg_ctl_do start && break
    PG_PORT=
  done
  [ -n "$PG_PORT" ] || { echo "pg_start: PostgreSQL did not start:"; tail -n 20 "$PG_DIR/log" | sed 's/^/    /'; return 1; }
  PG_URL="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
}
pg_ctl_do() {
  case $1 in
    start) "${_pg_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
             -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100" start >/dev/null ;;
    stop) "${_pg_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -m fast stop >/dev/null ;;
    kill) local pid; pid=$(head -n1 "$PG_DIR/data/postmaster.pid" 2>/dev/null); [ -n "$pid" ] && kill -9 "$pid" ;;
  esac
}
pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  [ -f "$PG_DIR/data/postmaster.pid" ] && pg_ctl_do stop
  rm -rf "$PG_DIR"; PG_DIR=
}
# pg_need: pg_start, or skip the script (exit 0 after saying so loudly), or
# fail it under CI=true.
pg_need() {
  pg_start && return 0
  if [ "${CI:-}" = true ]; then fail "PostgreSQL starts (CI=true: required)"; finish; exit 1; fi
  echo "########################################################################"
  echo "# SKIP: PostgreSQL cannot start here: the cluster tests did not run.   #"
  echo "########################################################################"
  finish; exit 0
}
# psql_do SQL...: runs SQL on the test cluster as postgres
psql_do() { PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${PG_DB:-postgres}" "$@"; }

finish() {
  [ -n "${RAGD_PID:-}" ] && kill -TERM $RAGD_PID 2>/dev/null && wait $RAGD_PID 2>/dev/null
  pg_stop
  echo "$_pass passed, $_fail failed"; [ $_fail -eq 0 ]
}
