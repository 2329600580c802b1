# `rag ask --json` and ragd's chat API give the same answer: for the same
# question, principal (`--as ROLES` and a key with those roles) and config
# file (`rag --config F`, `ragd --config F`), the answer text, the citations
# and the retrieval hits with their scores are byte for byte the same, both
# extractive (no generator) and written by a random-weight test model
# (greedy, fixed max tokens).
#
# What each side shows: `rag ask --json` has the answer and the citations;
# the chat completion has them too, plus "sources" (the passages retrieved)
# but neither has the retrieval scores, so the hits and their scores are
# compared through `rag search --json --explain --chunks` and POST
# /v1/search with the ask's k, and the chat's sources are matched to
# /v1/search's hits by the API's ids. Document and chunk ids differ by
# design (numbers on the command line, opaque strings in the API) and are
# left out; everything else is compared as printed. The test model's
# nonsense cites nothing, so with it the citation lists compared are empty;
# the extractive answers compare citations in earnest.
#
# Both programs read every setting from one table (rag/settings.c), so
# nothing is given to one side only: the requests carry only what a user
# would choose per question (-n N and "max_tokens": N, a temperature and a
# seed). A question nothing matches gets the same "nothing matches" answer
# from both, with or without a generator.
. "$(dirname "$0")/lib.sh"
need_models
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }
EMB=$M/bert-mean-f32.gguf
GEN=$T/gen.gguf
"$RAG_TOOLS/mkmodel" "$GEN" --arch llama --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 \
  --vocab 1000 --ctx 2048 --type f32 --sd 0.5 >/dev/null || { fail "mkmodel"; finish; exit; }

# extractive: the search settings left at their defaults
printf 'db = %s\n[embed]\nmodel = %s\n' "$RAG_DB" "$EMB" > $T/ext.conf
# with the generator: every search setting both programs read, set
printf 'db = %s\n[embed]\nmodel = %s\n[model]\npath = %s\n[search]\nmode = hybrid\ncandidates = 30\nrrf_k = 40\ndedupe = true\ndup_similarity = 0.9\n' \
  "$RAG_DB" "$EMB" "$GEN" > $T/gen.conf

corpus=$(cd "$(dirname "$0")/../../demo/corpus" && pwd)
rag ingest -q --config $T/ext.conf --acl staff $corpus/handbook >/dev/null
rag ingest -q --config $T/ext.conf --acl finance $corpus/finance >/dev/null
rag ingest -q --config $T/ext.conf --acl ops $corpus/ops >/dev/null
check_eq "the demo corpus, with vectors for every chunk" \
  "$(sql 'select count(*) from documents'),$(sql 'select count(*) = (select count(*) from embeddings) from chunks')" "14,1"

declare -A KEY
KEY[staff,finance]=$(rag keys add fin --config $T/ext.conf --roles staff,finance)
KEY[staff,ops]=$(rag keys add ops --config $T/ext.conf --roles staff,ops)
KEY[admin]=$(rag keys add root --config $T/ext.conf --admin)
principals=(staff,finance staff,ops admin)
as_flag() { [ "$1" = admin ] && return 0; echo "--as $1"; } # the command line's default: the administrator

questions=(
  "Who approves an urgent spare parts order when a truck is off the road?"
  "When are supplier invoices paid?"
  "How do I lock out a forklift before working on it?"
  "How many days of annual leave do I get?"
)

qjson() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; } # the questions hold no control characters
# chat KEY QUESTION [JSON members...]: the non-streamed chat completion's body
chat() {
  local k=$1 q; q=$(qjson "$2"); shift 2
  local extra=; [ $# -gt 0 ] && extra=",$*"
  api POST /v1/chat/completions "$k" -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]$extra}" | sed '$d'
}
# The parts compared, each as printed; the answer ends with '|' so that a
# trailing newline counts.
answer_of() { json_sql "select json_extract(J, '\$.$1') || '|'"; }
cites_of() { json_sql "select json_group_array(json_remove(value, '\$.document', '\$.chunk')) from json_each(J, '\$.citations')"; }
hits_of() { json_sql "select json_group_array(json_remove(value, '\$.document_id', '\$.chunk_id')) from json_each(J, '\$.results')"; }
ids_of() { json_sql "select group_concat(json_extract(value, '\$.$2'), ' ') from (select value from json_each(J, '\$.$1') limit ${3:--1})"; }

# same DESC A B: passes when A and B are the same bytes; else shows where they part
same() {
  if [ "$2" = "$3" ]; then ok "$1"; return; fi
  fail "$1"
  diff <(printf '%s\n' "$2" | fold -w 160) <(printf '%s\n' "$3" | fold -w 160) | head -n 8 | sed 's/^/      /'
}

