# Pools of remote servers (model.url, embed.url as lists; net/pool.c): two
# ragd generator servers G1 and G2 behind a front ragd F. Under a steady
# load of streamed chats G2 is killed (SIGKILL): every chat either finishes
# or had already streamed text when it failed (none fails before its first
# text); F marks G2 down and G1 serves the rest. The embedder is a pool
# whose first URL is dead: rag ingest and search still work, and so does
# ragd F's start. /metrics shows each server, `rag config`, /health,
# /metrics, F's log and error messages never show a URL's password; with
# every generator gone the error says how many servers were tried.
. "$(dirname "$0")/lib.sh"
need_models
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }
EMB=$M/bert-mean-f32.gguf
"$RAG_TOOLS/mkmodel" $T/gen.gguf --arch llama --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 \
  --vocab 1000 --ctx 4096 --type f32 --untied >/dev/null || { fail "mkmodel"; finish; exit; }
PW=s3cretpw
DEAD=http://127.0.0.1:1/v1 # nothing listens on port 1: connections are refused

# ---- G1 and G2: the same key (one database, copied), local models ----
# (G2 has one slot: chats wait there, without a byte of their answer, when
# it is killed; they must go to G1)
KEY_G=$(rag --db $T/g1.db keys add front --roles backend)
cp $T/g1.db $T/g2.db
ragd_start --db $T/g1.db --model $T/gen.gguf --embed-model "$EMB" --slots 4 || { fail "G1 starts"; finish; exit; }
mv $T/ragd.log $T/g1.log; G1_PID=$RAGD_PID G1=$RAGD_URL/v1 RAGD_PID=
ragd_start --db $T/g2.db --model $T/gen.gguf --slots 1 || { fail "G2 starts"; kill $G1_PID; finish; exit; }
mv $T/ragd.log $T/g2.log; G2_PID=$RAGD_PID G2=$RAGD_URL/v1 RAGD_PID=
trap 'kill $G1_PID $G2_PID 2>/dev/null' EXIT
G1_AUTH=${G1/http:\/\//http://front:$PW@} # userinfo in the URL: sent, never shown

# ---- F: generator pool G1, G2; embedder pool DEAD, G1 ----
conf() { # the settings both programs read
  printf '[model]\nurl = %s, %s\nremote_model = tiny\napi_key = %s\nremote_ctx = 4096\n' "$G1_AUTH" "$G2" "$KEY_G"
  printf '[embed]\nurl = %s, %s\nremote_model = bert-mean\napi_key = %s\n' "$DEAD" "$G1_AUTH" "$KEY_G"
}
conf > $T/f.conf
{ conf; printf '[server]\npublic_metrics = true\n'; } > $T/fd.conf
f() { rag --config $T/f.conf "$@"; }

# ---- the embedder pool with a dead URL: ingest and search ----
mkdir -p $T/docs
printf '# Refunds\n\nRefunds are issued within 14 days of receiving the returned item.\n' > $T/docs/refunds.md
printf '# Crane\n\nThe gantry crane is inspected every 30 days by a certified inspector.\n' > $T/docs/crane.md
out=$(f ingest -q $T/docs 2>&1); rc=$?
check_eq "ingest through an embedder pool whose first server is dead: exit 0 ($out)" $rc 0
check_eq "...every chunk has a vector" "$(sql 'select count(*) from embeddings')" "$(sql 'select count(*) from chunks')"
out=$(f search --mode vector --json "refunds for returned items" 2>&1)
check_eq "vector search through the pool" "$(echo "$out" | json_get '$.mode')" vector
check_contains "...finds the document" "$(echo "$out" | json_get '$.results[0].uri')" "$T/docs/refunds.md"

# ---- rag config: the pool, without the password ----
out=$(f config 2>&1)
check_contains "rag config shows the generator pool" "$out" "model.url = http://(hidden)@${G1#http://}, $G2"
check_contains "...and the embedder pool" "$out" "embed.url = $DEAD, http://(hidden)@${G1#http://}"
check_not_contains "...never the password" "$out" "$PW"
out=$(f config --json 2>&1)
check_not_contains "rag config --json: no password either" "$out" "$PW"
out=$(f ask --json -n 4 --mode keyword "When are refunds issued?" 2>&1)
check_eq "rag ask through the pool: generated" "$(echo "$out" | json_get '$.mode')" generated
check_eq "...naming the servers without the password" "$(echo "$out" | json_get '$.remote')" "$G1, $G2"

# ---- ragd F ----
KEY_F=$(rag keys add user --roles staff)
ragd_start --config $T/fd.conf --slots 8 || { fail "ragd F starts (its embedder's first server is dead)"; finish; exit; }
out=$(api GET /health -)
check_eq "health: the generator pool, without the password" "$(body "$out" | json_get '$.models.generator')" "tiny (remote $G1, $G2)"
metric() { curl -s $RAGD_URL/metrics | awk -v k="$1" '$1 == k { print $2 }'; }

# ---- load: 6 clients stream chats back to back; G2 is killed in the middle ----
mkdir -p $T/load
chat='{"stream":true,"max_tokens":128,"messages":[{"role":"user","content":"Tell me about refunds"}],"rag":{"retrieval":false}}'
client() { # N: chats until $T/load/stop exists (at most 200)
  local k
  for k in $(seq 1 200); do
    [ -e $T/load/stop ] && return
    curl -sN --max-time 60 -H "Authorization: Bearer $KEY_F" -d "$chat" \
      $RAGD_URL/v1/chat/completions > $T/load/c$1.$k 2>&1
  done
}
pids=()
for c in 1 2 3 4 5 6; do client $c & pids+=($!); done
sleep 2
g2_before=$(metric "ragd_backend_requests_total{role=\"generator\",server=\"$G2\"}")
g2_busy=$(metric "ragd_backend_in_flight{role=\"generator\",server=\"$G2\"}")
kill -KILL $G2_PID; wait $G2_PID 2>/dev/null
sleep 3
touch $T/load/stop
wait "${pids[@]}"

total=0 done_ok=0 cut=0 bad=0
for r in $T/load/c*; do
  total=$((total + 1))
  if grep -q '"error"' $r || [ "$(grep '^data: ' $r | tail -n1)" != "data: [DONE]" ]; then
    if grep -q '"delta":{"content":"[^"]' $r; then cut=$((cut + 1)); else
      bad=$((bad + 1)); echo "    a chat failed before any text: $(head -c 400 $r)"; fi
  else
    done_ok=$((done_ok + 1))
  fi
done
check "load: chats ran ($total: $done_ok finished, $cut cut after their first text)" test $total -ge 10
check_eq "load: no chat failed before its first text" $bad 0
check "G2 had served some before it was killed ($g2_before; $g2_busy in flight at the kill)" test "${g2_before:-0}" -ge 1
check_eq "F marks G2 down" "$(metric "ragd_backend_up{role=\"generator\",server=\"$G2\"}")" 0
g2_failed=$(metric "ragd_backend_failures_total{role=\"generator\",server=\"$G2\"}")
check "...counting its failures ($g2_failed)" test "${g2_failed:-0}" -ge 1
check_eq "G1 is up" "$(metric "ragd_backend_up{role=\"generator\",server=\"$G1\"}")" 1
check "...and served the rest" test "$(metric "ragd_backend_requests_total{role=\"generator\",server=\"$G1\"}")" -ge 5
check_eq "nothing in flight now" "$(metric "ragd_backend_in_flight{role=\"generator\",server=\"$G1\"}")" 0
check_eq "the embedder's dead server is down" "$(metric "ragd_backend_up{role=\"embedding\",server=\"$DEAD\"}")" 0
check_eq "...its live one up" "$(metric "ragd_backend_up{role=\"embedding\",server=\"$G1\"}")" 1
out=$(api POST /v1/chat/completions $KEY_F -d '{"max_tokens":8,"messages":[{"role":"user","content":"refunds?"}],"rag":{"retrieval":false}}')
check_eq "a chat after the kill: 200" "$(status "$out")" 200
check "...generated by G1" test "$(body "$out" | json_get '$.usage.completion_tokens')" -ge 1
check_not_contains "/metrics never shows the password" "$(curl -s $RAGD_URL/metrics)" "$PW"

# ---- every generator gone ----
kill $G1_PID; wait $G1_PID 2>/dev/null
out=$(api POST /v1/chat/completions $KEY_F -d '{"messages":[{"role":"user","content":"refunds?"}],"rag":{"retrieval":false}}')
check_eq "every generator gone: ragd F answers 502" "$(status "$out")" 502
check_contains "...saying how many servers were tried" "$(body "$out" | json_get '$.error.message')" "(2 servers tried)"
ragd_stop
check_not_contains "F's log never shows the password" "$(cat $T/ragd.log)" "$PW"
out=$(f ask --mode keyword "When are refunds issued?" 2>&1); rc=$?
check "rag ask with every generator gone fails (exit $rc)" test $rc -ne 0
check_contains "...naming a generator server" "$out" "generator server http://127.0.0.1:"
check_contains "...and how many were tried" "$out" "(2 servers tried)"
check_not_contains "...never the password" "$out" "$PW"

# ---- configuration: at most 16 servers ----
list=$(for i in $(seq 1 17); do printf 'http://u:%s@10.0.0.%d/v1,' $PW $i; done)
out=$(RAG_MODEL_URL=${list%,} RAG_MODEL_REMOTE_MODEL=m rag stats 2>&1); rc=$?
check_eq "17 servers: refused (exit 2)" $rc 2
check_contains "...naming the variable and the key" "$out" '$RAG_MODEL_URL: model.url: more than 16 servers'
check_not_contains "...never the password" "$out" "$PW"
finish
