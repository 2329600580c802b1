# XLM-RoBERTa encoders (bge-m3, bge-reranker-v2-m3 layout: a bert encoder
# with a Unigram tokenizer and one token type), made by mkmodel with the
# shared Unigram vocabulary: the pair layout <s> q </s></s> p </s>; reranker
# scores equal to a WordPiece twin's (same weights) fed the same ids; rag
# embed batch-invariant on text in nine languages; ingest with it, search
# --rerank and ragd reranking with it.
. "$(dirname "$0")/lib.sh"
V=$RAG_TESTDATA/vocab/ggml-vocab-ugm-xlmr.gguf
if [ ! -f "$V" ]; then
  if [ "${CI:-}" = true ]; then fail "Unigram vocabulary missing at $V under CI"
  else echo "SKIP: $V not found (set RAG_TESTDATA)"; fi
  finish; exit
fi
mk() { "$RAG_TOOLS/mkmodel" "$@" --arch bert --embd 64 --layers 2 --heads 4 --ff 128 --ctx 512 \
  --type f32 --types 1 --sd 0.1 --seed 7 >/dev/null; }
mk $T/xr-rank.gguf --pooling rank --vocab-from "$V" || { fail "mkmodel (reranker)"; finish; exit; }
mk $T/twin-rank.gguf --pooling rank --vocab 4000 || { fail "mkmodel (twin)"; finish; exit; }
mk $T/xr-emb.gguf --pooling cls --vocab-from "$V" || { fail "mkmodel (embedder)"; finish; exit; }
XR=$T/xr-rank.gguf TWIN=$T/twin-rank.gguf EMB=$T/xr-emb.gguf

check_contains "model-info: a bert reranker with a unigram vocabulary" \
  "$(rag model-info -m $XR)" "unigram, 4000 tokens"

# ---- the pair layout ----
q="what is the refund policy?" p="Refunds are issued within 14 days."
ids=$(rag tokenize -m $XR --pair "$q" "$p")
qi=$(rag tokenize -m $XR "$q") pi=$(rag tokenize -m $XR "$p")
check_eq "pair: <s> query </s></s> passage </s>" "$ids" "0 $qi 2 2 $pi 2"
check_eq "one text with special tokens: <s> text </s>" "$(rag tokenize -m $XR --special "$q")" "0 $qi 2"

# ---- scores: the same weights fed the same ids through the WordPiece twin ----
passages=("$p" "The A320 maintenance schedule was updated in March."
  "환불은 반품을 받은 후 14일 이내에 처리됩니다." "返金は14日以内に行われます。"
  "การคืนเงินจะดำเนินการภายใน 14 วัน" "يتم رد الأموال خلال 14 يومًا.")
xr=$(rag rerank -m $XR --json "$q" "${passages[@]}" | json_get '$.scores')
pairs=()
for x in "${passages[@]}"; do pairs+=("$(rag tokenize -m $XR --pair "$q" "$x")"); done
tw=$(rag rerank -m $TWIN --json --ids "${pairs[@]}" | json_get '$.scores')
check "rerank: six scores" test "$(echo "$xr" | json_len '$')" = 6
check_eq "rerank: equal to the WordPiece twin fed the same ids, bit for bit" "$xr" "$tw"
check "rerank: the scores differ between passages" test "$(echo "$xr" | json_get '$[0]')" != "$(echo "$xr" | json_get '$[1]')"
alone=$(for x in "${passages[@]}"; do rag rerank -m $XR "$q" "$x"; done)
check_eq "rerank: each pair alone scores as in the batch" "$alone" "$(rag rerank -m $XR "$q" "${passages[@]}")"
out=$(rag rerank -m $TWIN --ids "0 4000 2" 2>&1); rc=$?
check_eq "rerank --ids: an id outside the vocabulary is refused" $rc 1
check_contains "...naming it" "$out" "pair 1, token 2: id 4000 is outside the vocabulary (0..3999)"
out=$(rag rerank -m $TWIN --ids "0 x 2" 2>&1); rc=$?
check_eq "rerank --ids: a PAIR that is not ids is a usage error" $rc 2

# ---- embedding: nine languages, a vector independent of its batch ----
texts=("Hello, world!" "환불 정책은 무엇입니까?" "返金ポリシーは何ですか？" "退款政策是什么？"
  "นโยบายการคืนเงินคืออะไร" "Quelle est la politique de remboursement ?"
  "Wie lautet die Rückerstattungsrichtlinie?" "Какова политика возврата?" "ما هي سياسة الاسترداد؟")
rag embed -m $EMB "${texts[@]}" > $T/batch.txt
: > $T/alone.txt
for t in "${texts[@]}"; do rag embed -m $EMB "$t" >> $T/alone.txt; done
check_eq "embed: one vector per text" "$(wc -l < $T/batch.txt)" 9
check_eq "embed: 64 values" "$(head -n1 $T/batch.txt | wc -w)" 64
check "embed: nine texts at once equal each alone, bit for bit" cmp -s $T/batch.txt $T/alone.txt
check_eq "embed: texts in different scripts give different vectors" "$(sort -u $T/batch.txt | wc -l)" 9

# ---- ingest, search --rerank, ragd ----
d=$T/docs; mkdir -p $d
printf 'Refunds\n\nRefunds are issued within 14 days of receiving the returned item.\n' > $d/refunds.txt
printf '환불\n\n환불은 반품을 받은 후 14일 이내에 처리됩니다.\n' > $d/ko.txt
printf 'Maintenance\n\nThe A320 maintenance schedule was updated in March.\n' > $d/a320.txt
out=$(rag ingest --embed-model $EMB $d 2>&1); rc=$?
check_eq "ingest with the XLM-RoBERTa embedder" $rc 0
check_eq "every chunk has a vector" "$(sql 'select count(*) from embeddings')" "$(sql 'select count(*) from chunks')"
out=$(rag search --embed-model $EMB --rerank --rerank-model $XR -k 3 --json "refunds 14 days")
check "search --rerank: results" test "$(echo "$out" | json_len '$.results')" -ge 1
chunk_text() { sql "select text from chunks where id = $1"; }
t0=$(chunk_text "$(echo "$out" | json_get '$.results[0].chunk_id')") s0=$(echo "$out" | json_get '$.results[0].rerank_score')
check "search --rerank: the first result's score is the reranker's for its text" awk \
  -v a="$s0" -v b="$(rag rerank -m $XR "refunds 14 days" "$t0")" 'BEGIN { exit !((a - b) ^ 2 < 1e-10) }'
check_contains "check: consistent" "$(rag check)" "ok:"

KEY=$(rag keys add admin --roles staff --admin)
ragd_start --embed-model $EMB --rerank-model $XR || { fail "ragd starts with the XLM-RoBERTa models"; finish; exit; }
r=$(api POST /v1/search "$KEY" -d '{"query":"refunds 14 days","rerank":true}')
check_eq "ragd: search with the reranker: 200" "$(status "$r")" 200
b=$(body "$r")
check "ragd: rerank scores on the results" test -n "$(echo "$b" | json_get '$.results[0].rerank_score')"
check_eq "ragd: the same first result as rag search --rerank" "$(echo "$b" | json_get '$.results[0].uri')" "$(echo "$out" | json_get '$.results[0].uri')"
check "ragd: with the same reranker score" awk -v a="$(echo "$b" | json_get '$.results[0].rerank_score')" \
  -v b="$s0" 'BEGIN { exit !((a - b) ^ 2 < 1e-10) }'
check_contains "ragd: /v1/models lists the reranker" "$(body "$(api GET /v1/models "$KEY")")" '"rerank"'
ragd_stop
finish
