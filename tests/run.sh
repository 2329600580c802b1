#!/usr/bin/env bash
# Runs every test: unit binaries (one process each), golden tests against
# $RAG_TESTDATA, then integration scripts driving the built programs. Each
# prints "N passed, N failed" as its last line; this script adds them up and
# prints the same line for the whole run. Exit status 0 only when nothing failed.
#
#   tests/run.sh [PATTERN]     only tests whose file name contains PATTERN
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export BUILD=${BUILD:-build}
export RAG_BIN=$top/$BUILD/rag
export RAGD_BIN=$top/$BUILD/ragd
export RAG_TOOLS=$top/$BUILD/tools
export RAG_TESTDATA=${RAG_TESTDATA:-$top/../shared/testdata}
export RAG_LOG=${RAG_LOG:-warn}
pattern=${1:-}
tmp_root=$top/$BUILD/test-tmp
rm -rf "$tmp_root"; mkdir -p "$tmp_root"

if [ ! -d "$RAG_TESTDATA" ]; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL: test data folder $RAG_TESTDATA is missing and CI=true"; exit 1
  fi
  echo "########################################################################"
  echo "# SKIP: test data folder $RAG_TESTDATA is missing: golden tests skip. #"
  echo "########################################################################"
fi

total_pass=0 total_fail=0 failed_files=()
run_one() { # name, command...
  local name=$1; shift
  local t0=$SECONDS log=$tmp_root/$(basename "$name").log
  TMPDIR=$(mktemp -d "$tmp_root/$(basename "$name").XXXX") timeout 900 "$@" >"$log" 2>&1
  local rc=$? last p f
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
  p=$(echo "$last" | sed -nE 's/^([0-9]+) passed.*/\1/p'); p=${p:-0}
  f=$(echo "$last" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p'); f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi  # crashed or timed out
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [ "$f" != 0 ]; then
    failed_files+=("$name")
    printf 'FAIL %-40s %3d passed, %d failed (exit %d, %ds)\n' "$name" "$p" "$f" $rc $((SECONDS - t0))
    sed 's/^/    | /' "$log" | grep -vE '^    \| ok ' | tail -n 60
  else
    printf 'ok   %-40s %3d passed (%ds)%s\n' "$name" "$p" $((SECONDS - t0)) \
      "$(grep -q SKIP "$log" && echo "  [some SKIPPED: see $log]")"
  fi
}

for bin in "$BUILD"/tests/test_*; do
  [ -x "$bin" ] || continue
  case "$bin" in *"$pattern"*) ;; *) continue ;; esac
  run_one "unit/$(basename "$bin")" "$bin"
done
for bin in "$BUILD"/golden/test_*; do
  [ -x "$bin" ] || continue
  case "$bin" in *"$pattern"*) ;; *) continue ;; esac
  run_one "golden/$(basename "$bin")" "$bin"
done
for dir in golden integration; do
  for sh in tests/$dir/*.sh; do
    [ -f "$sh" ] || continue
    case "$sh" in *"$pattern"*) ;; *) continue ;; esac
    run_one "$dir/$(basename "$sh" .sh)" bash "$sh"
  done
done

echo
[ ${#failed_files[@]} -gt 0 ] && echo "failed: ${failed_files[*]}"
[ $total_fail -eq 0 ] && rm -rf "$tmp_root"
echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
