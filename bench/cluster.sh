#!/usr/bin/env bash
# bench/cluster.sh: cluster mode (PostgreSQL as the shared store), on a
# private PostgreSQL started here (tests/integration/lib.sh's pg_start: the
# postgres user, a loopback port, fsync off), with the test encoder
# (bert-mean-f32.gguf) and the CISI documents. Three measures, each next to
# its baseline measured in the same run; figures, never pass or fail:
#
#   ingest       the same files through the queue with 1 worker and with 2
#                (each run a fresh database; `rag worker --once --threads 1`:
#                one compute thread per worker, model.threads), in the order
#                1, 2, 2, 1 after a warm-up on 100 files; docs/s of
#                each (over its two runs) and the ratio 2 / 1. Beside them,
#                one `rag ingest` process into a single SQLite database
#                (threads = 1 too), which part 3 searches.
#   lag          two ragd nodes A and B on that cluster; uploads through A
#                at a steady rate (default 5/s for 20 s), each with a word of
#                its own; for each, the time from A's 201 to the first
#                keyword search on B that finds it (B is asked again as soon
#                as an answer comes: about 10 ms apart). p50 and p99, beside
#                cluster.max_lag's default (2 s).
#   search       the same CISI queries (hybrid: keyword and the test
#                encoder's vectors, k = 10) on a replica (`rag search --db
#                URL --replica R`) and on a single database that
#                `rag ingest --db file.db` built of the same files; took_ms
#                (rag_retrieve's time) p50 and p99 of each, and the ratio
#                replica / single; the keyword and vector stages' p50 too.
#                Also a second replica whose vector index files
#                `rag index rebuild --replica` rewrote (`rag search
#                --replica` writes them too, when it brought the replica up
#                to date). One round first, not counted (warm).
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this script's
# commands (the figures must not depend on how the caller's shell tunes
# OpenBLAS); the script says so. Without PostgreSQL it prints a loud SKIP
# and exits 0. The figures also go to build/bench/cluster.json.
#
#   bench/cluster.sh [--docs N] [--uploads N] [--rate R] [--queries N] [--rounds N]
set -euo pipefail
export LC_ALL=C
shopt -s inherit_errexit
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export RAG_TESTDATA=${RAG_TESTDATA:-$top/../shared/testdata}
docs=0 uploads=100 rate=5 nq=30 rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --docs) docs=$2; shift 2 ;;
    --uploads) uploads=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --queries) nq=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: bench/cluster.sh [--docs N] [--uploads N] [--rate R] [--queries N] [--rounds N]" >&2; exit 2 ;;
  esac
done
for v in "$docs" "$uploads" "$rate" "$nq" "$rounds"; do
  case $v in '' | *[!0-9]*) echo "bench/cluster.sh: counts are whole numbers" >&2; exit 2 ;; esac
done
[ "$uploads" -ge 1 ] && [ "$uploads" -le 1000 ] && [ "$rate" -ge 1 ] && [ "$rate" -le 50 ] &&
  [ "$nq" -ge 1 ] && [ "$nq" -le 112 ] && [ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] ||
  { echo "bench/cluster.sh: --uploads 1..1000, --rate 1..50, --queries 1..112, --rounds 1..20" >&2; exit 2; }

echo "cluster mode (bench/cluster.sh): OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}," \
  "OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} in the caller's environment; both unset here"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

cisi=$RAG_TESTDATA/ir/cisi
EMB=$RAG_TESTDATA/models/bert-mean-f32.gguf
if [ ! -d "$cisi/docs" ] || [ ! -f "$EMB" ]; then
  echo "SKIP: cluster benchmark: no CISI documents or test encoder under $RAG_TESTDATA (set RAG_TESTDATA)"
  exit 0
fi
tmp=$(mktemp -d /tmp/rag-cbench.XXXXXX)
export RAG_BIN=$top/build/rag RAGD_BIN=$top/build/ragd TMPDIR=$tmp RAG_LOG=warn
. "$top/tests/integration/lib.sh" # pg_start, pg_stop, psql_do; RAG_DB and XDG_CONFIG_HOME under $tmp
set -e
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pg_stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! pg_start > "$tmp/pg.txt" 2>&1; then
  echo "########################################################################"
  echo "# SKIP: PostgreSQL cannot start here: the cluster benchmark did not run #"
  echo "########################################################################"
  sed 's/^/    /' "$tmp/pg.txt"
  exit 0
