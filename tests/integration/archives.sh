# Archives and compressed files: README.gz and notes.md.gz are read as what
# they hold (their uri the file's own); a zip and a tar.gz give their members
# as documents at "a.zip!/dir/file.md", nested archives included, with the
# container's labels. Incremental: an unchanged archive is not read, a
# changed one updates only its changed members and deletes vanished ones;
# --prune and `rag docs rm` of an archive take its members. Bombs, nesting
# too deep and corrupt archives are reported; the run goes on.
. "$(dirname "$0")/lib.sh"
have() { command -v "$1" >/dev/null 2>&1; }
mkzip() { # out.zip dir: the files under dir, names relative to it
  python3 - "$1" "$2" <<'EOF'
import os, sys, zipfile
out, top = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for r, ds, fs in os.walk(top):
        ds.sort()
        for f in sorted(fs):
            p = os.path.join(r, f)
            z.write(p, os.path.relpath(p, top))
EOF
}
c=$T/corpus; s=$T/src; mkdir -p $c $s/guide/deep $s/inner/deep
printf 'Zebra readme\n\nThe platypus migrates in winter.\n' > $c/README
gzip $c/README
printf '# Quokka notes\n\nThe quokka smiles at tourists.\n' > $c/notes.md
gzip $c/notes.md
printf '# Install guide\n\nThe wombat installs itself.\n' > $s/guide/deep/install.md
printf 'Echidna text\n\nThe echidna digs for ants.\n' > $s/top.txt
printf '# Kiwi\n\nThe kiwi bird nests on the ground.\n' > $s/inner/deep/kiwi.md
mkzip $T/inner.zip $s/inner; rm -r $s/inner; cp $T/inner.zip $s/guide/inner.zip
mkzip $c/a.zip $s
printf 'Only in the tarball: the tarsier.\n' > $s/guide/tarsier.txt
tar czf $c/b.tar.gz -C $s .
rm $s/guide/tarsier.txt
out=$(rag ingest --acl staff $c 2>&1); rc=$?
check_eq "ingest exit status" $rc 0
check_contains "all added" "$out" "0 failed"
check_contains "README.gz found by search" "$(rag search platypus)" "README.gz"
check_eq "README.gz: uri is the file's own" "$(sql "select count(*) from documents where uri = '$c/README.gz'")" 1
check_eq "README.gz is text" "$(sql "select json_extract(metadata_json, '\$.type') || ' ' || json_extract(metadata_json, '\$.compression') from documents where uri = '$c/README.gz'")" "text gzip"
check_contains "notes.md.gz found by search" "$(rag search quokka)" "notes.md.gz"
check_eq "notes.md.gz is Markdown with its heading" "$(sql "select mime || ' ' || title from documents where uri = '$c/notes.md.gz'")" "text/markdown Quokka notes"
out=$(rag search wombat)
check_contains "zip member found with its uri" "$out" "a.zip!/guide/deep/install.md"
check_contains "tar.gz member found with its uri" "$(rag search tarsier)" "b.tar.gz!/guide/tarsier.txt"
check_eq "tar.gz members stored (./ dropped)" "$(sql "select count(*) from documents where uri in ('$c/b.tar.gz!/guide/deep/install.md', '$c/b.tar.gz!/guide/inner.zip!/deep/kiwi.md')")" 2
check_contains "nested zip member found" "$(rag search kiwi)" "a.zip!/guide/inner.zip!/deep/kiwi.md"
check_contains "members inherit the labels" "$(rag search --as staff echidna)" "a.zip!/top.txt"
check_contains "...and are hidden from others" "$(rag search --as nobody echidna)" "No results"
check_eq "the zip's record: no chunks, its members counted" \
  "$(sql "select mime || ' ' || json_extract(metadata_json, '\$.type') || ' ' || json_extract(metadata_json, '\$.members') || ' ' || (select count(*) from chunks where document_id = d.id) from documents d where uri = '$c/a.zip'")" \
  "application/zip archive 3 0"
