# Remote backends: database B's embedder and generator are another ragd (A,
# with local models). rag ingest embeds B's files through A, search and ask
# retrieve from B's documents and A writes the answer, a ragd B answers
# chat (plain and streamed) with B's sources; with A stopped, or with a
# wrong key, the errors name the server, its URL and the reason, and B
# stays consistent; a server giving other dimensions under the model's name
# is refused. Configuration: a file and a server at once is refused.
. "$(dirname "$0")/lib.sh"
need_models
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }
EMB=$M/bert-mean-f32.gguf
"$RAG_TOOLS/mkmodel" $T/gen.gguf --arch llama --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 \
  --vocab 1000 --ctx 4096 --type f32 --untied >/dev/null || { fail "mkmodel"; finish; exit; }

# logged FILE TEXT: TEXT shows in FILE within 2 s (ragd logs a request once
# it has answered it, maybe just after the client has read the answer)
logged() { local i; for i in $(seq 1 40); do grep -qF -- "$2" "$1" && return 0; sleep 0.05; done; return 1; }

# uris FIELD: the uri of each element of a JSON array, one a line (the SQL
# holds no path: json_sql rewrites every J in it)
uris() { json_sql "select group_concat(json_extract(value, '\$.uri'), char(10)) from json_each(J, '\$.$1')"; }
# all_under LINES PREFIX: every non-empty line starts with PREFIX
all_under() {
  local u; while IFS= read -r u; do case "$u" in ""|"$2"*) ;; *) return 1 ;; esac; done <<< "$1"
}

# ---- A: local models, one key for B ----
KEY_A=$(rag --db $T/a.db keys add b-server --roles backend)
ragd_start --db $T/a.db --model $T/gen.gguf --embed-model "$EMB" || { fail "ragd A starts"; finish; exit; }
mv $T/ragd.log $T/a.log # A keeps writing there; B's ragd gets ragd.log
A_PID=$RAGD_PID A=$RAGD_URL/v1 RAGD_PID=
trap 'kill $A_PID 2>/dev/null' EXIT

# ---- B: its own database, both models at A ----
conf() { # KEY: B's configuration with that key for A
  printf '[embed]\nurl = %s\nremote_model = bert-mean\napi_key = %s\nretries = 1\n' "$A" "$1"
  printf '[model]\nurl = %s\nremote_model = tiny\napi_key = %s\nremote_ctx = 4096\nretries = 1\n' "$A" "$1"
}
conf "$KEY_A" > $T/b.conf
b() { rag --config $T/b.conf "$@"; }
mkdir -p $T/docs
printf '# Refunds\n\nRefunds are issued within 14 days of receiving the returned item.\n' > $T/docs/refunds.md
printf '# Crane\n\nThe gantry crane is inspected every 30 days by a certified inspector.\n' > $T/docs/crane.md
out=$(b ingest -q --acl staff $T/docs 2>&1); rc=$?
check_eq "ingest through A: exit 0 ($out)" $rc 0
check_eq "every chunk has a vector" "$(sql 'select count(*) from embeddings')" "$(sql 'select count(*) from chunks')"
check_eq "the model is recorded by its remote name, pooled remotely" "$(sql 'select name, pooling from models')" "bert-mean|remote"
check "A embedded them" logged $T/a.log " b-server POST /v1/embeddings 200 "
out=$(b search --mode vector --json "refunds for returned items")
check_eq "vector search on B" "$(echo "$out" | json_get '$.mode')" vector
check_contains "...finds B's documents" "$(echo "$out" | json_get '$.results[0].uri')" "$T/docs/"

# ---- another model under the same name: told apart by its dimension ----
"$RAG_TOOLS/mkmodel" $T/e32.gguf --arch bert --embd 32 --layers 1 --heads 2 --ff 64 --vocab 1000 --ctx 512 \
  --type f32 >/dev/null || fail "mkmodel (bert)"
KEY_A2=$(rag --db $T/a2.db keys add b-server --roles backend)
ragd_start --db $T/a2.db --embed-model $T/e32.gguf || fail "a second server starts"
out=$(RAG_EMBED_URL=$RAGD_URL/v1 RAG_EMBED_API_KEY=$KEY_A2 b search "refunds" 2>&1); rc=$?
check_eq "a server giving other dimensions under the model's name: refused" $rc 1
check_contains "...saying why" "$out" "gives 32 dimensions, the database's vectors of 'bert-mean' have 64"
ragd_stop

