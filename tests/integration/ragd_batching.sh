# Batching in ragd.
# - Continuous batching: four greedy answers generated at once (four slots
#   sharing each decoding step) are, word for word, the answers each gets
#   when it runs alone; the steps really were shared (the metrics count
#   tokens per step). One slot per key, so that no answer reuses another's
#   cached prompt, on a fresh daemon for each round.
# - Embedding requests of eight clients at once are embedded in fewer model
#   calls than requests, and each client gets exactly the vectors it gets
#   alone.
. "$(dirname "$0")/lib.sh"
need_models
command -v curl >/dev/null || { fail "curl is needed (make test-deps installs it)"; finish; exit; }
EMB=$M/bert-mean-f32.gguf
GEN=$T/gen.gguf
# Untied output weights: greedy answers of this random model differ from
# prompt to prompt; Q8_0, so that steps use the integer kernels.
"$RAG_TOOLS/mkmodel" "$GEN" --arch qwen2 --embd 256 --layers 4 --heads 4 --kv-heads 2 --ff 512 \
  --vocab 1000 --ctx 2048 --type q8_0 --untied --seed 5 >/dev/null || { fail "mkmodel"; finish; exit; }
for i in 1 2 3 4; do KEY[$i]=$(rag keys add user$i --roles staff); done
ROOT=$(rag keys add root --admin)
metric() { curl -s -H "Authorization: Bearer $ROOT" $RAGD_URL/metrics | awk -v m="$1" '$1 == m { print $2 }'; }

ask() { # I OUT: question I (longer each time), greedy, 64 tokens, no retrieval
  local q="Question $1: what happens next?" k
  for k in $(seq 1 $((12 * $1))); do q="$q and then $k"; done
  curl -s -H "Authorization: Bearer ${KEY[$1]}" --max-time 300 \
    -d "{\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}],\"rag\":{\"retrieval\":false}}" \
    $RAGD_URL/v1/chat/completions | json_get '$.choices[0].message.content' > "$2"
}

ragd_start --slots 4 --model "$GEN" --embed-model "$EMB" || { fail "ragd starts"; finish; exit; }
for i in 1 2 3 4; do ask $i $T/alone$i.txt; done
check_eq "one at a time: every step carried one answer" "$(metric ragd_decode_step_tokens_total)" "$(metric ragd_decode_steps_total)"
ragd_stop

ragd_start --slots 4 --model "$GEN" --embed-model "$EMB" || { fail "ragd starts again"; finish; exit; }
pids=()
for i in 1 2 3 4; do ask $i $T/together$i.txt & pids+=($!); done
wait "${pids[@]}"
same=0 chars=0
for i in 1 2 3 4; do
  cmp -s $T/alone$i.txt $T/together$i.txt && same=$((same + 1))
  chars=$((chars + $(wc -c < $T/together$i.txt)))
done
check "the answers are not empty ($chars bytes)" test $chars -gt 40
check "...and differ from question to question" test "$(cat $T/alone*.txt | md5sum)" != "$(cat $T/alone1.txt $T/alone1.txt $T/alone1.txt $T/alone1.txt | md5sum)"
check_eq "four answers at once: each identical to the same answer alone" $same 4
steps=$(metric ragd_decode_steps_total) toks=$(metric ragd_decode_step_tokens_total)
check "...and they shared the steps: $toks tokens in $steps steps" test $((toks * 2)) -ge $((steps * 3))
check "prompts went through in chunks between the steps ($(metric ragd_prompt_chunks_total))" \
  test "$(metric ragd_prompt_chunks_total)" -ge 4

# ---- embedding requests of several clients, batched ----
for c in $(seq 1 8); do
  { printf '{"encoding_format":"base64","input":['
    for t in $(seq 1 48); do
      [ $t -gt 1 ] && printf ','
      printf '"client %d text %d:' $c $t
      for w in $(seq 1 $((20 + (c * t) % 40))); do printf ' word%d' $(((c * 31 + t * 7 + w) % 500)); done
      printf '"'
    done
    printf ']}'; } > $T/embed$c.json
done
embed() { # CLIENT OUT: the request's vectors, one base64 string a line
  curl -s -H "Authorization: Bearer ${KEY[1]}" --max-time 120 -d @$T/embed$1.json $RAGD_URL/v1/embeddings |
    json_sql "select group_concat(json_extract(value, '\$.embedding'), char(10)) from json_each(J, '\$.data')" > "$2"
}
for c in $(seq 1 8); do embed $c $T/vec_alone$c.txt; done
r0=$(metric ragd_embed_requests_total) b0=$(metric ragd_embed_batches_total)
check_eq "one client at a time: one model call per request" "$b0" "$r0"
merged=0
for round in 1 2 3; do # the clients must overlap; almost always in the first round
  pids=()
  for c in $(seq 1 8); do embed $c $T/vec_together$c.txt & pids+=($!); done
  wait "${pids[@]}"
  same=0
  for c in $(seq 1 8); do cmp -s $T/vec_alone$c.txt $T/vec_together$c.txt && same=$((same + 1)); done
  check_eq "eight clients at once (round $round): each gets exactly its vectors alone" $same 8
  r1=$(metric ragd_embed_requests_total) b1=$(metric ragd_embed_batches_total)
  if [ $((b1 - b0)) -lt $((r1 - r0)) ]; then merged=1; break; fi
  r0=$r1 b0=$b1
done
check "...in fewer model calls than requests ($((r1 - r0)) requests, $((b1 - b0)) calls)" test $merged = 1
check_eq "the vectors are there (48 a client)" "$(wc -l < $T/vec_alone8.txt)" 48
ragd_stop
finish