check_contains "rag check is fine with containers" "$(rag check 2>&1)" "consistent"
check_contains "rag docs lists the members" "$(rag docs list)" "a.zip!/guide/deep/install.md"
id=$(sql "select id from documents where uri = '$c/a.zip'")
check_contains "docs show of an archive" "$(rag docs show --json $id)" '"members":	3'
check_contains "stats counts them" "$(rag stats)" "documents  13"

# re-ingest unchanged: nothing read, nothing written
before=$(sha256sum "$RAG_DB" | cut -d' ' -f1)
out=$(rag ingest $c)
check_contains "unchanged: nothing re-read" "$out" "0 added, 0 updated, 4 unchanged"
check_eq "unchanged: database identical" "$(sha256sum "$RAG_DB" | cut -d' ' -f1)" "$before"

# change one member, remove another
kiwi_chunk=$(sql "select c.id from chunks c join documents d on d.id = c.document_id where d.uri = '$c/a.zip!/guide/inner.zip!/deep/kiwi.md'")
printf 'Echidna text\n\nThe echidna now eats numbats.\n' > $s/top.txt
rm $s/guide/deep/install.md
rm $c/a.zip; mkzip $c/a.zip $s
out=$(rag ingest $c 2>&1)
check_contains "changed zip: one member updated (and the zip)" "$out" "0 added, 2 updated"
check_contains "...one removed" "$out" "1 removed"
check_contains "...reported by member path" "$out" "a.zip!/guide/deep/install.md"
check_contains "new member text found" "$(rag search numbats)" "a.zip!/top.txt"
check_not_contains "removed member gone" "$(rag search wombat)" "a.zip!"
check_eq "...the tar.gz's still there" "$(sql "select count(*) from documents where uri = '$c/b.tar.gz!/guide/deep/install.md'")" 1
check_eq "unchanged nested member kept as it was" "$(sql "select c.id from chunks c join documents d on d.id = c.document_id where d.uri = '$c/a.zip!/guide/inner.zip!/deep/kiwi.md'")" "$kiwi_chunk"

# new labels move the members
out=$(rag ingest --acl finance $c/a.zip)
check_contains "labels change moves the members" "$(rag search --as finance kiwi)" "a.zip!/guide/inner.zip!/deep/kiwi.md"
check_not_contains "...away from the old role" "$(rag search --as staff kiwi)" "a.zip!"

# --prune after deleting the archive
rm $c/b.tar.gz
out=$(rag ingest --prune $c 2>&1)
check_contains "--prune removes the archive and its members" "$out" "6 removed"
check_eq "no member of the tar.gz left" "$(sql "select count(*) from documents where uri like '%b.tar.gz%'")" 0

# rag docs rm of an archive removes its members
id=$(sql "select id from documents where uri = '$c/a.zip'")
out=$(rag docs rm $id)
check_contains "docs rm of an archive removes its members" "$out" "removed 3 members"
check_eq "nothing of a.zip left" "$(sql "select count(*) from documents where uri like '%a.zip%'")" 0
check_contains "rag check after" "$(rag check 2>&1)" "consistent"

