# Feedback on answers: ragd records every chat answer (extractive, generated,
# plain chat; streamed or not) and the key that got one may rate it through
# POST /v1/feedback, again to change its mind; another key's answer is the
# same 404 as an id nobody has; bad fields are 400 naming them; `rag
# feedback list|export` shows the ratings with the answers, cited passages
# and settings; answers past feedback.keep_days or beyond
# feedback.max_answers are deleted; a cluster node records into its own
# replica. No test models needed: answers are extractive, and a tiny random
# generator (mkmodel) writes the others.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }

mkdir -p $T/docs $T/ops
printf '# Invoice approval\n\nInvoices above 5000 euros need two approvals from the finance controller.\n' > $T/docs/approval.md
printf '# Payment runs\n\nPayment runs happen every Thursday; invoices are paid within 30 days.\n' > $T/docs/payments.md
printf '# Crane inspection\n\nThe gantry crane is inspected every 30 days.\n' > $T/ops/crane.md
rag ingest -q --acl finance $T/docs >/dev/null
rag ingest -q --acl ops $T/ops >/dev/null
A=$(rag keys add alice --roles finance 2>/dev/null)
B=$(rag keys add bob --roles finance 2>/dev/null)
ROOT=$(rag keys add root --admin 2>/dev/null)

ragd_start || { fail "ragd starts"; finish; exit; }
ok "ragd starts without models (extractive answers)"

ask='{"messages":[{"role":"user","content":"When are invoices paid?"}]}'
out=$(api POST /v1/chat/completions $A -d "$ask")
check_eq "alice asks: 200" "$(status "$out")" 200
ID=$(body "$out" | json_get '$.id')
check_contains "the answer's id" "$ID" "chatcmpl-"
check_eq "an extractive answer" "$(body "$out" | json_get '$.rag.mode')" extractive

# ---- rating ----
out=$(api POST /v1/feedback $A -d "{\"id\":\"$ID\",\"rating\":\"up\"}")
check_eq "alice rates it up: 200" "$(status "$out")" 200
check_eq "...the rating" "$(body "$out" | json_get '$.rating')" up
check_eq "...a first rating: updated false" "$(body "$out" | json_get '$.updated')" 0
check_eq "...no comment: null" "$(body "$out" | json_sql "select json_type(J, '\$.comment')")" null
out=$(api POST /v1/feedback $A -d "{\"id\":\"$ID\",\"rating\":\"down\",\"comment\":\"the 5000 euro rule is missing\"}")
check_eq "alice changes her mind: 200" "$(status "$out")" 200
check_eq "...updated true" "$(body "$out" | json_get '$.updated')" 1
check_eq "...the new rating" "$(body "$out" | json_get '$.rating')" down
check_eq "...the comment" "$(body "$out" | json_get '$.comment')" "the 5000 euro rule is missing"
check_eq "the database holds one rating, the last" "$(sql "select rating || ':' || comment from answers where rating is not null")" "down:the 5000 euro rule is missing"

# ---- only the key that got the answer ----
theirs=$(api POST /v1/feedback $B -d "{\"id\":\"$ID\",\"rating\":\"up\"}")
nobody=$(api POST /v1/feedback $B -d '{"id":"chatcmpl-req-00000000-1","rating":"up"}')
check_eq "bob rates alice's answer: 404" "$(status "$theirs")" 404
check_eq "an id nobody has: 404" "$(status "$nobody")" 404
check_eq "...the same body word for word" "$(body "$theirs")" "$(body "$nobody")"
check_eq "...which names the field" "$(body "$theirs" | json_get '$.error.param')" id
check_eq "bob's attempt changed nothing" "$(sql "select rating from answers where key_name = 'alice'")" down
check_eq "the administrator cannot rate alice's answer either" "$(status "$(api POST /v1/feedback $ROOT -d "{\"id\":\"$ID\",\"rating\":\"up\"}")")" 404
# the same work either way: both look up (bob, id) in one index; medians of
# alternating requests, printed, and only a gross difference fails
t_theirs=() t_nobody=()
for i in $(seq 1 40); do
  t_theirs+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $B" -d "{\"id\":\"$ID\",\"rating\":\"up\"}" $RAGD_URL/v1/feedback)")
  t_nobody+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $B" -d '{"id":"chatcmpl-req-00000000-1","rating":"up"}' $RAGD_URL/v1/feedback)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {printf "%.0f", v[int((NR + 1) / 2)] * 1e6}'; }
m1=$(median "${t_theirs[@]}") m2=$(median "${t_nobody[@]}")
echo "     404 medians over 40 requests each: another key's id ${m1} us, an unknown id ${m2} us"
check "another key's id answers as fast as an unknown one (${m1} us, ${m2} us)" \
  test $((m1 > m2 ? m1 - m2 : m2 - m1)) -lt $(( (m1 < m2 ? m1 : m2) + 2000 ))

