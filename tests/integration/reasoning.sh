# Reasoning models, with a test model that carries Qwen3's chat template
# (tests/tools/qwen3.jinja) and whose greedy reply is scripted (mkmodel
# --reply): after "<|im_start|>assistant\n" it thinks (<think>, a line of
# reasoning holding a citation [7] of no passage, </think>) and then
# answers; after the empty think block it answers at once, as Qwen3 does.
# Checked: rag ask renders the empty block unless reasoning is asked
# (--reasoning, model.reasoning), keeps the reasoning out of the answer, its
# citation check and its citations, prints it only with --show-reasoning,
# gives it in --json, and says when the model ran out of tokens while
# thinking; ragd streams it as delta.reasoning_content and never as
# content, answers message.reasoning_content, counts its tokens, reads
# rag.reasoning and chat_template_kwargs.enable_thinking, and thinks for
# plain chat by default; a remote generator's reasoning is split the same
# way, whether the server sends it apart (another ragd) or leaves <think>
# in the content (a canned server), and the request tells it the choice.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }
THINK='The question asks when refunds are issued; passage [1] says within 14 days, and [7] names no passage.'
ANSWER='Refunds are issued within 14 days [1].'
Q3=$T/q3.gguf
"$RAG_TOOLS/mkmodel" $Q3 --arch qwen3 --embd 64 --layers 1 --heads 4 --kv-heads 2 --ff 128 \
  --vocab 600 --ctx 4096 --type f32 --chat-template "$(dirname "$0")/../tools/qwen3.jinja" \
  --reply "\\n|<think>|\\n$THINK\\n|</think>|\\n\\n|$ANSWER" >/dev/null || { fail "mkmodel"; finish; exit; }
check_contains "the model's template is recognised as Qwen3's" "$(rag model-info -m $Q3)" "chat template qwen3"

mkdir -p $T/docs
printf 'Refund policy\n\nRefunds for international orders are issued within 14 days of receiving the returned item.\n' > $T/docs/refunds.txt
rag ingest -q --acl staff $T/docs >/dev/null
Q="When are refunds issued?"
ends_with() { case "$1" in *"$2") return 0 ;; *) return 1 ;; esac; }

# ---- rag ask: off by default for an answer from the documents ----
out=$(rag ask --json --show-prompt --model $Q3 "$Q")
check "thinking off: the prompt ends with Qwen3's empty think block" \
  ends_with "$(echo "$out" | json_get '$.prompt')" "$(printf '<|im_start|>assistant\n<think>\n\n</think>\n\n')"
check_eq "...and the model answers at once" "$(echo "$out" | json_get '$.answer')" "$ANSWER"
check_eq "...with no reasoning" "$(echo "$out" | json_get '$.reasoning')" ""
check_eq "...and no reasoning tokens" "$(echo "$out" | json_get '$.usage.reasoning_tokens')" 0
out=$(rag ask --json --show-prompt --reasoning on --model $Q3 "$Q")
prompt=$(echo "$out" | json_get '$.prompt')
check "--reasoning on: the reply's turn opens without the block" ends_with "$prompt" "$(printf 'Question: %s<|im_end|>\n<|im_start|>assistant\n' "$Q")"
check_not_contains "...no think block in the prompt" "$prompt" "<think>"
check_eq "the reasoning is kept apart" "$(echo "$out" | json_get '$.reasoning')" "$THINK"
check_eq "the answer is only the answer" "$(echo "$out" | json_get '$.answer')" "$ANSWER"
check_eq "the reasoning's [7] is no invalid citation of the answer" "$(echo "$out" | json_sql "select count(*) from json_each(J, '\$.invalid_citations')")" 0
check_eq "the citations are the answer's" "$(echo "$out" | json_sql "select group_concat(json_extract(value, '\$.n')) from json_each(J, '\$.citations')")" 1
check_eq "reasoning tokens: <think>, its line, </think>" "$(echo "$out" | json_get '$.usage.reasoning_tokens')" 3
check_eq "...counted in the completion's" "$(echo "$out" | json_get '$.usage.completion_tokens')" 6
out=$(rag ask --reasoning on --model $Q3 "$Q" 2>/dev/null)
check_contains "text: the answer" "$out" "$ANSWER"
check_not_contains "...without the reasoning" "$out" "The question asks"
out=$(rag ask --reasoning on --show-reasoning --model $Q3 "$Q" 2>/dev/null)
check_eq "--show-reasoning: the reasoning, then the answer" "$(echo "$out" | head -n 3)" "$THINK

