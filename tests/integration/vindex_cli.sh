# The vector indexes from the command line: deleted, corrupted or killed
# while being written, they are repaired from SQLite and searches answer
# the same; rag index check and rebuild.
. "$(dirname "$0")/lib.sh"
need_models
export RAG_EMBED_MODEL=$M/bert-mean-f32.gguf
c=$T/c; mkdir -p $c
awk -v dir=$c 'BEGIN { split("crane truck forklift invoice ledger pallet brake tyre", w, " ");
  for (i = 1; i <= 400; i++) { f = dir "/d" i ".txt"; printf "Doc %d\n\nThe %s of item %d needs a %s check every %d days.\n", i, w[i % 8 + 1], i, w[(i * 3) % 8 + 1], i % 30 > f; close(f) } }'
rag ingest -q --acl staff $c >/dev/null
vdir="$RAG_DB.vectors"
check "ingest wrote the vector indexes" test -f "$vdir/manifest"
check_contains "index check: consistent" "$(rag index check)" "ok:"
q="forklift brake check"
want=$(rag search --mode vector --json -k 5 "$q" | json_sql "select group_concat(json_extract(value, '\$.chunk_id')) from json_each(J, '\$.results')")
check "vector search answers" test -n "$want"

rm -rf "$vdir"
got=$(rag search --mode vector --json -k 5 "$q" | json_sql "select group_concat(json_extract(value, '\$.chunk_id')) from json_each(J, '\$.results')")
check_eq "deleted indexes: rebuilt from SQLite, same answer" "$got" "$want"

rag index rebuild >/dev/null
f=$(ls "$vdir"/group-*.faiss | head -n1)
size=$(stat -c %s "$f")
dd if=/dev/urandom of="$f" bs=1 count=64 seek=$((size / 2)) conv=notrunc 2>/dev/null
out=$(rag index check); rc=$?
check_eq "index check: a corrupted file is a problem" $rc 1
got=$(rag search --mode vector --json -k 5 "$q" | json_sql "select group_concat(json_extract(value, '\$.chunk_id')) from json_each(J, '\$.results')")
check_eq "corrupted index: repaired, same answer" "$got" "$want"
out=$(rag index rebuild); rc=$?
check_eq "index rebuild" $rc 0
check_contains "then consistent" "$(rag index check)" "ok:"

# kill -9 while the indexes are being written, several times
for i in 1 2 3; do
  rm -rf "$vdir"
  "$RAG_BIN" index rebuild >/dev/null 2>&1 &
  pid=$!
  sleep 0.0$((i * 3))
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  got=$(rag search --mode vector --json -k 5 "$q" | json_sql "select group_concat(json_extract(value, '\$.chunk_id')) from json_each(J, '\$.results')")
  check_eq "killed while writing ($i): same answer" "$got" "$want"
done

# changes after the index was written are caught up
printf 'New\n\nA forklift brake check every day.\n' > $c/new.txt
rag ingest -q $c >/dev/null
got=$(rag search --mode vector --json -k 50 "$q" | json_sql "select count(*) from json_each(J, '\$.results') where json_extract(value, '\$.uri') like '%new.txt'")
check_eq "a new document is searchable by vector" "$got" 1
rm $c/new.txt
rag ingest -q --prune $c >/dev/null
got=$(rag search --mode vector --json -k 50 "$q" | json_sql "select count(*) from json_each(J, '\$.results') where json_extract(value, '\$.uri') like '%new.txt'")
check_eq "a removed document's vectors are gone" "$got" 0
check_contains "database consistent" "$(rag check)" "ok:"

# [vector]: a group past large_group gets the configured factory
printf '[vector]\nlarge_group = 100\nlarge_factory = HNSW16,Flat\nef_search = 1000\n' > $T/hnsw.conf
rag index rebuild --config $T/hnsw.conf >/dev/null
check_contains "large_group: the group is rebuilt as a large index" "$(cat $vdir/manifest)" " large"
got=$(rag search --config $T/hnsw.conf --mode vector --json -k 5 "$q" | json_sql "select group_concat(json_extract(value, '\$.chunk_id')) from json_each(J, '\$.results')")
check_eq "HNSW with ef_search above the group size: the exact answer" "$got" "$want"
rm $c/d7.txt
rag ingest -q --prune --config $T/hnsw.conf $c >/dev/null
check_contains "a removal from an HNSW group: consistent" "$(rag index check --config $T/hnsw.conf)" "ok:"
rag index rebuild >/dev/null
check_not_contains "without the setting: flat again" "$(cat $vdir/manifest)" " large"
printf '[vector]\nlarge_factory = PQ7\n' > $T/bad.conf
out=$(rag search --config $T/bad.conf "$q" 2>&1); rc=$?
check_eq "a factory FAISS cannot build for the model is refused" $rc 2
check_contains "naming the file, the line and the reason" "$out" "bad.conf:2: vector.large_factory"
check_contains "in FAISS's words, once" "$out" "multiple of the number of subquantizers"
check_not_contains "without FAISS's own trace" "$out" "Error in"

# rag eval ranks as rag search does, in every mode
printf 'q1\tforklift brake check\nq2\tinvoice ledger\nq3\tcrane tyre\n' > $T/q.tsv
printf 'q1\td5\t1\nq2\td9\t1\nq3\td3\t1\n' > $T/qrels.tsv
for m in vector hybrid; do
  out=$(rag eval --mode $m --queries $T/q.tsv --qrels $T/qrels.tsv --run $T/run.trec --json 2>&1)
  check_eq "eval --mode $m: reported" "$(echo "$out" | json_get '$.mode')" $m
  same=1
  for q in q1 q2 q3; do
    text=$(awk -F'\t' -v q=$q '$1 == q { print $2 }' $T/q.tsv)
    top=$(rag search --mode $m --json -k 1 "$text" | json_get '$.results[0].uri')
    run_top=$(awk -v q=$q '$1 == q && $4 == 1 { print $3 }' $T/run.trec)
    [ "$(basename "$top" .txt)" = "$run_top" ] || { same=0; echo "    $q: search $top, eval $run_top"; }
  done
  check_eq "eval --mode $m: each query's first document is rag search's" $same 1
done

# [search]: the stages and their knobs
printf '[search]\nmode = keyword\n' > $T/kw.conf
check_eq "search.mode = keyword" "$(rag search --config $T/kw.conf --json "$q" | json_get "\$.mode")" keyword
check_eq "--mode wins over search.mode" "$(rag search --config $T/kw.conf --mode hybrid --json "$q" | json_get "\$.mode")" hybrid
printf '[search]\nmode = fancy\n' > $T/bad.conf
out=$(rag search --config $T/bad.conf "$q" 2>&1); rc=$?
check_eq "a bad search.mode is a usage error" $rc 2
check_contains "naming the file and line" "$out" "bad.conf:2: search.mode: 'fancy' is not one of"
finish
