# Conversations and answer quality over the demo corpus:
# - a follow-up retrieves for its standalone query (the expansion without a
#   generator, the generator's rewrite with one) where the bare message
#   finds the wrong document, in rag ask --history, rag chat and ragd;
# - a question the principal's documents do not answer abstains (rag ask
#   exits 4, rag.answer "none"), and the decision is the same whether or
#   not other roles' documents are in the database;
# - no cited passage is under the relevance cutoff;
# - rag eval --answers reports measures that agree with what it answered.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }
corpus=$(cd "$(dirname "$0")/../../demo/corpus" && pwd)
answers=$(cd "$(dirname "$0")/../answers" && pwd)
rag ingest -q --acl staff $corpus/handbook >/dev/null
rag ingest -q --acl finance $corpus/finance >/dev/null
rag ingest -q --acl ops $corpus/ops >/dev/null
cited_docs() { json_sql "select group_concat(json_extract(value, '\$.uri'), ' ') from json_each(J, '\$.citations')"; }

# ---- follow-ups --------------------------------------------------------------------
printf '[{"role":"user","content":"How many years are tractor units depreciated over?"},{"role":"assistant","content":"Six years [1]."}]' > $T/h.json
bare=$(rag ask --json --as staff,finance "what about forklifts?")
follow=$(rag ask --json --history $T/h.json --as staff,finance "what about forklifts?")
check_not_contains "the bare follow-up does not find the depreciation schedule" "$(echo "$bare" | cited_docs)" month-end-close-checklist
check_contains "with its history it does" "$(echo "$follow" | cited_docs)" month-end-close-checklist
check_contains "...and quotes the answer" "$(echo "$follow" | json_get '$.answer')" "forklifts over 8 years"
check_eq "the first turn is never rewritten" "$(echo "$bare" | json_get '$.rag.rewrite')" ""
check_eq "without a generator the follow-up is expanded" "$(echo "$follow" | json_get '$.rag.rewrite.how')" expansion
check_contains "...by the earlier question's words" "$(echo "$follow" | json_get '$.rag.rewrite.query')" "depreciated"
out=$(rag ask --explain --history $T/h.json --as staff,finance "what about forklifts?" 2>&1)
check_contains "--explain prints the retrieval query" "$out" "retrieval query (expansion): what about forklifts?"
printf '{"role":"user"}' > $T/bad.json
out=$(rag ask --history $T/bad.json "x" 2>&1); rc=$?
check_eq "a bad history file is refused" "$rc" 1
check_contains "...naming the file and what is wrong" "$out" "bad.json: expected a JSON array"
printf '[{"role":"system","content":"x"}]' > $T/bad.json
check_contains "...and the message" "$(rag ask --history $T/bad.json x 2>&1)" "[0].role"

# rag chat: the second line is a follow-up of the first
out=$(printf 'How many years are tractor units depreciated over?\nwhat about forklifts?\n' | rag chat --as staff,finance)
check_contains "rag chat answers the first question" "$out" "tractor units over 6 years"
check_eq "...and the follow-up from the same schedule" "$(echo "$out" | grep -c 'forklifts over 8 years')" 2
out=$(printf 'what about forklifts?\n' | rag chat --as staff,finance)
check_not_contains "a first line alone is not expanded" "$out" "forklifts over 8 years"
check_contains "rag chat takes no question on its command line" "$(rag chat "hello" 2>&1)" "standard input"

