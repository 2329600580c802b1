# kill -9 in the middle of an ingest: the database stays consistent, nothing
# committed is lost, and the next run completes the work.
. "$(dirname "$0")/lib.sh"
c=$T/corpus; mkdir -p $c
n=6000
awk -v n=$n -v dir=$c 'BEGIN {
  split("freight depot invoice ledger tyre brake forklift shift roster pallet", w, " ")
  for (i = 1; i <= n; i++) {
    f = dir "/d" i ".txt"
    printf "Document %d\n\nThis is document number %d about %s. It has a unique token u%dx.\n\n", i, i, w[i % 10 + 1], i > f
    printf "Second paragraph with more text about the %s procedures of the depot.\n", w[(i + 3) % 10 + 1] > f
    close(f)
  }
}'
# the binary itself (not the rag() shell function) so that kill hits it
"$RAG_BIN" ingest -q --acl staff $c >/dev/null 2>&1 &
pid=$!
# wait until some documents are committed, then kill at once
for _ in $(seq 1 400); do
  got=$(sqlite3 "file:$RAG_DB?mode=ro" "select count(*) from documents" 2>/dev/null || echo 0)
  [ "${got:-0}" -gt 0 ] && break
  sleep 0.01
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
partial=$(sql "select count(*) from documents")
echo "    documents committed before kill -9: $partial of $n"
check "some documents were committed before the kill" test "$partial" -gt 0
check "the kill came before the end" test "$partial" -lt $n
out=$(rag check); rc=$?
check_eq "database consistent after kill -9" $rc 0
check_eq "every stored document has its chunks" \
  "$(sql "select count(*) from documents d where not exists (select 1 from chunks c where c.document_id = d.id)")" 0

out=$(rag ingest --acl staff $c); rc=$?
check_eq "re-run exit status" $rc 0
check_contains "re-run completes the rest" "$out" "$((n - partial)) added, 0 updated, $partial unchanged"
check_eq "all documents present" "$(sql "select count(*) from documents")" $n
check_eq "two chunks or fewer per document, at least one" \
  "$(sql "select count(*) from documents d where (select count(*) from chunks c where c.document_id = d.id) not between 1 and 2")" 0
check_contains "first document searchable" "$(rag search u1x)" "Document 1"
check_contains "last document searchable" "$(rag search u${n}x)" "Document $n"
check_contains "database consistent at the end" "$(rag check)" "ok:"
finish