fi
url() { echo "postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$1"; }
printf '[model]\nthreads = 1\n' > "$tmp/one-thread.conf"
now_us() { local t=$EPOCHREALTIME; echo $((10#${t/./})); }
# pct P FILE: the P-th percentile (nearest rank) of the numbers in FILE
pct() { sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit } i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; print v[i] }'; }
json_num() { awk -v k="\"$1\":" '$1 == k && !found { found = 1; v = $2; sub(/,$/, "", v); print v }'; } # (reads all: no SIGPIPE)

# the files: all of CISI, or its first N (copies: 1.2 MB in all)
if [ "$docs" -gt 0 ]; then
  mkdir -p "$tmp/docs"
  find "$cisi/docs" -type f | sort | awk -v n="$docs" 'NR <= n' | xargs cp -t "$tmp/docs"
  src=$tmp/docs
else
  src=$cisi/docs
fi
n_docs=$(find "$src" -type f | wc -l)
mkdir -p "$tmp/warm"
find "$cisi/docs" -type f | sort | awk 'NR <= 100' | xargs cp -t "$tmp/warm"

# ---- 1. ingest: 1 worker, then 2 -------------------------------------------------
t0=$(now_us)
"$RAG_BIN" ingest -q --config "$tmp/one-thread.conf" --db "$tmp/single.db" --embed-model "$EMB" "$src" > /dev/null
single_dps=$(echo "$n_docs * 1000000 / ($(now_us) - $t0)" | bc -l)
# run_workers NAME DIR W: queues DIR's files in a fresh database NAME, drains
# it with W workers; prints the microseconds from their start to the last exit
run_workers() {
  local name=$1 dir=$2 w=$3 i p t0 wp=() n
  psql_do -c "CREATE DATABASE $name" > /dev/null
  "$RAG_BIN" ingest -q --db "$(url "$name")" "$dir" > /dev/null
  t0=$(now_us)
  for i in $(seq 1 "$w"); do
    timeout 300 "$RAG_BIN" worker --db "$(url "$name")" --once -q --threads 1 --embed-model "$EMB" \
      --name w$i > "$tmp/$name-$i.log" 2>&1 &
    wp+=($!)
  done
  for p in "${wp[@]}"; do wait "$p" || { echo "bench/cluster.sh: a worker failed:" >&2; cat "$tmp/$name"-*.log >&2; return 1; }; done
  echo $(($(now_us) - t0))
  n=$("$RAG_BIN" jobs --db "$(url "$name")" --json | json_num done)
  [ "$n" = "$(find "$dir" -type f | wc -l)" ] || { echo "bench/cluster.sh: $name: $n jobs done" >&2; return 1; }
}
# a fresh cluster is slow at first: 100 files first, not counted; then
# 1, 2, 2, 1 workers (so that a drift of the machine weighs on both alike)
run_workers warm "$tmp/warm" 1 > /dev/null
us1=0 us2=0 k=0
for w in 1 2 2 1; do
  k=$((k + 1))
  dt=$(run_workers ingest$k "$src" $w)
  if [ $w = 1 ]; then us1=$((us1 + dt)); else us2=$((us2 + dt)) db2=ingest$k; fi
done
declare -A dps
dps[1]=$(echo "2 * $n_docs * 1000000 / $us1" | bc -l)
dps[2]=$(echo "2 * $n_docs * 1000000 / $us2" | bc -l)
ingest_ratio=$(echo "${dps[2]} / ${dps[1]}" | bc -l)
DB=$(url "$db2")

# ---- 2. replication lag: uploads through A, seen on B -----------------------------
KEY=$("$RAG_BIN" keys add --db "$DB" bench --admin 2> /dev/null)
node() { # NAME: ragd on its own replica; sets URL_NAME
  "$RAGD_BIN" --listen 127.0.0.1:0 --db "$DB" --replica "$tmp/$1.db" --embed-model "$EMB" --threads 1 \
    2> "$tmp/ragd-$1.log" &
  pids+=($!)
  local i u=
  for i in $(seq 1 600); do
    u=$(sed -n 's/^ragd: listening on \(.*\)$/http:\/\/\1/p' "$tmp/ragd-$1.log" | tail -n1)
    [ -n "$u" ] && break
    sleep 0.05
  done
  [ -n "$u" ] || { echo "bench/cluster.sh: ragd $1 did not start:"; cat "$tmp/ragd-$1.log"; exit 1; }
  eval "URL_$1=\$u"
}
node A
node B
word() { echo "zqxk$(printf '%05d' "$1" | tr 0-9 a-j)"; } # letters only: one token
upload() { # I: posts upload I through A; prints its status
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $KEY" \
    -d "{\"id\":\"lag-$1\",\"filename\":\"lag-$1.md\",\"text\":\"# Upload $1\\n\\nThe marker $(word "$1") is in this upload only.\"}" \
    "$URL_A/v1/documents"
}
seen_on_b() { # I: whether a keyword search on B finds upload I
  case $(curl -s --max-time 10 -H "Authorization: Bearer $KEY" \
    -d "{\"query\":\"$(word "$1")\",\"mode\":\"keyword\",\"k\":1}" "$URL_B/v1/search") in
    *'"rank":1'*) return 0 ;;
    *) return 1 ;;
  esac
}
# warm: one upload seen on B before the clock starts
code=$(upload 0)
[ "$code" = 201 ] || { echo "bench/cluster.sh: an upload through A answered $code"; cat "$tmp/ragd-A.log"; exit 1; }
for i in $(seq 1 200); do seen_on_b 0 && break; sleep 0.05; done
seen_on_b 0 || { echo "bench/cluster.sh: B never saw the first upload"; exit 1; }
: > "$tmp/acked"
period=$((1000000 / rate))
(
  start=$(now_us)
  for i in $(seq 1 "$uploads"); do
    wait_us=$((start + (i - 1) * period - $(now_us)))
    [ $wait_us -gt 0 ] && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
    code=$(upload "$i")
    echo "$i $code $(now_us)" >> "$tmp/acked"
  done
) &
up=$!
pids+=($up)
# the watcher: the oldest upload not yet seen on B, asked again and again
deadline=$(($(now_us) + uploads * period + 15000000))
next=1 failed=0
: > "$tmp/lag"
while [ $next -le "$uploads" ] && [ "$(now_us)" -lt $deadline ]; do
  line=$(sed -n "${next}p" "$tmp/acked")
  if [ -z "$line" ]; then sleep 0.01; continue; fi
  read -r _ code ack <<< "$line"
  if [ "$code" != 201 ]; then failed=$((failed + 1)) next=$((next + 1)); continue; fi
  if seen_on_b $next; then
    t=$(now_us)
    printf '%d.%06d\n' $(((t - ack) / 1000000)) $(((t - ack) % 1000000)) >> "$tmp/lag"
    next=$((next + 1))
  fi
done
wait $up || true
n_lag=$(wc -l < "$tmp/lag")
[ "$n_lag" -gt 0 ] || { echo "bench/cluster.sh: node B saw none of the uploads"; tail -n 20 "$tmp/ragd-B.log"; exit 1; }
unseen=$((uploads - n_lag - failed))
lag50=$(pct 50 "$tmp/lag") lag99=$(pct 99 "$tmp/lag") lagmax=$(pct 100 "$tmp/lag")
max_lag=$("$RAG_BIN" config --keys ragd | awk -F'\t' '$1 == "cluster.max_lag" { print $3 }')
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

# ---- 3. search latency: a replica against the single database -------------------
# Three searches of each query, in turn: the single database; a replica as
# `rag search --replica` leaves it (the first search made it and wrote its
# vector index files); a second replica after `rag index rebuild --replica`
# (its files rewritten). Each search's took_ms, and its keyword and vector stages
# (--explain's timings).
awk -F'\t' -v n="$nq" 'NR <= n { print $2 }' "$cisi/queries.tsv" > "$tmp/queries"
"$RAG_BIN" index rebuild -q --db "$DB" --replica "$tmp/R2.db" > /dev/null
search() { # NAME DB-ARGS... -- QUERY: appends "took keyword vector" (ms) to $tmp/t-NAME
  local name=$1; shift
  "$RAG_BIN" search --config "$tmp/one-thread.conf" --embed-model "$EMB" --json --explain -k 10 "$@" |
    awk '{ k = $1; gsub(/[":]/, "", k); v = $2; sub(/,$/, "", v); t[k] = v }
         END { if (t["took_ms"] == "") exit 1; print t["took_ms"], t["keyword_ms"], t["vector_ms"] }' >> "$tmp/t-$name"
}
for r in $(seq 0 "$rounds"); do
  [ "$r" = 1 ] && rm -f "$tmp"/t-* # round 0: warm, not counted
  while IFS= read -r q; do
    search single --db "$tmp/single.db" -- "$q"
    search replica --db "$DB" --replica "$tmp/R.db" -- "$q"
    search indexed --db "$DB" --replica "$tmp/R2.db" -- "$q"
  done < "$tmp/queries"
done
declare -A p50 p99 kw50 vec50
for v in single replica indexed; do
  cut -d' ' -f1 "$tmp/t-$v" > "$tmp/c"; p50[$v]=$(pct 50 "$tmp/c") p99[$v]=$(pct 99 "$tmp/c")
  cut -d' ' -f2 "$tmp/t-$v" > "$tmp/c"; kw50[$v]=$(pct 50 "$tmp/c")
  cut -d' ' -f3 "$tmp/t-$v" > "$tmp/c"; vec50[$v]=$(pct 50 "$tmp/c")
done
ratio() { echo "$1 / $2" | bc -l; }
n_s=$(wc -l < "$tmp/t-single")

# ---- report ------------------------------------------------------------------------
cpus=$(nproc)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
pg=$("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) //')
echo "machine: $cpus CPUs ($cpu); PostgreSQL $pg on the same machine; $n_docs CISI files; test encoder $(basename "$EMB")"
printf '%-52s %10s %10s %8s\n' measure figure baseline ratio
printf '%-52s %10.1f %10.1f %7.2fx   (goal >= 1.8x; %d CPUs, PostgreSQL on them too)\n' \
  "ingest docs/s: 2 workers / 1 worker" "${dps[2]}" "${dps[1]}" "$ingest_ratio" "$cpus"
printf '%-52s %10.1f %10s %8s   (one rag ingest process, no cluster)\n' "ingest docs/s: single database" "$single_dps" - -
printf '%-52s %10.3f %10s %8s   (max %.3f s; %d seen, %d refused, %d unseen after 15 s)\n' \
  "lag on B, s, p50 (${rate} uploads/s through A)" "$lag50" - - "$lagmax" "$n_lag" "$failed" "$unseen"
printf '%-52s %10.3f %10.3f %7.2fx   (cluster.max_lag default)\n' "lag on B, s, p99 / cluster.max_lag" "$lag99" "$max_lag" \
  "$(ratio "$lag99" "$max_lag")"
for v in replica indexed; do
  [ $v = replica ] && what="replica" || what="replica, index files"
  printf '%-52s %10.2f %10.2f %7.2fx   (goal <= 1.05x; %d searches each, hybrid, k 10)\n' \
    "search took_ms p50: $what / single" "${p50[$v]}" "${p50[single]}" "$(ratio "${p50[$v]}" "${p50[single]}")" "$n_s"
  printf '%-52s %10.2f %10.2f %7.2fx\n' "search took_ms p99: $what / single" "${p99[$v]}" "${p99[single]}" \
    "$(ratio "${p99[$v]}" "${p99[single]}")"
  printf '%-52s %10.2f %10.2f %7.2fx\n' "  keyword stage p50 ms" "${kw50[$v]}" "${kw50[single]}" "$(ratio "${kw50[$v]}" "${kw50[single]}")"
  printf '%-52s %10.2f %10.2f %7.2fx\n' "  vector stage p50 ms" "${vec50[$v]}" "${vec50[single]}" "$(ratio "${vec50[$v]}" "${vec50[single]}")"
done
echo "(replica: as 'rag search --replica' leaves it, with the vector index files it wrote; replica,"
echo " index files: after 'rag index rebuild --replica'.)"
mkdir -p "$top/build/bench"
f4() { printf '%.4f' "$1"; }
search_json() { # VARIANT
  printf '"took_p50_ms": %s, "took_p99_ms": %s, "keyword_p50_ms": %s, "vector_p50_ms": %s' \
    "$(f4 "${p50[$1]}")" "$(f4 "${p99[$1]}")" "$(f4 "${kw50[$1]}")" "$(f4 "${vec50[$1]}")"
}
cat > "$top/build/bench/cluster.json" << EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "cpus": $cpus,
  "cpu_model": "$cpu",
  "postgresql": "$pg",
  "openblas_env": "unset",
  "docs": $n_docs,
  "ingest": {"workers_1_docs_per_s": $(printf %.4f ${dps[1]}), "workers_2_docs_per_s": $(printf %.4f ${dps[2]}), "ratio_2_over_1": $(printf %.4f $ingest_ratio),
             "single_database_docs_per_s": $(printf %.4f $single_dps), "threads_per_worker": 1},
  "lag": {"uploads": $uploads, "rate_per_s": $rate, "seen": $n_lag, "refused": $failed, "unseen": $unseen,
          "p50_s": $(printf %.4f $lag50), "p99_s": $(printf %.4f $lag99), "max_s": $(printf %.4f $lagmax), "cluster_max_lag_default_s": $max_lag},
  "search": {"queries": $nq, "rounds": $rounds, "searches_each": $n_s, "mode": "hybrid", "k": 10,
             "single": {$(search_json single)},
             "replica": {$(search_json replica)},
             "replica_index_files": {$(search_json indexed)},
             "ratio_p50": $(f4 "$(ratio "${p50[replica]}" "${p50[single]}")"),
             "ratio_p99": $(f4 "$(ratio "${p99[replica]}" "${p99[single]}")"),
             "ratio_p50_index_files": $(f4 "$(ratio "${p50[indexed]}" "${p50[single]}")"),
             "ratio_p99_index_files": $(f4 "$(ratio "${p99[indexed]}" "${p99[single]}")")}
}
EOF
echo "(the same figures: build/bench/cluster.json)"