# other compressions
for z in bzip2:bz2 xz:xz zstd:zst; do
  prog=${z%%:*} ext=${z##*:}
  if have $prog; then
    printf 'Compressed with %s: the capybara%s swims.\n' $prog $ext > $c/cap-$ext.txt
    $prog -q $c/cap-$ext.txt
    rag ingest -q $c/cap-$ext.txt.$ext >/dev/null 2>&1
    check_contains "$prog file found" "$(rag search capybara$ext)" "cap-$ext.txt.$ext"
  fi
done
if have xz; then
  tar cJf $c/c.tar.xz -C $s .
  rag ingest -q $c/c.tar.xz >/dev/null 2>&1
  check_contains "tar.xz member found" "$(rag search numbats)" "c.tar.xz!/top.txt"
fi

# member names: no "..", no absolute paths; only regular files
mkdir -p $T/n
python3 - $T/n/names.zip <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('../../etc/evil.txt', 'Escaping name with the word ocelot.\n')
    z.writestr('/abs/path.txt', 'Absolute name with the word margay.\n')
    z.writestr('./a/./b//c.txt', 'Dotted name with the word serval.\n')
    z.writestr('emptydir/', '')
EOF
mkdir -p $T/lt/d; printf 'Linked target about the caracal.\n' > $T/lt/d/real.txt; ln -s real.txt $T/lt/d/link.txt
tar cf $T/n/links.tar -C $T/lt .
rag ingest -q $T/n >/dev/null 2>&1
check_eq "member names normalised" "$(sql "select substr(uri, length('$T/n/') + 1) from documents where uri like '$T/n/names.zip!/%' order by uri" | tr '\n' ' ')" "names.zip!/a/b/c.txt names.zip!/abs/path.txt names.zip!/etc/evil.txt "
check_eq "symlinks and directories are no members" "$(sql "select substr(uri, length('$T/n/') + 1) from documents where uri like '$T/n/links.tar!/%'" | tr '\n' ' ')" "links.tar!/d/real.txt "

mkdir -p $T/pt; printf '%%PDF-1.4 not really a PDF\n' > $T/pt/a.pdf; printf 'The tapir text beside a PDF.\n' > $T/pt/b.txt
tar cf $T/n/pdffirst.tar -C $T/pt a.pdf b.txt
rag ingest -q $T/n/pdffirst.tar >/dev/null 2>&1
check_contains "a tar whose first member is a PDF is an archive" "$(rag search tapir)" "pdffirst.tar!/b.txt"

# an archive replaced by a plain file of the same name: its members go
printf 'Now a plain file about the gazelle.\n' > $T/n/names.zip
out=$(rag ingest $T/n/names.zip 2>&1)
check_contains "archive turned plain file: members removed" "$out" "3 removed"
check_eq "...none left" "$(sql "select count(*) from documents where uri like '$T/n/names.zip!/%'")" 0
check_contains "...the file is a document" "$(rag search gazelle)" "names.zip"

# bombs, nesting, corrupt archives
b=$T/bad; mkdir -p $b
printf 'Good file with the word sentinel.\n' > $b/good.txt
head -c 100M /dev/zero | gzip -9 > $b/zeros.gz                        # 100 MB of zeros
yes 'all work and no play makes jack a dull boy' | head -c 100M | gzip -9 > $b/dull.txt.gz
python3 - $b/bomb.zip <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('ok.txt', 'A fine member about the aardvark.\n')
    with z.open('zeros.txt', 'w') as f:
        block = b'a' * (1 << 20)
        for _ in range(64):
            f.write(block)
EOF
printf 'PK\003\004 this is no zip at all, sorry' > $b/broken.zip
mkdir -p $T/tt; for i in $(seq 20); do seq $i 3 20000 > $T/tt/f$i.txt; done
tar czf $T/t.tar.gz -C $T/tt .
head -c $(( $(stat -c %s $T/t.tar.gz) / 2 )) $T/t.tar.gz > $b/truncated.tar.gz
mkdir -p $T/n1; printf 'Deepest text.\n' > $T/n1/d.txt
for i in 1 2 3 4; do mkzip $T/n$((i + 1)).zip $T/n$i; mkdir -p $T/n$((i + 1)); mv $T/n$((i + 1)).zip $T/n$((i + 1))/; done
cp $T/n5/n5.zip $b/nested.zip
out=$(rag ingest $b 2>&1); rc=$?
check_contains "good file still ingested" "$(rag search sentinel)" "good.txt"
check_contains "gzipped zeros refused as a bomb" "$out" "zeros.gz: compression ratio over the limit of 250 (max_member_ratio)"
check_contains "gzipped text bomb refused" "$out" "dull.txt.gz: compression ratio over the limit"
check_contains "zip member bomb refused, naming the member" "$out" "bomb.zip!/zeros.txt: compression ratio over the limit"
check_contains "...its other member read" "$(rag search aardvark)" "bomb.zip!/ok.txt"
check_contains "corrupt zip reported" "$out" "broken.zip"
check_contains "truncated tar.gz reported" "$out" "truncated.tar.gz"
check_contains "nesting too deep reported" "$out" "nested.zip!/n4.zip!/n3.zip!/n2.zip: a container nested deeper than the limit of 3"
check_contains "the run goes on" "$out" "failed"
finish