# ---- abstention ------------------------------------------------------------------------
q="Who approves an urgent spare parts order when a truck is off the road?"
out=$(rag ask --json --as staff "$q"); rc=$?
check_eq "staff alone: the documents it may see do not answer (exit 4)" "$rc" 4
check_eq "...rag.answer is none" "$(echo "$out" | json_get '$.rag.answer')" none
check_eq "...nothing is cited" "$(echo "$out" | json_len '$.citations')" 0
check "...passages were found, all under the cutoff" test "$(echo "$out" | json_get '$.rag.below_cutoff')" -gt 0
check_contains "...and the answer says so" "$(rag ask -q --as staff "$q")" "do not answer this question"
check_eq "operations answers it" "$(rag ask --json --as staff,ops "$q" | json_get '$.rag.answer')" extractive
# the decision reads only what the principal may see: the same with the
# other roles' documents gone
strip() { json_sql "select json_remove(J, '\$.timings')"; }
staff_only=$T/staff.db
RAG_DB=$staff_only rag ingest -q --acl staff $corpus/handbook >/dev/null
for question in "$q" "How many days of paid annual leave do I get?" "Who approves purchase orders above 5,000 euros?"; do
  a=$(rag ask --json --as staff "$question" | strip)
  b=$(RAG_DB=$staff_only rag ask --json --as staff "$question" | strip)
  check_eq "staff's answer is the same without other roles' documents ('${question:0:30}...')" "$a" "$b"
  a=$(rag search --json --explain --as staff "$question" | json_sql "select json_group_array(json_array(json_extract(value, '\$.uri'), json_extract(value, '\$.explain.lexical'), json_extract(value, '\$.explain.answer_cutoff_passed'))) from json_each(J, '\$.results')")
  b=$(RAG_DB=$staff_only rag search --json --explain --as staff "$question" | json_sql "select json_group_array(json_array(json_extract(value, '\$.uri'), json_extract(value, '\$.explain.lexical'), json_extract(value, '\$.explain.answer_cutoff_passed'))) from json_each(J, '\$.results')")
  check_eq "...and so are the relevance figures of what it finds" "$a" "$b"
done

# no cited passage is under the cutoff
n_cited=0
for who in staff staff,finance staff,ops; do
  for question in "How much notice do I need to give for leave?" "Who signs off emergency orders?" \
                  "When are supplier invoices paid?" "Can I claim alcohol on expenses?"; do
    out=$(rag ask --json --as $who "$question")
    passed=$(rag search --json --explain --chunks -k 6 --as $who "$question" | json_sql "select ' ' || group_concat(json_extract(value, '\$.chunk_id'), ' ') || ' ' from json_each(J, '\$.results') where json_extract(value, '\$.explain.answer_cutoff_passed')")
    bad=0
    for c in $(echo "$out" | json_sql "select group_concat(json_extract(value, '\$.chunk'), ' ') from json_each(J, '\$.citations')"); do
      n_cited=$((n_cited + 1))
      case "$passed" in *" $c "*) ;; *) bad=$((bad + 1)) ;; esac
    done
    check_eq "$who, '${question:0:28}...': every cited passage passed the cutoff" "$bad" 0
  done
done
check "...of $n_cited passages cited" test $n_cited -ge 12

