#!/usr/bin/env bash
# Continuous batching as a client sees it: ragd with 4 slots and the
# Qwen2.5-0.5B-shaped Q4_K_M file of bench/models.sh; one chat of N tokens
# alone, then four at once (different keys, so that no answer reuses
# another's cached prompt). Reports tokens/s of the one, tokens/s in all of
# the four (completion tokens over the wall-clock time from the first
# request to the last answer, prompts included), and the ratio.
#
#   bench/ragd_streams.sh [--tokens 256] [--model FILE]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tokens=256 model=$top/build/bench/models/qwen2.5-0.5b-q4_k_m.gguf
while [ $# -gt 0 ]; do
  case $1 in
    --tokens) tokens=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "usage: bench/ragd_streams.sh [--tokens N] [--model FILE]" >&2; exit 2 ;;
  esac
done
[ -f "$model" ] || { echo "$model is missing: run bench/models.sh first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
export RAG_DB=$tmp/rag.db RAG_LOG=warn
for i in 1 2 3 4; do key[$i]=$("$top/build/rag" keys add bench$i --roles staff 2>/dev/null); done
"$top/build/ragd" --listen 127.0.0.1:0 --slots 4 --model "$model" 2> "$tmp/ragd.log" &
pid=$!
for _ in $(seq 1 600); do
  url=$(sed -n 's/^ragd: listening on \(.*\)$/http:\/\/\1/p' "$tmp/ragd.log" | tail -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/ragd.log" >&2; exit 1; }
now() { date +%s.%N; }
chat() { # I: a greedy answer of $tokens tokens; prints its completion tokens
  curl -s -H "Authorization: Bearer ${key[$1]}" \
    -d "{\"max_tokens\":$tokens,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"Tell story number $1.\"}],\"rag\":{\"retrieval\":false}}" \
    "$url/v1/chat/completions" | sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p'
}
chat 4 > /dev/null # pages the weights in
t0=$(now); one=$(chat 1); t1=$(now)
for i in 1 2 3 4; do chat $i > "$tmp/n$i" & done
wait $(jobs -p | grep -v "^$pid$")
t2=$(now)
all=$(cat "$tmp"/n1 "$tmp"/n2 "$tmp"/n3 "$tmp"/n4 | paste -sd+ | bc)
single=$(echo "$one / ($t1 - $t0)" | bc -l)
four=$(echo "$all / ($t2 - $t1)" | bc -l)
printf 'ragd, %s, 4 slots: one answer %.1f tokens/s (%d tokens); four at once %.1f tokens/s in all (%d tokens): %.2fx\n' \
  "$(basename "$model")" "$single" "$one" "$four" "$all" "$(echo "$four / $single" | bc -l)"
