# The vector indexes from the command line: deleted, corrupted or killed
# while being written, they are repaired from SQLite and searches answer
# the same; rag index check and rebuild.
. "$(dirname "$0")/lib.sh"
M=$RAG_TESTDATA/models
if [ ! -d "$M" ]; then
  if [ "${CI:-}" = true ]; then fail "test models missing at $M under CI"; finish; exit; fi
  echo "SKIP: test models not found at $M (set RAG_TESTDATA)"; finish; exit
fi
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
finish
