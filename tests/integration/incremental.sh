# Incremental ingest: unchanged files write nothing, changed files are
# replaced, --prune removes documents of deleted files, labels move documents.
. "$(dirname "$0")/lib.sh"
c=$T/corpus; mkdir -p $c
for i in 1 2 3 4 5; do
  printf 'Note %d\n\nThe quarterly figure for region %d is stable. Keyword alpha%d.\n' $i $i $i > $c/n$i.txt
done
rag ingest --acl staff "$c" >/dev/null
before=$(sha256sum "$RAG_DB" | cut -d' ' -f1)
changes=$(sql "select count(*) from changes")
out=$(rag ingest "$c"); rc=$?
check_eq "re-ingest exit status" $rc 0
check_contains "re-ingest: all unchanged" "$out" "0 added, 0 updated, 5 unchanged"
check_eq "re-ingest wrote nothing (database file identical)" "$(sha256sum "$RAG_DB" | cut -d' ' -f1)" "$before"
check_eq "re-ingest logged no change" "$(sql "select count(*) from changes")" "$changes"

touch $c/n1.txt  # new mtime, same bytes: only the mtime is recorded
out=$(rag ingest "$c")
check_contains "touched file counts as unchanged" "$out" "5 unchanged"
check_eq "no chunk change for a touch" "$(sql "select count(*) from changes")" "$changes"

old_ids=$(sql "select group_concat(c.id) from chunks c join documents d on d.id = c.document_id where d.uri like '%/n2.txt'")
printf 'Note 2\n\nRevised: the figure for region 2 is now falling. Keyword beta2.\n' > $c/n2.txt
out=$(rag ingest "$c")
check_contains "modified file is updated" "$out" "0 added, 1 updated, 4 unchanged"
check_contains "old text gone" "$(rag search alpha2)" "No results"
check_contains "new text found" "$(rag search beta2)" "Note 2"
new_ids=$(sql "select group_concat(c.id) from chunks c join documents d on d.id = c.document_id where d.uri like '%/n2.txt'")
check "replaced chunks get new ids" test "$old_ids" != "$new_ids"
check_eq "document count unchanged" "$(sql "select count(*) from documents")" 5

rm $c/n3.txt
out=$(rag ingest "$c")
check_contains "without --prune the document stays" "$out" "0 removed"
check_contains "still searchable without --prune" "$(rag search alpha3)" "Note 3"
out=$(rag ingest --prune "$c")
check_contains "--prune removes the deleted file's document" "$out" "1 removed"
check_contains "pruned document is gone from search" "$(rag search alpha3)" "No results"
check_eq "four documents left" "$(sql "select count(*) from documents")" 4
mkdir -p $T/emptied; echo "Soon gone epsilon5." > $T/emptied/e.txt
rag ingest $T/emptied >/dev/null; rm $T/emptied/e.txt
out=$(rag ingest --prune $T/emptied 2>&1); rc=$?
check_eq "--prune of a directory left empty: exit 0" $rc 0
check_contains "...and its document removed" "$out" "1 removed"

# --prune only looks under the paths given
other=$T/other; mkdir -p $other; echo "Other tree gamma9 text here." > $other/o.txt
rag ingest --acl staff $other >/dev/null
rm -r $c/n4.txt
out=$(rag ingest --prune "$c")
check_contains "prune under the given path" "$out" "1 removed"
check_contains "other trees untouched by prune" "$(rag search gamma9)" "Other tree"

out=$(rag ingest --acl finance $c/n5.txt)
check_contains "new labels move the document" "$out" "1 updated"
check_contains "visible to the new role" "$(rag search --as finance alpha5)" "Note 5"
check_contains "invisible to the old role" "$(rag search --as staff alpha5)" "No results"
check_eq "acl move logged for its chunks" "$(sql "select count(*) from changes where op = 'acl'")" \
  "$(sql "select count(*) from chunks c join documents d on d.id = c.document_id where d.uri like '%/n5.txt'")"
out=$(rag ingest "$c")
check_contains "ingest without --acl keeps labels" "$(rag search --as finance alpha5)" "Note 5"
check_contains "database consistent" "$(rag check)" "ok:"
finish
