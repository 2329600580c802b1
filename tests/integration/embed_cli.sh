# Embeddings end to end: rag embed and rag rerank on the shared test models,
# ingest storing vectors with the model's identity, a different model
# refused, rag reembed switching models (resumable after kill -9), chunk
# sizes within the model's context, and search --rerank.
. "$(dirname "$0")/lib.sh"
need_models
mean=$M/bert-mean-f32.gguf cls=$M/bert-cls-f32.gguf rank=$M/bert-rank-f32.gguf

out=$(rag embed -m $mean --raw "Hello, world!" "x")
check_eq "embed: one line per text" "$(echo "$out" | wc -l)" 2
check_eq "embed: 64 values per line" "$(echo "$out" | head -n1 | wc -w)" 64
out=$(rag embed -m $mean --json "Hello")
check_eq "embed --json: dims" "$(echo "$out" | json_get '$.dims')" 64
# Eight texts in one call give bit for bit (%.9g round-trips a float) what
# each gives alone: a vector does not depend on its batch.
texts=("Hello" "A somewhat longer sentence about refunds and the time they take to arrive." "x"
       "Brake pads wear out; replace them every 40,000 km or when the indicator squeals." "the"
       "Who approves an urgent spare parts order when a truck is off the road?" "ok then"
       "Leave requests go to the line manager at least two weeks ahead.")
for model in bert-mean-f32 bert-mean-q8_0 nomic-mean-f32; do
  rag embed -m $M/$model.gguf "${texts[@]}" > "$T/batch.txt"
  : > "$T/alone.txt"
  for t in "${texts[@]}"; do rag embed -m $M/$model.gguf "$t" >> "$T/alone.txt"; done
  check "embed $model: eight texts at once equal each alone, bit for bit" cmp -s "$T/batch.txt" "$T/alone.txt"
done
norm=$(rag embed -m $mean "Hello" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i * $i; printf "%.4f", sqrt(s) }')
check_eq "embed: normalised by default" "$norm" "1.0000"
out=$(rag embed -m $M/tiny-llama-f32.gguf "x" 2>&1); rc=$?
check_eq "embed: a decoder without last-token pooling is refused" $rc 1
check_contains "with the reason" "$out" "last-token pooling"

out=$(rag rerank -m $rank "what is the refund policy?" \
  "Refunds are issued within 14 days of receiving the returned item." \
  "The A320 maintenance schedule was updated in March.")
check "rerank: scores match llama.cpp's (-0.8025, -0.5011) within 1e-3" \
  awk -v a="$(echo "$out" | sed -n 1p)" -v b="$(echo "$out" | sed -n 2p)" \
  'BEGIN { exit !((a + 0.802501) ^ 2 < 1e-6 && (b + 0.50107) ^ 2 < 1e-6) }'

# ingest with vectors
c=$T/c; mkdir -p $c
for i in $(seq 1 30); do printf 'Doc %d\n\nThe maintenance schedule of crane %d is reviewed every month by the depot team.\n' $i $i > $c/d$i.txt; done
awk 'BEGIN { printf "Long\n\n"; for (i = 0; i < 3000; i++) printf "word%d ", i % 50; print "" }' > $c/long.txt
out=$(rag ingest --embed-model $mean --chunk-tokens 2000 --overlap-tokens 0 $c 2>&1); rc=$?
check_eq "ingest with an embedding model" $rc 0
check_eq "every chunk has a vector" "$(sql 'select count(*) from embeddings')" "$(sql 'select count(*) from chunks')"
check "chunks never exceed the model's context (512 with [CLS] and [SEP])" \
  test "$(sql 'select max(n_tokens) from chunks')" -le 510
check "the long document was cut into several chunks" test "$(sql "select count(*) from chunks c join documents d on d.id = c.document_id where d.uri like '%long.txt'")" -ge 6
check_contains "stats names the model" "$(rag stats)" "from bert-mean-f32 (64 dims, mean pooling)"
dims=$(sql 'select length(vector) / 4 from embeddings limit 1')
check_eq "vectors have the model's dimension" "$dims" 64
out=$(rag ingest --embed-model $cls $c 2>&1); rc=$?
check_eq "ingest with another model is refused" $rc 1
check_contains "and the message says how to switch" "$out" "rag reembed"
printf 'New\n\nA new document about cranes.\n' > $c/new.txt
RAG_EMBED_MODEL=$mean rag ingest -q $c >/dev/null
check_eq "RAG_EMBED_MODEL selects the model" "$(sql 'select count(*) from embeddings')" "$(sql 'select count(*) from chunks')"

# re-embedding with another model, killed then resumed
big=$T/big; mkdir -p $big
awk -v dir=$big 'BEGIN { for (i = 1; i <= 1500; i++) { f = dir "/b" i ".txt"; printf "Big %d\n\nAbout item %d. The maintenance team checks item %d every week.\n", i, i, i > f; close(f) } }'
rag ingest -q --embed-model $mean $big >/dev/null
total=$(sql 'select count(*) from chunks')
"$RAG_BIN" reembed --embed-model $cls -q >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 500); do
  got=$(sqlite3 "file:$RAG_DB?mode=ro" "select count(*) from embeddings e join settings s on s.key = 'embed.target_id' and e.model_id = s.value" 2>/dev/null || echo 0)
  [ "${got:-0}" -gt 0 ] && break
  sleep 0.01
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
partial=$(sqlite3 "$RAG_DB" "select count(*) from embeddings e join settings s on s.key = 'embed.target_id' and e.model_id = s.value")
echo "    chunks re-embedded before kill -9: ${partial:-0} of $total"
if [ "${partial:-0}" -gt 0 ] && [ "${partial:-0}" -lt "$total" ]; then
  check_contains "while unfinished, the old model stays in use" "$(rag stats)" "from bert-mean-f32"
  check_contains "and the re-embedding is reported" "$(rag stats)" "re-embedding is in progress"
fi
out=$(rag reembed --embed-model $cls)
check_contains "the resumed run finishes and switches" "$out" "the database now uses this model"
check_contains "stats names the new model" "$(rag stats)" "from bert-cls-f32"
check_eq "every chunk has a vector of the new model only" "$(sql 'select count(*) from embeddings')" "$total"
check_eq "the old model is gone" "$(sql 'select count(*) from models')" 1
out=$(rag ingest --embed-model $cls $c 2>&1); rc=$?
check_eq "ingest with the new model works" $rc 0
check_contains "database consistent" "$(rag check)" "ok:"

out=$(rag search --rerank --rerank-model $rank -k 3 --json "maintenance schedule crane")
check_eq "search --rerank: k results" "$(echo "$out" | json_len '$.results')" 3
check "search --rerank: rerank scores in descending order" awk \
  -v a="$(echo "$out" | json_get '$.results[0].rerank_score')" -v b="$(echo "$out" | json_get '$.results[2].rerank_score')" \
  'BEGIN { exit !(a >= b) }'
out=$(rag search --rerank "crane" 2>&1); rc=$?
check_eq "search --rerank without a reranker is an error" $rc 1
check_contains "that says how to configure one" "$out" "rerank.model"
finish
