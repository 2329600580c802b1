# OpenDocument (odt, ods, odp), EPUB and RTF files ingest and are found by
# `rag search`, with their titles, heading paths, reading order and author
# metadata; broken ones are reported naming the member or offset, and the
# run goes on. ODF and EPUB files come from tests/tools/mkodf, the RTF is
# written here (\'e9, \u8364?, nested groups, a \pict blob to skip).
. "$(dirname "$0")/lib.sh"
fx=$T/fixtures; mkdir -p $fx
"$RAG_TOOLS/mkodf" $fx >/dev/null || { fail "mkodf"; finish; exit; }
c=$T/corpus; mkdir -p $c
cp $fx/report.odt $fx/sheet.ods $fx/deck.odp $fx/book.epub $c/
cat > $c/memo.rtf <<'RTF'
{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\froman Times;}}{\colortbl;\red0\green0\blue0;}
{\stylesheet{\s0 Normal;}{\s1 heading 1;}{\s2 heading 2;}}
{\info{\title Harbour Caf\'e9 Memo}{\author Jane Doe}{\operator nobody}}
\pard\s1 Harbour Caf\'e9\par
\pard The caf\'e9 serves chowder for \u8364?4 to {\b every {\i nested} fisherman}.\par
{\pict\wmetafile8\picw100\pich100 0a0b0c0d0e0fsecretpictureblob}
\pard\s2 Opening Hours\par
\pard The kitchen opens at dawn when the trawlers return.\par
}
RTF

out=$(rag ingest --chunk-tokens 16 --overlap-tokens 0 $c 2>$T/err); rc=$?
check_eq "ingest status 0 ($(cat $T/err))" $rc 0
check_contains "five documents added" "$out" "5 added"

hit() { # query -> "uri|title|heading_path" of the first hit
  rag search --json "$1" | json_sql "select json_extract(J,'\$.results[0].uri') || '|' ||
    json_extract(J,'\$.results[0].title') || '|' || json_extract(J,'\$.results[0].heading_path')"
}
check_eq "ODT text, title, heading path" "$(hit colza)" \
  "$c/report.odt|The Keeper's Manual|Lighthouse Keeping › Fresnel Lenses"
check_eq "ODT footnote text" "$(hit 'Augustin')" \
  "$c/report.odt|The Keeper's Manual|Lighthouse Keeping › Fresnel Lenses"
check_eq "ODS row as header: value" "$(hit marmalade)" "$c/sheet.ods|Prices|Prices"
check_contains "ODS row text" "$(rag search --json marmalade)" "Item: **marmalade**; Price: 3.5; Colour: orange"
check_eq "ODS second sheet" "$(hit 'stock monthly')" "$c/sheet.ods|Prices|Notes"
check_eq "ODP slide text" "$(hit moorings)" "$c/deck.odp|Slide 1: Tide Tables|Slide 2: Harbour Map"
check_eq "ODP speaker notes" "$(hit 'spring tides')" "$c/deck.odp|Slide 1: Tide Tables|Slide 1: Tide Tables"
check_eq "EPUB chapter, title, heading path" "$(hit pemmican)" \
  "$c/book.epub|Voyages of the Narwhal|Arctic Waters › Provisions"
check_eq "RTF text, title" "$(hit chowder)" "$c/memo.rtf|Harbour Café Memo|Harbour Café"
check_eq "RTF second heading" "$(hit trawlers)" "$c/memo.rtf|Harbour Café Memo|Harbour Café › Opening Hours"
check_contains "RTF: \\u8364 and nested groups" "$(rag search --json chowder)" \
  "serves **chowder** for €4 to every nested fisherman"
check_eq "RTF: the picture is not text" "$(rag search --json secretpictureblob | json_len '$.results')" 0
check_eq "RTF: the info group is not text" "$(rag search --json nobody | json_len '$.results')" 0

# reading order: the EPUB's spine puts the preface first
id=$(sql "select id from documents where uri like '%book.epub'")
show=$(rag docs show --json $id)
order=$(printf '%s' "$show" | json_sql "select group_concat(value ->> 'text', ' ') from
  (select value from json_each(J, '\$.chunk_list') order by value ->> 'ordinal')")
p1=$(printf '%s' "$order" | grep -bo 'Written aboard' | head -1 | cut -d: -f1)
p2=$(printf '%s' "$order" | grep -bo 'narwhal surfaced' | head -1 | cut -d: -f1)
p3=$(printf '%s' "$order" | grep -bo 'pemmican' | head -1 | cut -d: -f1)
check "EPUB chapters in spine order ($p1 < $p2 < $p3)" test "${p1:-99999}" -lt "${p2:-0}" -a "${p2:-99999}" -lt "${p3:-0}"
check_eq "EPUB authors in metadata" "$(printf '%s' "$show" | json_get '$.metadata.author')" "Grace Hopper, Alan Turing"
check_eq "EPUB mime" "$(printf '%s' "$show" | json_get '$.mime')" "application/epub+zip"
check_eq "ODT author" "$(rag docs show --json $(sql "select id from documents where uri like '%report.odt'") | json_get '$.metadata.author')" "Ada Lovelace"
check_eq "RTF author" "$(rag docs show --json $(sql "select id from documents where uri like '%memo.rtf'") | json_get '$.metadata.author')" "Jane Doe"
check_eq "types in metadata" "$(sql "select group_concat(json_extract(metadata_json,'\$.type'), ',') from (select metadata_json from documents order by uri)")" \
  "epub,odp,rtf,odt,ods"

# broken files: reported with the member or offset, the run goes on
cp $fx/corrupt.odt $fx/badxml.odt $fx/hole.epub $c/
printf '{\\rtf1 unclosed {\\b group' > $c/truncated.rtf
printf 'Good three\n\nThe word barnacle is here.\n' > $c/good3.txt
out=$(rag ingest $c 2>$T/err); rc=$?
err=$(cat $T/err)
check_eq "exit status 3: some files failed" $rc 3
check_contains "run went on" "$(rag search barnacle)" "Good three"
check_contains "corrupt ODT reported" "$err" "corrupt.odt: corrupt ODT"
check_contains "malformed content.xml named" "$err" "badxml.odt: content.xml: malformed XML at line 2"
check_contains "missing EPUB chapter named" "$err" "hole.epub: corrupt EPUB: OEBPS/text/chapter 1.xhtml (in the spine) is missing"
check_contains "truncated RTF with its offset" "$err" "truncated.rtf: truncated RTF: 2 groups still open at the end (offset 25)"
finish
