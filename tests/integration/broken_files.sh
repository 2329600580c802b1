# Broken files are reported with their path and reason and skipped; the run
# goes on, its exit status says some files failed, and nothing already stored
# is lost or changed. Empty and whitespace-only files are skipped, not failed.
# Files without a heading whose first line is no title get the file name.
. "$(dirname "$0")/lib.sh"
fx=$T/fixtures; mkdir -p $fx
"$RAG_TOOLS/mkfixtures" $fx >/dev/null || { fail "mkfixtures"; finish; exit; }
c=$T/corpus; mkdir -p $c
printf 'Good one\n\nThe good document mentions the word sentinel.\n' > $c/good1.txt
cp $fx/report.docx $c/report.docx
cp $fx/report.pdf $c/report.pdf
rag ingest --acl staff $c >/dev/null; rc=$?
check_eq "clean corpus ingests" $rc 0
count0=$(sql "select count(*) from documents")
chunks0=$(sql "select group_concat(id) from chunks order by id")
check_eq "three documents stored" "$count0" 3

# the broken ones
ln -s $c/does-not-exist $c/dangling.txt                       # unreadable: dangling link
: > $c/empty.txt                                              # 0 bytes: skipped
printf ' \n\t\r\n\n' > $c/blank.txt                                # whitespace only: skipped
head -c 3000 /dev/urandom | tr -d '\000' > $c/noise.txt       # invalid encoding beyond repair
printf '\x01\x02garbage\x03 text\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a' >> $c/noise.txt
cp $fx/corrupt.pdf $c/corrupt.pdf                             # corrupt PDF
cp $fx/truncated.pdf $c/truncated.pdf
cp $fx/bomb.docx $c/bomb.docx                                 # zip bomb
cp $fx/corrupt.docx $c/corrupt.docx
head -c 104857600 /dev/zero | tr '\0' 'a' > $c/oneline.txt    # a 100 MB single line
printf '\x7fELF\x02\x01\x01\x00\x00\x00binary' > $c/program.bin # unknown binary: skipped
if [ "$(id -u)" != 0 ]; then
  printf 'secret\n' > $c/noperm.txt; chmod 000 $c/noperm.txt   # unreadable (root reads anyway)
fi
printf 'Good two\n\nAnother good document with the word lighthouse.\n' > $c/good2.txt

out=$(rag ingest $c 2>$T/err); rc=$?
err=$(cat $T/err)
check_eq "exit status 3: some files failed" $rc 3
check_contains "summary counts" "$out" "1 added, 0 updated, 3 unchanged"
check_contains "run went on past the broken files" "$(rag search lighthouse)" "Good two"
check_contains "dangling link reported" "$err" "dangling.txt"
check_contains "empty file skipped" "$err" "skipped: $c/empty.txt: empty"
check_contains "whitespace-only file skipped" "$err" "skipped: $c/blank.txt: empty"
check_not_contains "empty files are no failure" "$err" "failed: $c/empty.txt"
check_contains "invalid encoding reported" "$err" "noise.txt: not valid text"
check_contains "corrupt PDF reported" "$err" "corrupt.pdf"
check_contains "corrupt PDF reason" "$(grep corrupt.pdf $T/err)" "PDF"
check_contains "truncated PDF reported" "$err" "truncated.pdf"
check_contains "zip bomb reported" "$err" "bomb.docx"
check_contains "zip bomb reason" "$(grep bomb.docx $T/err)" "zip bomb"
check_contains "corrupt DOCX reported" "$err" "corrupt.docx: corrupt DOCX"
check_contains "100 MB line reported" "$err" "oneline.txt: line 1 is longer than"
check_contains "unknown binary skipped with a reason" "$err" "skipped: $c/program.bin"
if [ "$(id -u)" != 0 ]; then check_contains "unreadable file reported" "$err" "noperm.txt"; fi
check_eq "nothing stored for broken files" "$(sql "select count(*) from documents")" $((count0 + 1))
check_contains "earlier documents untouched" "$(sql "select group_concat(id) from chunks where id in ($chunks0) order by id")" "$chunks0"
check_contains "old content still searchable" "$(rag search sentinel)" "Good one"