$ANSWER"
mkdir -p $XDG_CONFIG_HOME/rag
printf '[model]\nreasoning = on\n' > $XDG_CONFIG_HOME/rag/rag.conf
check_eq "model.reasoning = on in the config" "$(rag ask --json --model $Q3 "$Q" | json_get '$.reasoning')" "$THINK"
check_eq "...and --reasoning off wins over it" "$(rag ask --json --reasoning off --model $Q3 "$Q" | json_get '$.reasoning')" ""
rm $XDG_CONFIG_HOME/rag/rag.conf
out=$(rag ask --reasoning maybe --model $Q3 "$Q" 2>&1); rc=$?
check_eq "--reasoning maybe: refused" $rc 2
check_contains "...naming the choices" "$out" "--reasoning"
out=$(rag ask --json --reasoning on -n 2 --model $Q3 "$Q")
check_eq "out of tokens while thinking: no answer" "$(echo "$out" | json_get '$.answer')" ""
check_eq "...the reasoning so far" "$(echo "$out" | json_get '$.reasoning')" "$THINK"
check_eq "...stopped by the length" "$(echo "$out" | json_get '$.stop_reason')" length
check_eq "...no citations" "$(echo "$out" | json_len '$.citations')" 0
check_contains "text: says so" "$(rag ask --reasoning on -n 2 --model $Q3 "$Q" 2>/dev/null)" "still reasoning when it stopped"

# ---- ragd ----
KEY=$(rag keys add user --roles staff)
KEY_A=$(rag keys add b-client --roles staff) # for rag ask with this ragd as its generator
ragd_start --model $Q3 || { fail "ragd starts"; finish; exit; }
A_PID=$RAGD_PID A_URL=$RAGD_URL
chat() { api POST /v1/chat/completions $KEY -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$Q\"}]$1}"; }
out=$(chat ''); b=$(body "$out")
check_eq "ragd: 200" "$(status "$out")" 200
check_eq "ragd, grounded: thinking off by default" "$(echo "$b" | json_get '$.rag.reasoning')" 0
check_eq "...the answer" "$(echo "$b" | json_get '$.choices[0].message.content')" "$ANSWER"
check_eq "...no reasoning_content" "$(echo "$b" | json_get '$.choices[0].message.reasoning_content')" ""
check_eq "...no reasoning tokens" "$(echo "$b" | json_get '$.usage.completion_tokens_details.reasoning_tokens')" 0
out=$(chat ',"rag":{"reasoning":true}'); b=$(body "$out")
check_eq "rag.reasoning true: message.reasoning_content" "$(echo "$b" | json_get '$.choices[0].message.reasoning_content')" "$THINK"
check_eq "...content is the answer" "$(echo "$b" | json_get '$.choices[0].message.content')" "$ANSWER"
check_eq "...its citations only" "$(echo "$b" | json_sql "select group_concat(json_extract(value, '\$.n')) from json_each(J, '\$.citations')")" 1
check_eq "...nothing invalid" "$(echo "$b" | json_sql "select count(*) from json_each(J, '\$.invalid_citations')")" 0
check_eq "...reasoning tokens in usage" "$(echo "$b" | json_get '$.usage.completion_tokens_details.reasoning_tokens')" 3
check_eq "...within completion_tokens" "$(echo "$b" | json_get '$.usage.completion_tokens')" 6
curl -sN -H "Authorization: Bearer $KEY" $RAGD_URL/v1/chat/completions \
  -d "{\"stream\":true,\"chat_template_kwargs\":{\"enable_thinking\":true},\"messages\":[{\"role\":\"user\",\"content\":\"$Q\"}]}" > $T/stream.txt
chunks=$(grep '^data: {' $T/stream.txt | sed 's/^data: //' | paste -sd, | sed 's/^/[/; s/$/]/')
delta() { echo "$chunks" | json_sql "select group_concat(json_extract(value, '\$.choices[0].delta.$1'), '') from json_each(J)"; }
check "stream (enable_thinking): reasoning_content chunks" test "$(grep -c '"delta":{"reasoning_content"' $T/stream.txt)" -ge 1
check_eq "...they make the reasoning" "$(delta reasoning_content)" "$THINK"
check_eq "...the content chunks make the answer" "$(delta content)" "$ANSWER"
check_not_contains "...no content chunk holds reasoning or a tag" \
  "$(grep '"delta":{"content"' $T/stream.txt)" "The question asks"
