#!/usr/bin/env bash
# Installs what only the tests need: curl (the integration tests' HTTP
# client), Debian's headless Chromium and Node.js (the browser test of the
# chat page and the OpenAI client library test), PostgreSQL 15's server (the
# cluster tests start their own cluster in a temporary folder and never use
# the one Debian's package sets up), and the npm
# packages pinned in tests/js/package-lock.json (in tests/js/node_modules).
#
# Idempotent, like deps.sh. A Node.js already on the machine (>= 18) is used
# as it is; Debian's nodejs and npm are installed only when there is none.
# When something cannot be installed the JS tests skip loudly (and fail
# under CI=true), so this script reports and goes on rather than stopping.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "test-deps: need root to run: $*" >&2; return 1; fi
}

missing=()
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql-15)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    echo "test-deps: could not install ${missing[*]}; the tests that need them will say so" >&2
else
  echo "test-deps: curl, chromium, node, npm and PostgreSQL present"
fi

js=$top/tests/js
stamp=$js/node_modules/.package-lock.json
if ! command -v npm >/dev/null; then
  echo "test-deps: no npm: the JS client tests will skip" >&2
elif [ -f "$stamp" ] && [ ! "$js/package-lock.json" -nt "$stamp" ]; then
  echo "test-deps: npm packages present (tests/js/node_modules)"
else
  echo "test-deps: npm ci in tests/js"
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "test-deps: npm ci failed; the JS client tests will say so" >&2
fi
exit 0