# a good file that turns bad: the stored version stays
cp $fx/corrupt.pdf $c/report.pdf
out=$(rag ingest $c 2>$T/err); rc=$?
check_eq "status 3 again" $rc 3
check_contains "the changed-to-broken file is reported" "$(cat $T/err)" "report.pdf"
check_eq "its earlier version is kept" "$(sql "select count(*) from documents where uri like '%/report.pdf'")" 1
out=$(rag ingest --json $c 2>/dev/null)
check "--json lists the problems" test "$(echo "$out" | json_len '$.problems')" -ge 9
check_contains "--json problem has path and reason" "$(echo "$out" | json_sql "select json_extract(value, '\$.reason') from json_each(J, '\$.problems') where json_extract(value, '\$.status') = 'failed' limit 1")" ":"
check_eq "--json lists the empty files as skipped, reason empty" "$(echo "$out" | json_sql "select count(*) from json_each(J, '\$.problems') where json_extract(value, '\$.status') = 'skipped' and json_extract(value, '\$.reason') = 'empty'")" 2
check_contains "database consistent" "$(rag check)" "ok:"

# Empty files alone: skipped, reason "empty", exit status 0.
e=$T/empties; mkdir -p $e
: > $e/zero.txt
printf '\n  \n\t\n' > $e/spaces.md
printf '\xef\xbb\xbf \r\n' > $e/bom.txt
printf 'Filled\n\nA real document about the harbour.\n' > $e/real.txt
out=$(rag ingest $e 2>$T/err); rc=$?
check_eq "only empty files besides good ones: exit 0" $rc 0
check_contains "empty files counted as skipped" "$out" "1 added, 0 updated, 0 unchanged, 0 removed, 3 skipped, 0 failed"
check_contains "each empty file shown" "$(cat $T/err)" "skipped: $e/spaces.md: empty"
out=$(rag ingest --json $e 2>/dev/null); rc=$?
check_eq "--json: exit 0" $rc 0
check_eq "--json: three problems" "$(echo "$out" | json_len '$.problems')" 3
check_eq "--json: status skipped" "$(echo "$out" | json_get '$.problems[0].status')" skipped
check_eq "--json: reason empty" "$(echo "$out" | json_get '$.problems[0].reason')" empty
check_eq "--json: none failed" "$(echo "$out" | json_get '$.failed')" 0
: > $e/real.txt                                               # emptied after ingesting
out=$(rag ingest $e 2>$T/err); rc=$?
check_eq "a file emptied later: exit 0" $rc 0
check_contains "...skipped as empty" "$(cat $T/err)" "skipped: $e/real.txt: empty"
check_contains "...its stored version stays" "$(rag search harbour)" "Filled"

# Titles of files without a heading: the first line unless it is no title.
d=$T/usr-share-doc/libfoo; mkdir -p $d
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: foo\n\nFiles: *\nCopyright: 2001 A. Author\nLicense: MIT\n' > $d/copyright
printf '#\n\nNotes about the zanzibar build.\n' > $d/NOTES.txt
printf '///////////////////////\n// banner\n\nThe quokka banner text.\n' > $d/banner.txt
printf 'Copyright (C) 2003 Someone\n\nThe wombat licence text.\n' > $d/licence.txt
printf 'Release notes\n\nThe numbat release.\n' > $d/relnotes.txt
rag ingest -q $d >/dev/null 2>&1
titles=$(sql "select title from documents where uri like '%/libfoo/%' order by title" | tr '\n' '|')
check_eq "titles: first lines that are none give the file name" "$titles" "NOTES.txt|Release notes|banner.txt|copyright|licence.txt|"
check_not_contains "the file name is not put into the text" "$(sql "select group_concat(text) from chunks where document_id in (select id from documents where uri like '%/NOTES.txt')")" "NOTES.txt"
finish
