# Office Open XML: a deck (slides listed out of file-name order, speaker
# notes), a workbook (two sheets, shared strings, numbers) and a DOCX with
# header, footer, footnote, comment and custom heading styles, written by
# tests/tools/mkoffice, are ingested and found by search with the heading
# paths a reader expects ("Slide 2: ...", the sheet's name); a broken deck
# and a broken workbook are reported naming the part, and the run goes on.
. "$(dirname "$0")/lib.sh"
fx=$T/fixtures; mkdir -p $fx
"$RAG_TOOLS/mkoffice" $fx >/dev/null || { fail "mkoffice"; finish; exit; }
c=$T/corpus; mkdir -p $c
cp $fx/deck.pptx $fx/book.xlsx $fx/extras.docx $c/
cp $fx/badslide.pptx $fx/badsheet.xlsx $c/
cp $fx/deck.pptx $c/deck-upload.bin   # detected by content, whatever the name

out=$(rag ingest --chunk-tokens 16 --overlap-tokens 0 $c 2>$T/err); rc=$?
err=$(cat $T/err)
check_eq "exit status 3: some files failed" $rc 3
check_contains "four documents added" "$out" "4 added"
check_contains "broken slide reported with its part" "$err" \
  "badslide.pptx: ppt/slides/slide2.xml: malformed XML at line 4"
check_contains "broken sheet reported with its part" "$err" \
  "badsheet.xlsx: xl/worksheets/sheet1.xml: malformed XML"

# heading paths
hp() { rag search "$1" --json | json_get '$.results[0].heading_path'; }
check_contains "slide 2 text under its slide" "$(hp quokka)" "Slide 2: Budget review"
check_contains "slide 1 notes under slide 1" "$(hp aardvarks)" "Slide 1: Welcome aboard"
check_eq "sheet rows under the sheet name" "$(hp lantern)" "Inventory"
check_eq "second sheet" "$(hp platypus)" "Misc"
check_contains "custom heading style" "$(hp narwhal)" "Chapter about narwhals"
check_eq "footnotes after the body" "$(hp ivory)" "Footnotes"
check_eq "headers and footers" "$(hp ocelot)" "Headers and footers"
check_contains "header row read as names" \
  "$(rag search compass --json | json_get '$.results[0].snippet')" "Count: 7"

# order and type, as stored
id=$(sql "select id from documents where uri like '%/deck.pptx'")
show=$(rag docs show $id --json)
check_eq "deck title from core.xml" "$(echo "$show" | json_get '$.title')" "Expedition Deck"
check_eq "deck type" "$(echo "$show" | json_get '$.metadata.type')" "pptx"
text=$(echo "$show" | json_sql "select group_concat(json_extract(value, '\$.text'), ' ') from json_each(J, '\$.chunk_list')")
order_ok() {
  local rest=$text w
  for w in "Slide 1: Welcome aboard" "Speak about aardvarks" "Slide 2: Budget review" \
           "Tents | 40" "Mention the quokka" "Slide 3" "Final wombat"; do
    case "$rest" in *"$w"*) rest=${rest#*"$w"} ;; *) echo "      missing or out of order: $w"; return 1 ;; esac
  done
}
check "slides in show order, notes under their slide" order_ok
check_not_contains "notes page slide number left out" "$text" "99"
check_eq "uploaded deck detected by content" \
  "$(sql "select json_extract(metadata_json, '\$.type') from documents where uri like '%deck-upload.bin'")" "pptx"
bid=$(sql "select id from documents where uri like '%/book.xlsx'")
check_eq "workbook title" "$(rag docs show $bid --json | json_get '$.title')" "Stock Book"
finish