# compare MODE CONF Q PRINCIPAL [rag ask flags] -- [chat request members]
compare() {
  local mode=$1 conf=$2 q=$3 who=$4; shift 4
  local flags=() members=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  [ $# -gt 0 ] && shift; members=("$@")
  local tag="$mode, $who, '${q:0:32}...'"
  local cli api
  cli=$(rag ask -q --json --config "$conf" $(as_flag "$who") "${flags[@]}" "$q")
  api=$(chat "${KEY[$who]}" "$q" "${members[@]}")
  check_eq "$tag: rag ask answers in this mode" "$(echo "$cli" | json_get '$.mode')" "$mode"
  check_eq "$tag: the chat API answers in this mode" "$(echo "$api" | json_get '$.rag.mode')" "$mode"
  local a_cli a_api
  a_cli=$(echo "$cli" | answer_of answer) a_api=$(echo "$api" | answer_of 'choices[0].message.content')
  check "$tag: an answer" test ${#a_cli} -gt 10
  same "$tag: the same answer text" "$a_cli" "$a_api"
  same "$tag: the same citations" "$(echo "$cli" | cites_of)" "$(echo "$api" | cites_of)"
  if [ "$mode" = generated ]; then
    same "$tag: the same invalid citations, context blocks, stop reason and token counts" \
      "$(echo "$cli" | json_sql "select json_array(json_extract(J, '\$.invalid_citations'), json_extract(J, '\$.context_blocks'), json_extract(J, '\$.stop_reason'), json_extract(J, '\$.usage.prompt_tokens'), json_extract(J, '\$.usage.completion_tokens'))")" \
      "$(echo "$api" | json_sql "select json_array(json_extract(J, '\$.invalid_citations'), json_extract(J, '\$.rag.context_blocks'), json_extract(J, '\$.rag.stop_reason'), json_extract(J, '\$.usage.prompt_tokens'), json_extract(J, '\$.usage.completion_tokens'))")"
  fi
  # the hits and their scores: the ask's retrieval (its k, every chunk) through both search routes
  local k=6 blocks
  blocks=$(echo "$api" | json_get '$.rag.context_blocks')
  local s_cli s_api
  s_cli=$(rag search --json --explain --chunks -k $k --config "$conf" $(as_flag "$who") "$q")
  s_api=$(api POST /v1/search "${KEY[$who]}" -d "{\"query\":\"$(qjson "$q")\",\"k\":$k,\"chunks\":true,\"explain\":true}" | sed '$d')
  check "$tag: hits found" test "$(echo "$s_cli" | json_len '$.results')" -ge 3
  same "$tag: the same hits, in order, with the same scores" "$(echo "$s_cli" | hits_of)" "$(echo "$s_api" | hits_of)"
  # those over the relevance cutoff (rag/relevance.h), in order
  same "$tag: the chat answer was given those hits over the cutoff" \
    "$(echo "$api" | ids_of sources chunk)" \
    "$(echo "$s_api" | json_sql "select group_concat(c, ' ') from (select json_extract(value, '\$.chunk_id') c from json_each(J, '\$.results') where json_extract(value, '\$.explain.answer_cutoff_passed') limit $blocks)")"
}

# nothing CONF WHO: a question no document matches (keyword mode) gets the
# same extractive "nothing matches" answer from both, even with a generator
nothing() {
  local q="zzqxv wibblefrotz quuxle" cli api
  cli=$(rag ask -q --json --config "$1" --mode keyword $(as_flag "$2") "$q")
  api=$(chat "${KEY[$2]}" "$q" '"rag":{"mode":"keyword"}')
  check_eq "nothing matches ($2): rag ask answers extractively" "$(echo "$cli" | json_get '$.mode')" extractive
  check_eq "nothing matches ($2): so does the chat API" "$(echo "$api" | json_get '$.rag.mode')" extractive
  same "nothing matches ($2): the same answer" "$(echo "$cli" | answer_of answer)" \
    "$(echo "$api" | answer_of 'choices[0].message.content')"
  check_contains "nothing matches ($2): saying so" "$(echo "$api" | answer_of 'choices[0].message.content')" \
    "The documents you may see do not answer this question."
  check_eq "nothing matches ($2): rag ask says it did not answer" "$(echo "$cli" | json_get '$.rag.answer')" none
  check_eq "nothing matches ($2): so does the chat API (rag.answer)" "$(echo "$api" | json_get '$.rag.answer')" none
}

# ---- extractive: no generator ----
ragd_start --config $T/ext.conf || { fail "ragd starts"; finish; exit; }
for who in "${principals[@]}"; do
  for q in "${questions[@]:0:3}"; do compare extractive $T/ext.conf "$q" "$who"; done
done
# the comparison sees a difference: another search.rrf_k on one side only
printf 'db = %s\n[embed]\nmodel = %s\n[search]\nrrf_k = 30\n' "$RAG_DB" "$EMB" > $T/other.conf
q=${questions[0]}
check "a different search.rrf_k on one side gives other scores" test \
  "$(rag search --json --explain --chunks -k 6 --config $T/other.conf "$q" | hits_of)" != \
  "$(api POST /v1/search "${KEY[admin]}" -d "{\"query\":\"$(qjson "$q")\",\"k\":6,\"chunks\":true,\"explain\":true}" | sed '$d' | hits_of)"
nothing $T/ext.conf staff,ops
check "ragd stops cleanly" ragd_stop

# ---- with the test model: greedy, a fixed number of tokens ----
ragd_start --config $T/gen.conf || { fail "ragd starts with the model"; finish; exit; }
for who in staff,finance staff,ops; do
  for q in "${questions[@]:1:2}"; do compare generated $T/gen.conf "$q" "$who" -n 24 -- '"max_tokens":24'; done
done
# the default token limit and temperature of each program
compare generated $T/gen.conf "${questions[0]}" admin
# sampled: the same seed and temperature (top_p: model.top_p on both sides)
compare generated $T/gen.conf "${questions[3]}" staff,ops -n 24 --temp 0.8 --seed 5 -- \
  '"max_tokens":24,"temperature":0.8,"seed":5'
nothing $T/gen.conf staff,finance
check "ragd stops cleanly" ragd_stop
finish
