#!/usr/bin/env bash
# Keyword searches per second through ragd (POST /v1/search, mode keyword,
# k = 10) on the generated corpus of bench_keyword_scale (60k chunks by
# default), with 1, 4 and 16 keep-alive connections for a few seconds
# each, for a query of three words (one very common) and a one-word query
# of a common word. Reports requests/s and p50/p99; never pass/fail.
#
#   bench/kw_ragd.sh [--chunks 60000] [--seconds 5]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
chunks=60000 seconds=5
while [ $# -gt 0 ]; do
  case $1 in
    --chunks) chunks=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: bench/kw_ragd.sh [--chunks N] [--seconds N]" >&2; exit 2 ;;
  esac
done
db=$("$top/build/bench/bench_keyword_scale" --chunks "$chunks" --print-db)
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp "$db" "$tmp/rag.db" # ragd adds its key: the cached corpus stays as generated
export RAG_DB=$tmp/rag.db RAG_LOG=warn
key=$("$top/build/rag" keys add bench --admin 2>/dev/null)
"$top/build/ragd" --listen 127.0.0.1:0 2> "$tmp/ragd.log" &
pid=$!
url=
for _ in $(seq 1 300); do
  url=$(sed -n 's/^ragd: listening on \(.*\)$/\1/p' "$tmp/ragd.log" | tail -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/ragd.log" >&2; exit 1; }
port=${url##*:}
mapfile -t q < <("$top/build/bench/bench_keyword_scale" --chunks "$chunks" --print-queries |
  awk -F'\t' '$1 ~ /^very common \+/ && !a++ { print $2 } $1 ~ /^common \(/ && !b++ { print $2 }')
echo "ragd keyword search, generated corpus of $chunks chunks, $(nproc) cores, ${seconds} s per run"
for query in "${q[@]}"; do
  for c in 1 4 16; do
    r=$("$top/build/tools/loadgen" --host 127.0.0.1 --port "$port" --path /v1/search --method POST \
      --header "Authorization: Bearer $key" --header "Content-Type: application/json" \
      --body "{\"query\":\"$query\",\"k\":10,\"mode\":\"keyword\"}" \
      --connections $c --duration "$seconds" --timeout 10 --expect 200)
    printf '  %-28s %2d connections: %s\n' "\"$query\"" $c \
      "$(echo "$r" | sed -E 's/.*"rps": *([0-9.]+).*"p50_ms": *([0-9.]+).*"p99_ms": *([0-9.]+).*/\1 searches\/s, p50 \2 ms, p99 \3 ms/')"
    echo "$r" | grep -q '"errors": *0' || echo "    (errors: $r)"
  done
done
