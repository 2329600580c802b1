# ragd over loopback: every route and error code; two keys with different
# roles get different answers and never see each other's documents;
# uploads, deletions and documents ingested by another process show up at
# once; keys added while it runs work after SIGHUP; metrics; the chat page.
. "$(dirname "$0")/lib.sh"
need_models
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }
EMB=$M/bert-mean-f32.gguf
GEN=$T/gen.gguf
"$RAG_TOOLS/mkmodel" "$GEN" --arch llama --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 \
  --vocab 1000 --ctx 4096 --type f32 >/dev/null || { fail "mkmodel"; finish; exit; }

mkdir -p $T/fin $T/ops
printf '# Invoice approval\n\nInvoices above 5000 euros need two approvals from the finance controller.\n' > $T/fin/approval.md
printf '# Payment runs\n\nPayment runs happen every Thursday; invoices are paid within 30 days.\n' > $T/fin/payments.md
printf '# Crane inspection\n\nThe gantry crane is inspected every 30 days by a certified inspector.\n' > $T/ops/crane.md
printf '# Forklift charging\n\nForklift batteries are charged overnight in bay 4.\n' > $T/ops/forklift.md
rag ingest -q --acl finance --embed-model "$EMB" $T/fin >/dev/null
rag ingest -q --acl ops --embed-model "$EMB" $T/ops >/dev/null
FIN=$(rag keys add fin --roles finance)
OPS=$(rag keys add ops --roles ops --ingest)
ROOT=$(rag keys add root --admin)
check "keys look like keys" test ${#FIN} -eq 47 -a "${FIN#rag-}" != "$FIN"
check_eq "the database holds hashes, not keys" "$(sql "select count(*) from api_keys where hash = '$FIN' or hash like '%${FIN#rag-}%'")" 0

# one slot: every answer lands in the context the previous one left
printf '[server]\nmax_body = 64K\nmax_upload = 1M\n[model]\nslots = 1\nqueue = 4\n' > $T/ragd.conf
ragd_start --config $T/ragd.conf --model "$GEN" --embed-model "$EMB" || { fail "ragd starts"; finish; exit; }
ok "ragd starts and says where it listens ($RAGD_URL)"
check_contains "it listens on loopback" "$RAGD_URL" "http://127.0.0.1:"

# ---- public routes ----
out=$(api GET /health -)
check_eq "GET /health: 200 without a key" "$(status "$out")" 200
check_eq "health: ready" "$(body "$out" | json_get '$.ready')" 1
hdr=$(curl -s -D - -o $T/page.html "$RAGD_URL/")
check_contains "GET /: the chat page" "$(cat $T/page.html)" "<html"
check_contains "the page comes with a content security policy" "$hdr" "Content-Security-Policy: default-src 'none'"
check_not_contains "the page loads nothing from elsewhere" "$(grep -Eo '(src|href)="https?://[^"]*' $T/page.html)" "http"

# ---- authentication and permissions ----
q='{"query":"invoices approvals","k":10}'
check_eq "no key: 401" "$(status "$(api POST /v1/search - -d "$q")")" 401
check_eq "a wrong key: 401" "$(status "$(api POST /v1/search rag-0000000000000000000000000000000000000000000 -d "$q")")" 401
check_eq "not a bearer key: 401" "$(status "$(curl -s -o /dev/null -w 'HTTP %{http_code}\n' -H "Authorization: Basic $FIN" -d "$q" $RAGD_URL/v1/search)")" 401
out=$(api POST /v1/search - -d "$q")
check_eq "401 in OpenAI's error shape" "$(body "$out" | json_get '$.error.type')" authentication_error
check_eq "a query key may not upload: 403" "$(status "$(api POST /v1/documents $FIN -d '{"text":"x"}')")" 403
check_eq "metrics need an administrator: 403" "$(status "$(api GET /metrics $FIN)")" 403

# ---- roles: each key sees its own documents only ----
uris() { json_sql "select group_concat(json_extract(value, '\$.uri'), ' ') from json_each(J, '\$.results')"; }
fin_uris=$(api POST /v1/search $FIN -d "$q" | sed '$d' | uris)
ops_uris=$(api POST /v1/search $OPS -d '{"query":"crane inspected invoices","k":10}' | sed '$d' | uris)
root_uris=$(api POST /v1/search $ROOT -d '{"query":"invoices crane","k":10}' | sed '$d' | uris)
check_contains "finance finds its documents" "$fin_uris" "/fin/approval.md"
check_not_contains "finance never sees operations" "$fin_uris" "/ops/"
check_contains "operations finds its documents" "$ops_uris" "/ops/crane.md"
check_not_contains "operations never sees finance" "$ops_uris" "/fin/"
check_contains "the administrator sees both" "$root_uris" "/fin/"
check_contains "...and both" "$root_uris" "/ops/"
narrow=$(api POST /v1/search $ROOT -d '{"query":"invoices crane","k":10,"labels":["ops"]}' | sed '$d' | uris)
check_not_contains "labels narrow what an administrator sees" "$narrow" "/fin/"
out=$(api POST /v1/search $FIN -d '{"query":"crane","labels":["ops"]}')
check_eq "labels beyond the key's roles: 403" "$(status "$out")" 403
out=$(api POST /v1/search $FIN -d '{"query":"invoices","mode":"vector","k":4}')
check_eq "vector mode" "$(body "$out" | json_get '$.mode')" vector
check_not_contains "vector mode: finance only" "$(body "$out" | uris)" "/ops/"
check_eq "search explains its timings" "$(body "$out" | json_sql "select json_type(J, '\$.timings.vector_ms')")" real

# ---- chat: grounded in what the key may see ----
chat='{"model":"any","messages":[{"role":"user","content":"When are invoices paid?"}],"max_tokens":16,"seed":1}'
out=$(api POST /v1/chat/completions $FIN -d "$chat")
check_eq "chat: 200" "$(status "$out")" 200
b=$(body "$out")
check_eq "chat: an OpenAI chat.completion" "$(echo "$b" | json_get '$.object')" chat.completion
check_eq "chat: the assistant's message" "$(echo "$b" | json_get '$.choices[0].message.role')" assistant
check_eq "chat: usage counts the answer" "$(echo "$b" | json_get '$.usage.completion_tokens')" 16
check_eq "chat: written by the model from the documents" "$(echo "$b" | json_get '$.rag.mode')" generated
check "chat: context blocks were given" test "$(echo "$b" | json_len '$.sources')" -ge 1
check_eq "chat: finance's answer comes from finance documents only" \
  "$(echo "$b" | json_sql "select count(*) from json_each(J, '\$.sources') where json_extract(value, '\$.uri') like '%/ops/%'")" 0
check_eq "chat: timings are filled" "$(echo "$b" | json_sql "select json_extract(J, '\$.timings.generate_ms') > 0")" 1
# the time to the first token follows retrieval, the prompt, the wait for a slot and the prefill
check_eq "chat: first_token_ms comes after the stages before it and before the end" "$(echo "$b" | json_sql \
  "select json_extract(J, '\$.timings.first_token_ms') >= json_extract(J, '\$.timings.retrieve_ms') + json_extract(J, '\$.timings.prompt_build_ms') + json_extract(J, '\$.timings.queue_ms') + json_extract(J, '\$.timings.prompt_ms') and json_extract(J, '\$.timings.first_token_ms') <= json_extract(J, '\$.timings.total_ms')")" 1
again=$(api POST /v1/chat/completions $FIN -d "$chat" | sed '$d')
check_eq "chat: the same seed, the same answer" "$(echo "$again" | json_get '$.choices[0].message.content')" "$(echo "$b" | json_get '$.choices[0].message.content')"
# (all but its last 8 tokens: a pass of fewer would round otherwise than the
# prompt computed in one pass, and the same answer would not be assured)
check_eq "chat: the same prompt again is taken from the slot's cache (all but its last 8 tokens)" \
  "$(echo "$again" | json_sql "select json_extract(J, '\$.usage.prompt_tokens_details.cached_tokens') = json_extract(J, '\$.usage.prompt_tokens') - 8")" 1
# every slot starts with the instructions all prompts begin with: a key's
# first answer finds those cached, and nothing of the documents or question
check_eq "chat: the first answer found only the shared instructions cached" "$(echo "$b" | json_sql \
  "select json_extract(J, '\$.usage.prompt_tokens_details.cached_tokens') between 1 and json_extract(J, '\$.usage.prompt_tokens') - 2")" 1
b2=$(api POST /v1/chat/completions $OPS -d '{"messages":[{"role":"user","content":"When is the gantry crane inspected?"}],"max_tokens":4}' | sed '$d')
pub=$(echo "$b2" | json_get '$.usage.prompt_tokens_details.cached_tokens')
check "chat: another key's answer takes over the instructions every prompt begins with ($pub tokens)" test "$pub" -gt 20
b3=$(api POST /v1/chat/completions $ROOT -d '{"messages":[{"role":"user","content":"Who inspects cranes?"}],"max_tokens":4}' | sed '$d')
check_eq "...the same for a third key and another question: only that public part" \
  "$(echo "$b3" | json_get '$.usage.prompt_tokens_details.cached_tokens')" "$pub"
plain='{"messages":[{"role":"user","content":"Repeat after me: the quick brown fox jumps over the lazy dog"}],"max_tokens":2,"rag":{"retrieval":false}}'
api POST /v1/chat/completions $FIN -d "$plain" >/dev/null
p2=$(api POST /v1/chat/completions $OPS -d "$plain" | sed '$d')
p2_cached=$(echo "$p2" | json_get '$.usage.prompt_tokens_details.cached_tokens') p2_all=$(echo "$p2" | json_get '$.usage.prompt_tokens')
check "chat: another key's identical prompt reuses nothing of the first key's beyond that ($p2_cached of $p2_all tokens)" \
  test "$p2_cached" -le "$pub" -a "$p2_cached" -lt $((p2_all - 1))
check_eq "chat: operations' answer never draws on finance" \
  "$(echo "$b2" | json_sql "select count(*) from json_each(J, '\$.sources') where json_extract(value, '\$.uri') like '%/fin/%'")" 0
plain=$(api POST /v1/chat/completions $FIN -d '{"messages":[{"role":"user","content":"hello"}],"max_tokens":3,"rag":{"retrieval":false}}' | sed '$d')
check_eq "plain chat: no retrieval" "$(echo "$plain" | json_get '$.rag.mode')" none
check_eq "plain chat: rag.answer says it was chat, not an abstention" "$(echo "$plain" | json_get '$.rag.answer')" chat
check_eq "plain chat: no sources" "$(echo "$plain" | json_len '$.sources')" 0

# streamed
curl -sN -H "Authorization: Bearer $FIN" -d '{"messages":[{"role":"user","content":"When are invoices paid?"}],"max_tokens":12,"stream":true}' \
  $RAGD_URL/v1/chat/completions > $T/stream.txt
check_eq "stream: ends with [DONE]" "$(grep '^data: ' $T/stream.txt | tail -n1)" "data: [DONE]"
check_eq "stream: the first chunk names the role" "$(grep '^data: {' $T/stream.txt | head -n1 | sed 's/^data: //' | json_get '$.choices[0].delta.role')" assistant
n_content=$(grep -c '"delta":{"content"' $T/stream.txt)
check "stream: the text comes in pieces ($n_content)" test "$n_content" -ge 2
final=$(grep '^data: {' $T/stream.txt | tail -n1 | sed 's/^data: //')
check_eq "stream: the last chunk has no choices" "$(echo "$final" | json_len '$.choices')" 0
check_eq "stream: the last chunk carries citations and usage" "$(echo "$final" | json_sql "select json_type(J, '\$.citations') || json_type(J, '\$.usage')")" arrayobject
check_eq "stream: the last chunk's timings hold the time to the first token" "$(echo "$final" | json_sql \
  "select json_extract(J, '\$.timings.first_token_ms') > json_extract(J, '\$.timings.prompt_ms') and json_extract(J, '\$.timings.first_token_ms') <= json_extract(J, '\$.timings.total_ms')")" 1
check_eq "stream: finish_reason before the summary" "$(grep '^data: {' $T/stream.txt | tail -n2 | head -n1 | sed 's/^data: //' | json_get '$.choices[0].finish_reason')" length

# ---- bad requests ----
bad() { # DESC BODY STATUS NEEDLE
  local out; out=$(api POST /v1/chat/completions $FIN -d "$2")
  check_eq "$1: $3" "$(status "$out")" "$3"
  check_contains "$1: says what is wrong" "$(body "$out" | json_get '$.error.message')" "$4"
}
bad "no messages" '{"model":"x"}' 400 "messages"
bad "the last message is not the user's" '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}' 400 "last one must be the user"
bad "a tool message" '{"messages":[{"role":"tool","content":"a"}]}' 400 "not supported"
bad "n > 1" '{"messages":[{"role":"user","content":"a"}],"n":2}' 400 "n: expected an integer"
bad "temperature out of range" '{"messages":[{"role":"user","content":"a"}],"temperature":9}' 400 "temperature"
bad "too many tokens asked" '{"messages":[{"role":"user","content":"a"}],"max_tokens":999999}' 400 "max_tokens"
bad "k out of range" '{"messages":[{"role":"user","content":"a"}],"rag":{"k":0}}' 400 "rag.k"
out=$(api POST /v1/search $FIN -d '{"query": "a",}')
check_eq "invalid JSON: 400" "$(status "$out")" 400
check_contains "invalid JSON: names the byte" "$(body "$out" | json_get '$.error.message')" "at byte"
deep=$(printf '{"query":%s1%s}' "$(printf '[%.0s' $(seq 40))" "$(printf ']%.0s' $(seq 40))")
out=$(api POST /v1/search $FIN -d "$deep")
check_contains "JSON nested too deep: 400" "$(status "$out") $(body "$out" | json_get '$.error.message')" "400 the JSON body is nested deeper than 32"
head -c 70000 /dev/zero | tr '\0' a > $T/big.txt
out=$(api POST /v1/search $FIN --data-binary @$T/big.txt)
check_eq "a body over server.max_body: 413" "$(status "$out")" 413
out=$(api POST /v1/search $FIN -H "Transfer-Encoding: chunked" --data-binary @$T/big.txt)
check_eq "a chunked body over the limit: 413" "$(status "$out")" 413
out=$(api GET /v1/models $FIN -H "X-Filler: $(head -c 40000 $T/big.txt)")
check_eq "headers over the limit: 431" "$(status "$out")" 431
out=$(api GET /nowhere $FIN)
check_eq "an unknown route: 404" "$(status "$out")" 404
hdr=$(curl -s -D - -o /dev/null -X PUT -H "Authorization: Bearer $FIN" $RAGD_URL/v1/search)
check_contains "a wrong method: 405" "$hdr" "405"
check_contains "405 says which methods" "$hdr" "Allow: POST"
check_contains "every response has a request id" "$hdr" "X-Request-Id: req-"
hdr=$(curl -s -D - -o /dev/null -H "X-Request-Id: trace-42" $RAGD_URL/health)
check_contains "a client's request id is kept" "$hdr" "X-Request-Id: trace-42"

# ---- models and embeddings ----
out=$(api GET /v1/models $FIN)
check_eq "models: the generator and the encoder" "$(body "$out" | json_len '$.data')" 2
e1=$(api POST /v1/embeddings $FIN -d '{"input":["first text","second"],"model":"m"}' | sed '$d')
check_eq "embeddings: one per input" "$(echo "$e1" | json_len '$.data')" 2
check_eq "embeddings: the model's dimension" "$(echo "$e1" | json_len '$.data[0].embedding')" "$(rag embed -m "$EMB" --json x | json_len '$.vectors[0]' 2>/dev/null || echo 64)"
e2=$(api POST /v1/embeddings $FIN -d '{"input":["first text","second"],"encoding_format":"base64"}' | sed '$d')
check_eq "embeddings: base64 is the same little-endian floats" \
  "$(echo "$e2" | json_get '$.data[1].embedding' | base64 -d | od -An -f -w4 -v | head -n 3 | awk '{printf "%.5f ", $1}')" \
  "$(echo "$e1" | json_sql "select printf('%.5f %.5f %.5f ', json_extract(J, '\$.data[1].embedding[0]'), json_extract(J, '\$.data[1].embedding[1]'), json_extract(J, '\$.data[1].embedding[2]'))")"
out=$(api POST /v1/embeddings $FIN -d '{"input":[1,2,3]}')
check_eq "embeddings of token arrays: 400" "$(status "$out")" 400

# ---- documents ----
out=$(api POST /v1/documents $OPS -d '{"text":"# Dock doors\n\nDock door 7 is closed for repairs until Friday.","filename":"dock.md"}')
check_eq "upload (JSON): 201" "$(status "$out")" 201
doc=$(body "$out" | json_get '$.id')
check_eq "upload: labelled with the key's roles" "$(body "$out" | json_get '$.labels')" ops
check_contains "upload: searchable at once" "$(api POST /v1/search $OPS -d '{"query":"dock door repairs","k":3}' | sed '$d' | uris)" "dock.md"
check_not_contains "upload: invisible to other roles" "$(api POST /v1/search $FIN -d '{"query":"dock door repairs","k":10}' | sed '$d' | uris)" "dock.md"
printf 'Forklift keys are kept in the dispatch office.\n' > $T/keys.txt
out=$(api POST /v1/documents $OPS -F file=@$T/keys.txt -F labels=ops -F id=ops-keys)
check_eq "upload (form): 201" "$(status "$out")" 201
check_eq "upload (form): its id" "$(body "$out" | json_get '$.ext_id')" ops-keys
out=$(api POST /v1/documents $OPS -F file=@$T/keys.txt -F labels=ops -F id=ops-keys)
check_eq "the same upload again: unchanged" "$(body "$out" | json_get '$.status')" unchanged
printf 'Forklift keys are kept in the dispatch office, top drawer.\n' > $T/keys.txt
out=$(api POST /v1/documents $OPS -F file=@$T/keys.txt -F labels=ops -F id=ops-keys)
check_eq "changed content under the same id: updated" "$(body "$out" | json_get '$.status')" updated
out=$(api POST /v1/documents $OPS -d '{"text":"x","labels":["finance"]}')
check_eq "uploading for another role: 403" "$(status "$out")" 403
out=$(api POST /v1/documents $OPS -d '{"content_base64":"AAECAwQFBgcICQ==","filename":"blob.bin"}')
check_contains "a binary that is not a document: refused" "$(status "$out")" 41
out=$(api GET "/v1/documents?limit=2" $OPS)
check_eq "list: a page" "$(body "$out" | json_len '$.data')" 2
check_eq "list: the total the key may see" "$(body "$out" | json_get '$.total')" 4
check_eq "list: more to come" "$(body "$out" | json_get '$.has_more')" 1
check_eq "show: 200" "$(status "$(api GET /v1/documents/$doc $OPS)")" 200
check_eq "show another role's document: 404 (not 403: nothing leaks)" "$(status "$(api GET /v1/documents/$doc $FIN)")" 404
check_eq "delete another role's document: 404" "$(status "$(api DELETE /v1/documents/1 $OPS)")" 404
check_eq "delete: 200" "$(status "$(api DELETE /v1/documents/$doc $OPS)")" 200
check_eq "deleted: gone" "$(status "$(api GET /v1/documents/$doc $OPS)")" 404
check_not_contains "deleted: no longer found" "$(api POST /v1/search $OPS -d '{"query":"dock door repairs","k":5}' | sed '$d' | uris)" "dock.md"

# documents ingested by another process while ragd runs
mkdir -p $T/late
printf '# Zeppelin\n\nThe zeppelin hangar audit is due in March.\n' > $T/late/z.md
rag ingest -q --acl finance --embed-model "$EMB" $T/late >/dev/null
check_contains "a document ingested by rag ingest: found at once" "$(api POST /v1/search $FIN -d '{"query":"zeppelin hangar audit","k":2}' | sed '$d' | uris)" "z.md"
rm $T/late/z.md
rag ingest -q --prune $T/late >/dev/null
check_not_contains "...and gone once removed" "$(api POST /v1/search $FIN -d '{"query":"zeppelin hangar audit","k":5}' | sed '$d' | uris)" "z.md"

# ---- keys change while running ----
NEW=$(rag keys add late --roles finance)
check_eq "a key added while running: refused until SIGHUP" "$(status "$(api GET /v1/models $NEW)")" 401
kill -HUP $RAGD_PID; sleep 0.3
check_eq "after SIGHUP: accepted" "$(status "$(api GET /v1/models $NEW)")" 200
rag keys rm late >/dev/null; kill -HUP $RAGD_PID; sleep 0.3
check_eq "a removed key, after SIGHUP: refused" "$(status "$(api GET /v1/models $NEW)")" 401

# ---- metrics ----
m=$(api GET /metrics $ROOT | sed '$d')
check_contains "metrics: requests by route and status" "$m" 'ragd_requests_total{route="/v1/search",status="200"}'
check_contains "metrics: latency histograms per stage" "$m" 'ragd_stage_duration_seconds_bucket{stage="generate",le="+Inf"}'
check_contains "metrics: tokens" "$m" "ragd_generated_tokens_total"
check_contains "metrics: queue depth" "$m" "ragd_queue_waiting 0"
check_contains "metrics: documents" "$m" "ragd_documents 5"
check_contains "metrics: memory" "$m" "process_resident_memory_bytes"

# ---- logs ----
check_contains "the log names requests and keys" "$(cat $T/ragd.log)" " fin POST /v1/search 200 "
check_not_contains "the log never shows a key" "$(cat $T/ragd.log)" "$FIN"

ragd_stop; rc=$?
check_eq "SIGTERM: a clean stop" $rc 0
check_contains "SIGTERM: said so" "$(tail -n 3 $T/ragd.log)" "ragd: stopped"

# ---- etc/ragd.conf: every documented key, uncommented, is accepted (but the
# prefixes, which would not match the vectors) ----
conf=$(dirname "$0")/../../etc/ragd.conf
awk -v db="$RAG_DB" -v gen="$GEN" -v emb="$EMB" -v rr="$M/bert-rank-f32.gguf" -v up="$T/up" '
  /^\[/ { sec = $0 }
  /^#[a-z_]+ = / && !/^#(query|doc)_prefix/ {
    line = substr($0, 2)
    if (line ~ /^db = /) line = "db = " db
    else if (sec == "[server]" && line ~ /^listen = /) line = "listen = 127.0.0.1:0"
    else if (line ~ /^uploads_dir = /) line = "uploads_dir = " up
    else if (sec == "[model]" && line ~ /^path = /) line = "path = " gen
    else if (sec == "[embed]" && line ~ /^model = /) line = "model = " emb
    else if (sec == "[rerank]" && line ~ /^model = /) line = "model = " rr
    print line; next
  }
  { print }' "$conf" > $T/all.conf
check "etc/ragd.conf documents keys ($(grep -c '^[a-z_]* = ' $T/all.conf))" test "$(grep -c '^[a-z_]* = ' $T/all.conf)" -ge 35
ragd_start --config $T/all.conf
check_contains "etc/ragd.conf, every key uncommented: ragd starts" "$(cat $T/ragd.log)" "listening on 127.0.0.1:"
check_eq "...and serves" "$(status "$(api POST /v1/search $FIN -d '{"query":"invoices"}')")" 200
ragd_stop
printf '[embed]\nquery_prefix = "query: "\n' >> $T/all.conf
out=$("$RAGD_BIN" --config $T/all.conf 2>&1)
check_contains "prefixes other than the vectors were made with: refused, saying so" "$out" "with the prefixes query '' and document '', not query 'query: '"
sed -i 's/^max_json_depth = .*/max_json_depth = deep/' $T/all.conf
out=$("$RAGD_BIN" --config $T/all.conf 2>&1); rc=$?
check_eq "a bad value: ragd refuses to start" $rc 2
check_contains "...naming the file, line and key" "$out" "all.conf:$(grep -n '^max_json_depth' $T/all.conf | cut -d: -f1): server.max_json_depth"

# ---- without a generator: extractive answers, still grounded and scoped ----
ragd_start --embed-model "$EMB" || { fail "ragd starts without a generator"; finish; exit; }
out=$(api POST /v1/chat/completions $FIN -d '{"messages":[{"role":"user","content":"When are invoices paid?"}]}')
b=$(body "$out")
check_eq "extractive: 200" "$(status "$out")" 200
check_eq "extractive: said so" "$(echo "$b" | json_get '$.rag.mode')" extractive
check_contains "extractive: quotes the finance documents with [n]" "$(echo "$b" | json_get '$.choices[0].message.content')" "[1]"
check_contains "extractive: its citation" "$(echo "$b" | json_get '$.citations[0].uri')" "/fin/"
check_eq "plain chat without a generator: 501" "$(status "$(api POST /v1/chat/completions $FIN -d '{"messages":[{"role":"user","content":"hi"}],"rag":{"retrieval":false}}')")" 501
curl -sN -H "Authorization: Bearer $FIN" -d '{"stream":true,"messages":[{"role":"user","content":"When are invoices paid?"}]}' $RAGD_URL/v1/chat/completions > $T/ex.txt
check_eq "extractive, streamed: ends with [DONE]" "$(tail -n2 $T/ex.txt | head -n1)" "data: [DONE]"
check_contains "extractive, streamed: citations in the last chunk" "$(grep '^data: {' $T/ex.txt | tail -n1)" '"citations":[{"n":1'
finish
