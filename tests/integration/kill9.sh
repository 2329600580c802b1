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
# kill_after N ARGS: rag ingest ARGS, killed with -9 as soon as more than N
# documents are committed (or after 5 s); sets $partial, the documents kept
kill_after() {
  local min=$1 pid got
  shift
  # the binary itself (not the rag() shell function) so that kill hits it
  "$RAG_BIN" ingest -q "$@" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 500); do
    got=$(sqlite3 "file:$RAG_DB?mode=ro" "select count(*) from documents" 2>/dev/null || echo 0)
    [ "${got:-0}" -gt "$min" ] && break
    sleep 0.01
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  partial=$(sql "select count(*) from documents")
}
kill_after 0 --acl staff $c
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

# The same in bulk: a run reading over 4 MiB copies SQLite's log into the
# database from a thread of its own (store_bg_checkpoint); killed while it
# does, nothing committed is lost either.
export RAG_DB=$T/bulk.db
b=$T/bulk; mkdir -p $b
nb=1500
awk -v n=$nb -v dir=$b 'BEGIN {
  for (i = 1; i <= n; i++) {
    f = dir "/b" i ".txt"
    printf "Bulk document %d with the token b%dx.\n\n", i, i > f
    for (p = 0; p < 40; p++)
      printf "Paragraph %d of document %d: pallets, invoices and brake inspections at depot %d.\n\n", p, i, (i * 7 + p) % 97 > f
    close(f)
  }
}'
check "the bulk corpus is over 4 MiB" test "$(du -sk $b | cut -f1)" -gt 4096
kill_after 300 $b # a few batches, each over SQLite's 1,000 pages
echo "    bulk documents committed before kill -9: $partial of $nb"
check "bulk: some documents were committed before the kill" test "$partial" -gt 0
check "bulk: the kill came before the end" test "$partial" -lt $nb
out=$(rag check); rc=$?
check_eq "bulk: database consistent after kill -9" $rc 0
out=$(rag ingest $b); rc=$?
check_eq "bulk: re-run exit status" $rc 0
check_contains "bulk: re-run completes the rest" "$out" "$((nb - partial)) added, 0 updated, $partial unchanged"
check_contains "bulk: last document searchable" "$(rag search b${nb}x)" "Bulk document $nb"
check_contains "bulk: database consistent at the end" "$(rag check)" "ok:"
finish
