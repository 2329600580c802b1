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

finish() {
  [ -n "${RAGD_PID:-}" ] && kill -TERM $RAGD_PID 2>/dev/null && wait $RAGD_PID 2>/dev/null
  echo "$_pass passed, $_fail failed"; [ $_fail -eq 0 ]
}