# ---- rag ask on B: B's passages, A's words ----
out=$(b ask --json --show-prompt -n 8 "When are refunds issued?"); rc=$?
check_eq "ask: exit 0" $rc 0
check_eq "ask: generated" "$(echo "$out" | json_get '$.mode')" generated
check_eq "ask: by A" "$(echo "$out" | json_get '$.remote')" "$A"
check_eq "ask: the remote model's name" "$(echo "$out" | json_get '$.model')" tiny
prompt=$(echo "$out" | json_get '$.prompt')
check_contains "ask: the prompt holds B's passage" "$prompt" "Refunds are issued within 14 days"
check_contains "ask: shown with a generic template" "$prompt" "[system]
You answer questions about the user's documents."
check "ask: an answer came" test -n "$(echo "$out" | json_get '$.answer')"
check "ask: A counted the tokens" test "$(echo "$out" | json_get '$.usage.completion_tokens')" -ge 1
blocks=$(echo "$out" | json_get '$.context_blocks')
check "ask: B's passages were given" test "$blocks" -ge 1
check_eq "ask: every citation names a passage given" \
  "$(echo "$out" | json_sql "select count(*) from json_each(J, '\$.citations') where json_extract(value, '\$.n') between 1 and $blocks")" \
  "$(echo "$out" | json_len '$.citations')"
check "ask: every citation is one of B's documents" all_under "$(echo "$out" | uris citations)" "$T/docs/"
check "ask: A wrote it" logged $T/a.log " b-server POST /v1/chat/completions 200 "
out=$(RAG_MODEL_URL=$A RAG_MODEL_REMOTE_MODEL=other b ask --json -n 2 --mode keyword "refunds")
check_eq "the environment wins over the file" "$(echo "$out" | json_get '$.model')" other

# ---- ragd B: the same configuration ----
KEY_B=$(rag keys add user --roles staff)
ragd_start --config $T/b.conf || { fail "ragd B starts"; finish; exit; }
check_contains "ragd B names its remote models" "$(cat $T/ragd.log)" "generator tiny (remote $A)"
out=$(api GET /health -)
check_eq "health: the remote generator" "$(body "$out" | json_get '$.models.generator')" "tiny (remote $A)"
check_eq "health: the remote embedder" "$(body "$out" | json_get '$.models.embedding')" "bert-mean (remote $A)"
out=$(api GET /v1/models $KEY_B)
check_eq "models: where the generator runs" "$(body "$out" | json_get '$.data[0].remote')" "$A"
chat='{"messages":[{"role":"user","content":"When are refunds issued?"}],"max_tokens":8}'
out=$(api POST /v1/chat/completions $KEY_B -d "$chat")
check_eq "chat on B: 200" "$(status "$out")" 200
b1=$(body "$out")
check_eq "chat on B: generated" "$(echo "$b1" | json_get '$.rag.mode')" generated
check_eq "chat on B: the remote model answers" "$(echo "$b1" | json_get '$.model')" tiny
check "chat on B: with sources" test "$(echo "$b1" | json_len '$.sources')" -ge 1
check "chat on B: every source is B's" all_under "$(echo "$b1" | uris sources)" "$T/docs/"
check_eq "chat on B: A's usage" "$(echo "$b1" | json_get '$.usage.completion_tokens')" 8
curl -sN -H "Authorization: Bearer $KEY_B" -d "${chat%\}},\"stream\":true}" $RAGD_URL/v1/chat/completions > $T/stream.txt
check_eq "stream on B: ends with [DONE]" "$(grep '^data: ' $T/stream.txt | tail -n1)" "data: [DONE]"
check "stream on B: text in pieces" test "$(grep -c '"delta":{"content"' $T/stream.txt)" -ge 2
final=$(grep '^data: {' $T/stream.txt | tail -n1 | sed 's/^data: //')
check_contains "stream on B: B's sources in the last chunk" "$(echo "$final" | json_get '$.sources[0].uri')" "$T/docs/"
out=$(api POST /v1/embeddings $KEY_B -d '{"input":["one","two"]}')
check_eq "embeddings on B, computed by A" "$(body "$out" | json_len '$.data')" 2

