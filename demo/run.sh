#!/usr/bin/env bash
# The demo: ingest the bundled handbook of a fictional company with access
# labels (HR policies for every employee, finance procedures for finance,
# maintenance procedures for operations), then ask one question as three
# principals, on the command line and through ragd's HTTP API. Their answers
# and citations differ because each sees only the documents its roles allow.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rag=$top/build/rag
export RAG_DB=$top/build/demo/rag.db
rm -f "$RAG_DB" "$RAG_DB-wal" "$RAG_DB-shm"
mkdir -p "$(dirname "$RAG_DB")"
corpus=$top/demo/corpus

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The default generator and embedder, when the network allows (kept in the
# models directory, so only the first run downloads them). Without them the
# answers are extractive: the best sentences of the passages, cited.
say "Models: rag pull qwen2.5-0.5b-instruct bge-small-en-v1.5"
pull() { "$rag" pull --json "$1" 2>"$(dirname "$RAG_DB")/pull.err" | sed -n 's/^[[:space:]]*"path":[[:space:]]*"\(.*\)",*$/\1/p'; }
gen=$(pull qwen2.5-0.5b-instruct || true)
emb=$( [ -n "$gen" ] && pull bge-small-en-v1.5 || true)
model_args=() embed_args=()
if [ -n "$gen" ] && [ -n "$emb" ]; then
  echo "generator $gen"; echo "embedder  $emb"
  model_args=(--model "$gen"); embed_args=(--embed-model "$emb")
else
  echo "No models could be downloaded ($(tail -n1 "$(dirname "$RAG_DB")/pull.err" | sed 's/^rag pull: //')): the answers below are extractive."
fi

say "Ingesting the handbook (label staff), finance (finance) and ops (ops) documents"
"$rag" ingest --acl staff "${embed_args[@]}" "$corpus/handbook"
"$rag" ingest --acl finance "${embed_args[@]}" "$corpus/finance"
"$rag" ingest --acl ops "${embed_args[@]}" "$corpus/ops"
"$rag" stats

question="Who approves an urgent spare parts order when a truck is off the road?"
say "rag ask --as staff,finance \"$question\""
"$rag" ask --as staff,finance "${model_args[@]}" "${embed_args[@]}" "$question"
say "rag ask --as staff,ops \"$question\""
"$rag" ask --as staff,ops "${model_args[@]}" "${embed_args[@]}" "$question"
say "rag ask --as staff \"$question\"  (an employee without finance or ops)"
# nothing the staff role may see answers it: rag ask says so and exits 4
rc=0; "$rag" ask --as staff "${model_args[@]}" "${embed_args[@]}" "$question" || rc=$?
[ $rc -eq 4 ] || [ $rc -eq 0 ] || exit $rc
echo "(exit status $rc: 4 means the documents this principal may see do not answer)"

say "The same over HTTP: ragd with two API keys (staff+finance, staff+ops)"
fin_key=$("$rag" keys add demo-finance --roles staff,finance 2>/dev/null)
ops_key=$("$rag" keys add demo-ops --roles staff,ops 2>/dev/null)
log=$(dirname "$RAG_DB")/ragd.log
"$top/build/ragd" --listen 127.0.0.1:0 "${model_args[@]}" "${embed_args[@]}" 2>"$log" &
ragd_pid=$!
trap 'kill $ragd_pid 2>/dev/null || true' EXIT
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^ragd: listening on //p' "$log"); [ -n "$url" ] && break; sleep 0.05
done
[ -n "$url" ] || { cat "$log"; exit 1; }
ask_http() { # KEY: the documents the answer cites, one line each
  curl -s -H "Authorization: Bearer $1" "http://$url/v1/chat/completions" \
    -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$question\"}]}" |
    sed -n 's/.*"citations":\[\(.*\)\],"invalid_citations".*/\1/p' |
    grep -o '"uri":"[^"]*"' | sed 's|"uri":"|  cites |; s|"$||; s|'"$corpus"'/||'
}
echo "POST http://$url/v1/chat/completions, finance's key:"; ask_http "$fin_key"
echo "... the same question, operations' key:"; ask_http "$ops_key"
kill $ragd_pid; wait $ragd_pid 2>/dev/null || true
"$rag" keys rm demo-finance >/dev/null; "$rag" keys rm demo-ops >/dev/null

say "Try it yourself"
echo "  RAG_DB=$RAG_DB $rag search --as staff,ops \"brake\""
echo "  RAG_DB=$RAG_DB $rag ask \"How many days of leave do I get?\""
echo "  RAG_DB=$RAG_DB $rag chat --as staff             # a conversation: try a follow-up"
echo "  RAG_DB=$RAG_DB $rag keys add me --roles staff    # prints a key"
echo "  RAG_DB=$RAG_DB $top/build/ragd                   # then chat at http://127.0.0.1:8080/"