# an id chosen by bob to be alice's (X-Request-Id) makes bob an answer of
# his own under it: alice's is untouched and still hers
rid=${ID#chatcmpl-}
out=$(api POST /v1/chat/completions $B -H "X-Request-Id: $rid" -d "$ask")
check_eq "bob's answer under alice's id" "$(body "$out" | json_get '$.id')" "$ID"
out=$(api POST /v1/feedback $B -d "{\"id\":\"$ID\",\"rating\":\"up\"}")
check_eq "bob rates his own answer of that id: 200" "$(status "$out")" 200
check_eq "...as a first rating" "$(body "$out" | json_get '$.updated')" 0
check_eq "alice's rating is still hers" "$(sql "select rating from answers where key_name = 'alice' and answer_id = '$ID'")" down

# ---- bad requests ----
bad() { # DESC BODY STATUS PARAM
  local out; out=$(api POST /v1/feedback $A -d "$2")
  check_eq "$1: $3" "$(status "$out")" "$3"
  [ -n "$4" ] && check_eq "$1: names $4" "$(body "$out" | json_get '$.error.param')" "$4"
}
bad "a rating that is neither up nor down" "{\"id\":\"$ID\",\"rating\":\"meh\"}" 400 rating
bad "no rating" "{\"id\":\"$ID\"}" 400 rating
bad "a rating that is not a string" "{\"id\":\"$ID\",\"rating\":1}" 400 rating
bad "no id" '{"rating":"up"}' 400 id
bad "a comment that is not a string" "{\"id\":\"$ID\",\"rating\":\"up\",\"comment\":[1]}" 400 comment
long=$(head -c 4001 /dev/zero | tr '\0' x)
bad "a comment of 4001 bytes" "{\"id\":\"$ID\",\"rating\":\"up\",\"comment\":\"$long\"}" 400 comment
out=$(api POST /v1/feedback $A -d "{\"id\":\"$ID\",\"rating\":\"up\",\"comment\":\"${long:1}\"}")
check_eq "a comment of 4000 bytes: 200" "$(status "$out")" 200
api POST /v1/feedback $A -d "{\"id\":\"$ID\",\"rating\":\"down\",\"comment\":\"the 5000 euro rule is missing\"}" >/dev/null
out=$(api POST /v1/feedback $A -d '{"id": "x",}')
check_eq "invalid JSON: 400" "$(status "$out")" 400
check_eq "no key: 401" "$(status "$(api POST /v1/feedback - -d "{\"id\":\"$ID\",\"rating\":\"up\"}")")" 401
check_eq "GET: 405" "$(status "$(api GET /v1/feedback $A)")" 405

# ---- a streamed answer ----
curl -sN -H "Authorization: Bearer $A" -d '{"messages":[{"role":"user","content":"Who approves invoices?"}],"stream":true}' \
  $RAGD_URL/v1/chat/completions > $T/stream.txt
check_eq "stream: ends with [DONE]" "$(grep '^data: ' $T/stream.txt | tail -n1)" "data: [DONE]"
SID=$(grep '^data: {' $T/stream.txt | head -n1 | sed 's/^data: //' | json_get '$.id')
check_contains "stream: its chunks carry the id" "$SID" "chatcmpl-"
out=$(api POST /v1/feedback $A -d "{\"id\":\"$SID\",\"rating\":\"up\",\"comment\":\"clear\"}")
check_eq "a streamed answer rated right after its end: 200" "$(status "$out")" 200

# ---- rag feedback ----
out=$(rag feedback list)
check_contains "feedback list: alice's question" "$out" "When are invoices paid?"
check_contains "...her rating" "$(printf '%s\n' "$out" | grep 'When are invoices')" "down"
check_contains "...her comment" "$out" "the 5000 euro rule is missing"
check_contains "...the streamed answer's rating" "$out" "Who approves invoices?"
check_eq "feedback list: newest first" "$(printf '%s\n' "$out" | sed -n 2p | grep -c 'Who approves')" 1
check_eq "feedback list --rating up --key alice: the streamed one only" \
  "$(rag feedback list --rating up --key alice | tail -n +2 | wc -l)" 1
check_contains "feedback list --key nobody" "$(rag feedback list --key nobody)" "no ratings"
j=$(rag feedback list --json --key alice --rating down)
check_eq "feedback list --json: one" "$(echo "$j" | json_len '$.feedback')" 1
check_eq "...alice's" "$(echo "$j" | json_get '$.feedback[0].key')" alice
check_eq "feedback list --limit 1" "$(rag feedback list --json --limit 1 | json_len '$.feedback')" 1
check_eq "feedback --rating meh: usage error" "$(rag feedback list --rating meh >/dev/null 2>&1; echo $?)" 2
check_eq "feedback --as: refused" "$(rag feedback list --as finance >/dev/null 2>&1; echo $?)" 2
rag feedback export > $T/export.jsonl
check_eq "feedback export: one line per rated answer" "$(wc -l < $T/export.jsonl)" 3
line=$(grep '"key":"alice"' $T/export.jsonl | grep 'When are invoices')
check_eq "export: the question" "$(echo "$line" | json_get '$.question')" "When are invoices paid?"
check_eq "export: no rewrite (null)" "$(echo "$line" | json_sql "select json_type(J, '\$.rewrite')")" null
check_contains "export: the answer" "$(echo "$line" | json_get '$.answer')" "30 days"
check_contains "export: the cited passage's uri" "$(echo "$line" | json_get '$.citations[0].uri')" "/docs/payments.md"
check_eq "export: the citation's number" "$(echo "$line" | json_get '$.citations[0].n')" 1
check_eq "export: the settings (mode, retrieval, k, rerank, model)" \
  "$(echo "$line" | json_sql "select json_extract(J, '\$.settings.mode') || ' ' || json_extract(J, '\$.settings.retrieval') || ' ' || json_extract(J, '\$.settings.k') || ' ' || json_extract(J, '\$.settings.rerank') || ' ' || json_extract(J, '\$.settings.model')")" \
  "extractive keyword 6 0 ragd-extractive"
check_eq "export: temperature and max_tokens" "$(echo "$line" | json_sql "select json_extract(J, '\$.settings.temperature') || ' ' || json_extract(J, '\$.settings.max_tokens')")" "0 512"
check_eq "export: rating, comment and the times" \
  "$(echo "$line" | json_sql "select json_extract(J, '\$.rating') || ' ' || json_extract(J, '\$.comment') || ' ' || (json_extract(J, '\$.rated_at') >= json_extract(J, '\$.created_at'))")" \
  "down the 5000 euro rule is missing 1"
check_eq "export --all: the unrated answers too" "$(rag feedback export --all | wc -l)" 3
api POST /v1/chat/completions $A -d '{"messages":[{"role":"user","content":"Who inspects the crane?"}]}' >/dev/null
check_eq "export --all: an answer nobody rated" "$(rag feedback export --all | grep -c 'Who inspects the crane')" 1
check_eq "export: not among the ratings" "$(rag feedback export | grep -c 'Who inspects the crane')" 0
api POST /v1/feedback $B -d '{"id":"chatcmpl-none","rating":"up"}' >/dev/null # after the answers queued
m=$(api GET /metrics $ROOT | sed '$d')
check_contains "metrics: answers recorded" "$m" "ragd_answers_recorded_total 4"
check_contains "metrics: ratings down" "$m" 'ragd_feedback_ratings_total{rating="down"} 2'
check_contains "metrics: nothing failed to be recorded" "$m" "ragd_answers_not_recorded_total 0"
check_contains "metrics: the route" "$m" 'ragd_requests_total{route="/v1/feedback",status="404"}'
ragd_stop; rc=$?
check_eq "SIGTERM: a clean stop, the recorder's thread with it" $rc 0

# ---- generated answers and plain chat (a tiny random model) ----
GEN=$T/gen.gguf
if "$RAG_TOOLS/mkmodel" "$GEN" --arch llama --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 \
     --vocab 1000 --ctx 4096 --type f32 >/dev/null; then
  ragd_start --model "$GEN" || { fail "ragd starts with a generator"; finish; exit; }
  out=$(api POST /v1/chat/completions $A -d '{"messages":[{"role":"user","content":"When are invoices paid?"}],"max_tokens":6,"temperature":0.5}')
  GID=$(body "$out" | json_get '$.id')
  check_eq "a generated answer: rated" "$(status "$(api POST /v1/feedback $A -d "{\"id\":\"$GID\",\"rating\":\"up\"}")")" 200
  out=$(api POST /v1/chat/completions $A -d '{"messages":[{"role":"user","content":"hello there"}],"max_tokens":3,"rag":{"retrieval":false}}')
  PID=$(body "$out" | json_get '$.id')
  check_eq "plain chat: rated" "$(status "$(api POST /v1/feedback $A -d "{\"id\":\"$PID\",\"rating\":\"down\"}")")" 200
  curl -sN -H "Authorization: Bearer $A" -d '{"messages":[{"role":"user","content":"Who approves invoices?"}],"max_tokens":5,"stream":true}' \
    $RAGD_URL/v1/chat/completions > $T/gstream.txt
  GSID=$(grep '^data: {' $T/gstream.txt | head -n1 | sed 's/^data: //' | json_get '$.id')
  check_eq "a streamed generated answer: rated" "$(status "$(api POST /v1/feedback $A -d "{\"id\":\"$GSID\",\"rating\":\"up\"}")")" 200
  ragd_stop; rc=$?
  check_eq "a clean stop" $rc 0
  g=$(rag feedback export | grep "\"id\":\"$GID\"")
  check_eq "export: generated, with the request's temperature and max_tokens" \
    "$(echo "$g" | json_sql "select json_extract(J, '\$.settings.mode') || ' ' || json_extract(J, '\$.settings.temperature') || ' ' || json_extract(J, '\$.settings.max_tokens') || ' ' || json_extract(J, '\$.settings.stop_reason')")" \
    "generated 0.5 6 length"
  check_eq "export: the generator's name" "$(echo "$g" | json_get '$.settings.model')" "$(echo "$out" | sed '$d' | json_get '$.model')"
  p=$(rag feedback export | grep "\"id\":\"$PID\"")
  check_eq "export: plain chat, no retrieval and no citations" \
    "$(echo "$p" | json_sql "select json_extract(J, '\$.settings.mode') || ' ' || json_type(J, '\$.settings.retrieval') || ' ' || json_array_length(J, '\$.citations')")" \
    "none null 0"
  check_eq "export: plain chat's answer text" "$(echo "$p" | json_get '$.answer')" "$(echo "$out" | sed '$d' | json_get '$.choices[0].message.content')"
  check_eq "export: the streamed generated answer" "$(rag feedback export | grep -c "\"id\":\"$GSID\"")" 1
