# Ingest on several threads: extraction runs ahead of the writer, yet the
# database and the per-file reports are the same whatever the thread count
# (files are written and reported in sorted order), and incremental runs,
# failures and label moves behave as with one thread.
. "$(dirname "$0")/lib.sh"
c=$T/corpus; mkdir -p $c/a $c/b/deep $c/c
n=0
for d in a b b/deep c; do
  for i in $(seq 1 40); do
    n=$((n + 1))
    case $((i % 5)) in
      0) printf '# Part %d of %s\n\nThe depot %s keeps pallet %d.\n\n## Detail\n\nForklift inspection %d is due.\n' $i $d $d $n $n > $c/$d/f$i.md ;;
      1) printf '<html><head><title>Page %d</title></head><body><h1>Route %d</h1><p>Driver schedule %d for %s.</p></body></html>\n' $n $n $n $d > $c/$d/f$i.html ;;
      2) for k in $(seq 1 60); do printf 'Line %d of file %d: the supplier invoice %d is paid within %d days.\n' $k $n $((n * k)) $k; done > $c/$d/f$i.txt ;;
      3) printf '%%PDF-1.4 broken %d\n' $n > $c/$d/f$i.pdf ;;   # corrupt: fails
      4) if [ $i = 4 ]; then : > $c/$d/f$i.txt; else printf '\x00\x01\x02\x03\xff blob %d' $n > $c/$d/f$i.bin; fi ;;  # empty / unknown binary
    esac
  done
done

# real documents of other kinds: the fixtures (PDF, DOCX, ...), containers
# (a zip with a nested tar.gz, a gzip, an email with an attachment), whose
# members the writing thread walks while the pool reads what follows
mkdir -p $T/fx $c/fx; "$RAG_TOOLS/mkfixtures" $T/fx >/dev/null || fail "mkfixtures"
for f in report.docx report.pdf cafe.pdf corrupt.pdf bomb.docx; do cp $T/fx/$f $c/fx/; done
mkdir -p $T/z/inner; printf 'Crate manifest %d lists spanners.\n' 1 > $T/z/inner/m1.txt
printf '# Spanner guide\n\nTorque the crate bolts.\n' > $T/z/guide.md
tar -czf $T/z/nested.tar.gz -C $T/z inner
python3 -c "
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[2] + '/guide.md', 'docs/guide.md'); z.write(sys.argv[2] + '/nested.tar.gz', 'nested.tar.gz')
" $c/b/bundle.zip $T/z
printf 'The depot changelog: crates moved to bay nine.\n' | gzip > $c/a/changelog.gz
printf 'From: Ops <ops@example.com>\nTo: depot@example.com\nSubject: Crate audit\nMessage-ID: <audit@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nThe audit of crates is attached.\n--b\nContent-Type: text/plain; name="audit.txt"\nContent-Disposition: attachment; filename="audit.txt"\n\nAudit: 14 crates, 3 missing.\n--b--\n' > $c/c/audit.eml

dump() { # content of a database, without the time of ingest
  sqlite3 "$1" "select uri, ext_id, title, content_hash, mtime, size, mime, acl_group, metadata_json from documents order by id;
                select document_id, ordinal, text, n_tokens, byte_start, byte_end, heading_path from chunks order by id;
                select rowid, * from chunks_fts where chunks_fts match 'depot OR invoice OR driver' order by rowid;" | sha256sum
}
reports() { # per-file reports, in the order given
  json_sql "select group_concat(j.value ->> 'path' || ' ' || (j.value ->> 'status'), char(10)) from json_each(J, '\$.problems') j"
}

for j in 1 2 3 8; do
  RAG_DB=$T/j$j.db rag ingest --acl staff --jobs $j --json "$c" > $T/j$j.json; rc=$?
  check_eq "--jobs $j: exit status 3 (some files failed, the run went on)" $rc 3
done
# 96 of the generated files, 3 fixtures, 7 from the containers: the zip, its
# guide.md, its nested.tar.gz and that one's m1.txt; the gzip; the email and
# its attachment
check_eq "files added (one thread)" "$(json_get '$.added' < $T/j1.json)" 106
check_eq "files failed (one thread)" "$(json_get '$.failed' < $T/j1.json)" 34
ref=$(dump $T/j1.db); ref_rep=$(reports < $T/j1.json)
for j in 2 3 8; do
  check_eq "--jobs $j: same database as one thread" "$(dump $T/j$j.db)" "$ref"
  check_eq "--jobs $j: same reports, same order" "$(reports < $T/j$j.json)" "$ref_rep"
done
check_eq "files skipped (one thread)" "$(json_get '$.skipped' < $T/j1.json)" 32
check_eq "ingest.threads is a setting (default 0: one per CPU)" \
  "$(rag config --json | json_get '$."ingest.threads".value')" 0

# incremental on several threads
export RAG_DB=$T/j8.db
out=$(rag ingest --jobs 4 "$c")
check_contains "re-ingest on 4 threads: all unchanged" "$out" "0 added, 0 updated, 102 unchanged"
touch $c/a/f2.txt
printf 'Revised: the depot now keeps crates.\n' > $c/b/f2.txt
out=$(rag ingest --jobs 4 "$c")
check_contains "one touched, one changed" "$out" "0 added, 1 updated, 101 unchanged"
check_contains "changed text found" "$(rag search revised crates)" "f2.txt"
check_contains "a member of the nested archive found" "$(rag search spanners)" "bundle.zip!/nested.tar.gz!/inner/m1.txt"
check_contains "the attachment found" "$(rag search missing crates)" "audit.eml!/attachments/1/audit.txt"
out=$(rag ingest --jobs 4 --acl finance "$c/c")
check_contains "label move on 4 threads (24 files and the email)" "$out" "0 added, 25 updated"
check_eq "moved documents carry the new label (the attachment follows its email)" \
  "$(sql "select count(*) from documents d join acl_groups g on g.id = d.acl_group where g.labels = 'finance'")" 26
finish