# ---- ragd: the chat API --------------------------------------------------------------
STAFF=$(rag keys add staff --roles staff 2>/dev/null)
FIN=$(rag keys add fin --roles staff,finance 2>/dev/null)
ragd_start || { fail "ragd starts"; finish; exit; }
msgs='[{"role":"user","content":"How many years are tractor units depreciated over?"},{"role":"assistant","content":"Six years [1]."},{"role":"user","content":"what about forklifts?"}]'
b=$(api POST /v1/chat/completions $FIN -d "{\"messages\":$msgs}" | sed '$d')
check_eq "chat: the follow-up is expanded" "$(echo "$b" | json_get '$.rag.rewrite.how')" expansion
check_contains "chat: ...and answered from the schedule" "$(echo "$b" | json_get '$.choices[0].message.content')" "forklifts over 8 years"
b=$(api POST /v1/chat/completions $FIN -d '{"messages":[{"role":"user","content":"what about forklifts?"}]}' | sed '$d')
check_eq "chat: a first turn is not rewritten" "$(echo "$b" | json_get '$.rag.rewrite')" ""
b=$(api POST /v1/chat/completions $STAFF -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" | sed '$d')
check_eq "chat: staff's key abstains (rag.answer none)" "$(echo "$b" | json_get '$.rag.answer')" none
check_eq "chat: ...citing nothing" "$(echo "$b" | json_len '$.citations')" 0
check_contains "chat: ...and says so" "$(echo "$b" | json_get '$.choices[0].message.content')" "do not answer this question"
s=$(api POST /v1/chat/completions $STAFF -d "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" | sed '$d')
check_contains "chat, streamed: the same" "$s" '"answer":"none"'
ragd_stop

# ---- a generator's rewrite (a scripted model: its reply is the query) -----------------
GEN=$T/scripted.gguf
"$RAG_TOOLS/mkmodel" $GEN --arch qwen3 --embd 64 --layers 1 --heads 4 --kv-heads 2 --ff 128 \
  --vocab 600 --ctx 4096 --type f32 --chat-template "$(dirname "$0")/../tools/qwen3.jinja" \
  --reply "\\n\\n|forklift depreciation years" >/dev/null || { fail "mkmodel"; finish; exit; }
out=$(rag ask --json --model $GEN --history $T/h.json --as staff,finance "what about forklifts?")
check_eq "with a generator the follow-up is rewritten" "$(echo "$out" | json_get '$.rag.rewrite.how')" rewrite
check_eq "...to the model's query" "$(echo "$out" | json_get '$.rag.rewrite.query')" "forklift depreciation years"
check_contains "...which retrieval used" "$(echo "$out" | json_sql "select json_extract(J, '\$.context_blocks') > 0")" 1
ragd_start --model $GEN || { fail "ragd starts with the generator"; finish; exit; }
b=$(api POST /v1/chat/completions $FIN -d "{\"messages\":$msgs}" | sed '$d')
check_eq "chat: the generator rewrites the follow-up" "$(echo "$b" | json_get '$.rag.rewrite.how')" rewrite
check_contains "chat: ...and the sources are the schedule's" "$(echo "$b" | json_sql "select group_concat(json_extract(value, '\$.uri')) from json_each(J, '\$.sources')")" month-end-close-checklist
check "chat: the rewrite's time is reported" test -n "$(echo "$b" | json_get '$.timings.rewrite_ms')"
ragd_stop

# ---- rag eval --answers ----------------------------------------------------------------
out=$(rag eval --answers $answers/handcheck.jsonl --json)
check_eq "eval: every question of the file" "$(echo "$out" | json_get '$.totals.questions')" 8
check_eq "eval: the two without an answer abstain" "$(echo "$out" | json_get '$.totals.abstention_recall')" 1
# the per-question measures, recomputed from what it reports it gave and cited
n=$(echo "$out" | json_len '$.questions')
bad=0
for i in $(seq 0 $((n - 1))); do
  id=$(echo "$out" | json_get "\$.questions[$i].id")
  docs=$(grep "\"id\": \"$id\"" $answers/handcheck.jsonl | json_sql "select group_concat(value, ' ') from json_each(J, '\$.documents')")
  [ -z "$docs" ] && continue
  given=$(echo "$out" | json_sql "select ' ' || group_concat(value, ' ') || ' ' from json_each(J, '\$.questions[$i].given_documents')")
  found=0 total=0
  for d in $docs; do total=$((total + 1)); case "$given" in *" $d "*) found=$((found + 1)) ;; esac; done
  want=$(awk "BEGIN { printf \"%.4f\", $found / $total }")
  got=$(echo "$out" | json_sql "select printf('%.4f', json_extract(J, '\$.questions[$i].doc_recall'))")
  [ "$want" = "$got" ] || { bad=$((bad + 1)); echo "      $id: doc recall $got, recomputed $want"; }
  cited=$(echo "$out" | json_sql "select group_concat(value, ' ') from json_each(J, '\$.questions[$i].cited_documents')")
  c_all=0 c_gold=0
  for d in $cited; do c_all=$((c_all + 1)); case " $docs " in *" $d "*) c_gold=$((c_gold + 1)) ;; esac; done
  if [ $c_all -gt 0 ]; then
    want=$(awk "BEGIN { printf \"%.4f\", $c_gold / $c_all }")
    got=$(echo "$out" | json_sql "select printf('%.4f', json_extract(J, '\$.questions[$i].citation_precision'))")
    [ "$want" = "$got" ] || { bad=$((bad + 1)); echo "      $id: citation precision $got, recomputed $want"; }
  fi
done
check_eq "eval: doc recall and citation precision agree with the documents given and cited" "$bad" 0
check_eq "eval: the totals are the means of the questions'" \
  "$(echo "$out" | json_sql "select printf('%.6f', json_extract(J, '\$.totals.doc_recall'))")" \
  "$(echo "$out" | json_sql "select printf('%.6f', avg(json_extract(value, '\$.doc_recall'))) from json_each(J, '\$.questions') where json_extract(value, '\$.doc_recall') is not null")"
out=$(rag eval --answers $answers/handcheck.jsonl)
check_contains "eval: a table on the terminal" "$out" "abstention          precision 1.000, recall 1.000"
printf '{"question": 3}\n' > $T/bad.jsonl
check_contains "eval: a bad file names the line and field" "$(rag eval --answers $T/bad.jsonl 2>&1)" "bad.jsonl:1: question"
finish