else
  fail "mkmodel"
fi

# ---- retention ----
n=$(sql "select count(*) from answers")
sql "update answers set created_at = created_at - 91 * 86400 where answer_id = '$ID' and key_name = 'alice'"
printf '[feedback]\nkeep_days = 90\n' > $T/keep.conf
ragd_start --config $T/keep.conf || { fail "ragd starts"; finish; exit; }
ragd_stop
check_eq "an answer older than keep_days is gone, with its rating and citations" \
  "$(sql "select count(*) from answers where key_name = 'alice' and answer_id = '$ID'") $(sql "select count(*) from answer_chunks where answer not in (select id from answers)")" "0 0"
check_eq "...the others stay" "$(sql "select count(*) from answers")" $((n - 1))
printf '[feedback]\nmax_answers = 2\n' > $T/max.conf
ragd_start --config $T/max.conf || { fail "ragd starts"; finish; exit; }
check_eq "beyond max_answers the oldest go" "$(sql "select count(*) from answers")" 2
api POST /v1/chat/completions $A -d "$ask" >/dev/null
ragd_stop
check_eq "...and new answers are recorded" "$(sql "select count(*) from answers")" 3
printf '[feedback]\nkeep_days = 0\n' > $T/off.conf
ragd_start --config $T/off.conf || { fail "ragd starts"; finish; exit; }
check_eq "keep_days = 0: nothing is kept" "$(sql "select count(*) from answers")" 0
out=$(api POST /v1/chat/completions $A -d "$ask")
check_eq "...answers still come" "$(status "$out")" 200
check_eq "...and cannot be rated (404)" "$(status "$(api POST /v1/feedback $A -d "{\"id\":\"$(body "$out" | json_get '$.id')\",\"rating\":\"up\"}")")" 404
ragd_stop
check_eq "...nothing was recorded" "$(sql "select count(*) from answers")" 0