# ---- failures: a wrong key, then A gone ----
conf rag-wrong > $T/bad.conf
out=$(rag --config $T/bad.conf ask --mode keyword "When are refunds issued?" 2>&1); rc=$?
check_eq "a wrong key: ask fails" $rc 1
check_contains "...naming the generator server and HTTP 401" "$out" "generator server $A/chat/completions: HTTP 401 Unauthorized"
printf '# Forklift\n\nForklift batteries are charged overnight.\n' > $T/docs/forklift.md
out=$(rag --config $T/bad.conf ingest -q $T/docs 2>&1); rc=$?
check_eq "a wrong key: ingest fails" $rc 1
check_contains "...naming the embedding server and HTTP 401" "$out" "embedding server $A/embeddings: HTTP 401"
kill $A_PID; wait $A_PID 2>/dev/null
out=$(b ask --mode keyword "When are refunds issued?" 2>&1); rc=$?
check "A stopped: ask fails (exit $rc)" test $rc -ne 0
check_contains "...naming the generator server and its URL" "$out" "generator server $A/chat/completions: Couldn't connect to server (after 2 attempts)"
out=$(api POST /v1/chat/completions $KEY_B -d '{"messages":[{"role":"user","content":"refunds?"}],"rag":{"mode":"keyword"}}')
check_eq "A stopped: ragd B answers 502" "$(status "$out")" 502
check_contains "...naming the generator server" "$(body "$out" | json_get '$.error.message')" "generator server $A/chat/completions"
docs=$(sql 'select count(*) from documents')
out=$(b ingest -q $T/docs 2>&1); rc=$?
check "A stopped: ingest fails (exit $rc)" test $rc -ne 0
check_contains "...naming the embedding server" "$out" "embedding server $A/embeddings"
check_eq "...adding nothing" "$(sql 'select count(*) from documents')" "$docs"
check "...and B is consistent" rag check -q
ragd_stop

# ---- a silent generator server: a client that hangs up is not kept waiting ----
# (httpfixture answers nothing for 30 s; the client leaves after 2 s)
mkdir -p $T/silent
"$RAG_TOOLS/httpfixture" --root $T/silent --port 0 --delay 30 2>$T/fx.err &
FX_PID=$!
trap 'kill $A_PID $FX_PID 2>/dev/null' EXIT
for i in $(seq 1 100); do
  FX_URL=$(sed -n 's/^httpfixture: listening on \(.*\)$/http:\/\/\1/p' $T/fx.err); [ -n "$FX_URL" ] && break; sleep 0.05
done
printf '[model]\nurl = %s/v1\nremote_model = tiny\nremote_ctx = 4096\ntimeout = 120\n[server]\npublic_metrics = true\n' \
  "$FX_URL" > $T/silent.conf
ragd_start --config $T/silent.conf || { fail "ragd with a silent generator starts"; finish; exit; }
running() { # VALUE: ragd_generations_running shows it within 6 s
  local i; for i in $(seq 1 60); do
    [ "$(curl -s $RAGD_URL/metrics | awk '$1 == "ragd_generations_running" { print $2 }')" = "$1" ] && return 0; sleep 0.1
  done; return 1
}
curl -sN --max-time 2 -H "Authorization: Bearer $KEY_B" -o /dev/null \
  -d '{"stream":true,"max_tokens":8,"messages":[{"role":"user","content":"hi"}],"rag":{"retrieval":false}}' \
  $RAGD_URL/v1/chat/completions &
cpid=$!
check "a silent generator server: the generation waits on it" running 1
wait $cpid
check "...and ends within 6 s of the client's hang-up, not at the server's 30" running 0
ragd_stop
kill $FX_PID 2>/dev/null; wait $FX_PID 2>/dev/null

# ---- configuration ----
printf '[model]\npath = %s\nurl = %s\nremote_model = x\n' $T/gen.gguf "$A" > $T/both.conf
out=$(rag --config $T/both.conf stats 2>&1); rc=$?
check_eq "a model file and a server at once: exit 2" $rc 2
check_contains "...saying so with the file and line" "$out" "both.conf:3: model.path and model.url are both set"
out=$(RAG_EMBED_URL=$A rag stats 2>&1); rc=$?
check_eq "a server without its model name: exit 2" $rc 2
check_contains "...saying which setting" "$out" "embed.remote_model or RAG_EMBED_REMOTE_MODEL"
out=$("$RAGD_BIN" --config $T/both.conf 2>&1); rc=$?
check_eq "ragd refuses it too" $rc 2
finish