check_not_contains "...or a think tag" "$(delta content)" "think>"
final=$(grep '^data: {' $T/stream.txt | tail -n1 | sed 's/^data: //')
check_eq "...the last chunk's citations are the answer's" "$(echo "$final" | json_len '$.citations')" 1
check_eq "...and its usage counts the reasoning" "$(echo "$final" | json_get '$.usage.completion_tokens_details.reasoning_tokens')" 3
check_eq "...it ends with [DONE]" "$(grep '^data: ' $T/stream.txt | tail -n1)" "data: [DONE]"
out=$(chat ',"rag":{"retrieval":false}'); b=$(body "$out")
check_eq "plain chat: thinks by default (the model's own default)" "$(echo "$b" | json_get '$.choices[0].message.reasoning_content')" "$THINK"
out=$(chat ',"rag":{"retrieval":false},"chat_template_kwargs":{"enable_thinking":false}'); b=$(body "$out")
check_eq "...unless enable_thinking is false" "$(echo "$b" | json_get '$.choices[0].message.reasoning_content')" ""
check_eq "...then it answers at once" "$(echo "$b" | json_get '$.choices[0].message.content')" "$ANSWER"
out=$(chat ',"chat_template_kwargs":{"enable_thinking":false},"rag":{"reasoning":true}')
check_eq "rag.reasoning wins over enable_thinking" "$(body "$out" | json_get '$.choices[0].message.reasoning_content')" "$THINK"
out=$(chat ',"chat_template_kwargs":"yes"')
check_eq "chat_template_kwargs not an object: 400" "$(status "$out")" 400
out=$(chat ',"rag":{"reasoning":"yes"}')
check_eq "rag.reasoning not a bool: 400" "$(status "$out")" 400
check_contains "...naming the field" "$(body "$out" | json_get '$.error.message')" "rag.reasoning"

# ---- a remote generator: that ragd, which sends the reasoning apart ----
conf() { printf '[model]\nurl = %s/v1\nremote_model = q3\napi_key = %s\nremote_ctx = 4096\nreasoning = %s\n' "$1" "$2" "$3"; }
conf $A_URL $KEY_A on > $T/remote.conf
out=$(rag --config $T/remote.conf ask --json "$Q")
check_eq "remote, reasoning on: the server's reasoning_content is the reasoning" "$(echo "$out" | json_get '$.reasoning')" "$THINK"
check_eq "...the answer is only the answer" "$(echo "$out" | json_get '$.answer')" "$ANSWER"
check_eq "...the server's count of reasoning tokens" "$(echo "$out" | json_get '$.usage.reasoning_tokens')" 3
conf $A_URL $KEY_A off > $T/remote.conf
out=$(rag --config $T/remote.conf ask --json "$Q")
check_eq "remote, reasoning off: the server was told (no reasoning)" "$(echo "$out" | json_get '$.reasoning')" ""
check_eq "...the answer" "$(echo "$out" | json_get '$.answer')" "$ANSWER"
ragd_stop

# ---- a remote generator that leaves <think> in the content, cut across chunks ----
mkdir -p $T/fx
ev() { printf 'data: {"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}\n\n' "$1"; }
{ ev '<thi'; ev 'nk>\nI weigh [1] and [9].\n</th'; ev 'ink>\n\nRefunds take 14 days [1] [9].'
  printf 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'; } > $T/fx/chat.sse
"$RAG_TOOLS/httpfixture" --root $T/fx --port 0 --type sse=text/event-stream \
  --post /v1/chat/completions=chat.sse --post-log $T/posts.log 2>$T/fx.err &
FX_PID=$!
trap 'kill $FX_PID 2>/dev/null' EXIT
for i in $(seq 1 100); do
  FX_URL=$(sed -n 's/^httpfixture: listening on \(.*\)$/http:\/\/\1/p' $T/fx.err); [ -n "$FX_URL" ] && break; sleep 0.05
done
conf $FX_URL - on > $T/fx.conf
out=$(rag --config $T/fx.conf ask --json "$Q")
check_eq "think tags in a server's content: the reasoning" "$(echo "$out" | json_get '$.reasoning')" "I weigh [1] and [9]."
check_eq "...the answer, its [9] checked" "$(echo "$out" | json_get '$.answer')" "Refunds take 14 days [1]."
check_eq "...the answer's [9] alone is invalid" "$(echo "$out" | json_sql "select group_concat(value) from json_each(J, '\$.invalid_citations')")" 9
check_contains "...the server was asked to think" "$(tail -n1 $T/posts.log)" '"chat_template_kwargs":{"enable_thinking":true}'
conf $FX_URL - off > $T/fx.conf
rag --config $T/fx.conf ask --json "$Q" >/dev/null
check_contains "reasoning off: the server is told" "$(tail -n1 $T/posts.log)" '"chat_template_kwargs":{"enable_thinking":false}'
check_contains "...and so is another ragd" "$(tail -n1 $T/posts.log)" '"rag":{"retrieval":false,"reasoning":false}'
kill $FX_PID 2>/dev/null; wait $FX_PID 2>/dev/null
finish