# ---- cluster mode: a node records its answers in its own replica ----
if pg_start; then
  CK=$(rag keys add --db "$PG_URL" carol --roles finance --ingest 2>/dev/null)
  ragd_start --db "$PG_URL" --replica $T/node.db || { fail "a cluster node starts"; finish; exit; }
  out=$(api POST /v1/documents $CK -d '{"text":"# Payment runs\n\nInvoices are paid within 30 days.","filename":"pay.md"}')
  check_eq "cluster: an upload through the node" "$(status "$out")" 201
  out=$(api POST /v1/chat/completions $CK -d "$ask")
  CID=$(body "$out" | json_get '$.id')
  out=$(api POST /v1/feedback $CK -d "{\"id\":\"$CID\",\"rating\":\"up\",\"comment\":\"from a node\"}")
  check_eq "cluster: the node's answer rated on the node" "$(status "$out")" 200
  ragd_stop
  check_contains "cluster: rag feedback list reads this machine's replica" \
    "$(rag feedback list --db "$PG_URL" --replica $T/node.db 2>/dev/null)" "from a node"
  check_eq "cluster: the answers stay out of PostgreSQL" "$(psql_do -c "select to_regclass('answers') is null")" t
  pg_stop
elif [ "${CI:-}" = true ]; then
  fail "PostgreSQL starts (CI=true: required)"
else
  echo "SKIP: PostgreSQL cannot start here: the cluster part did not run"
fi
finish
