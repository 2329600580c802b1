# OCR: scanned pages (text drawn as pixels by tests/tools/mkscan, no text
# layer) are read by tesseract: a PNG, a JPEG and a PDF holding only an
# image are found by `rag search` after `rag ingest`. --ocr never skips the
# images and lets the scanned PDF fail as before; a GIF stays skipped; a
# corrupt PNG fails with a clear message and the run goes on; the CPU limit
# (ingest.ocr_cpu_limit) stops a long OCR with a message saying so. Skipped
# loudly when built without OCR (a failure under CI=true, where deps.sh
# installs tesseract).
. "$(dirname "$0")/lib.sh"
skip_ocr() {
  if [ "${CI:-}" = true ]; then fail "OCR is built in under CI ($1)"; finish; exit 1; fi
  echo "########################################################################"
  echo "# SKIP: $1: the OCR tests did not run."
  echo "########################################################################"
  finish; exit 0
}
c=$T/corpus; mkdir -p $c
"$RAG_TOOLS/mkscan" png $c/scan.png "The quarterly maintenance report" "approves spare parts." \
  "" "Turbine blades are inspected monthly."; rc=$?
[ $rc = 77 ] && skip_ocr "mkscan was built without cairo"
check_eq "mkscan draws a PNG" $rc 0
"$RAG_TOOLS/mkscan" pdf $c/scanned.pdf "Minutes of the harbour committee" "about dredging."
check_eq "mkscan draws a PDF holding an image" $? 0
"$RAG_TOOLS/mkscan" jpeg $c/photo.jpg "Invoice for gearbox repairs"
check_eq "mkscan draws a JPEG" $? 0
printf 'GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;' > $c/dot.gif
printf 'Plain notes\n\nThe plain note mentions a lighthouse.\n' > $c/notes.txt

out=$(rag ingest $c 2>$T/err); rc=$?
err=$(cat $T/err)
case "$err" in *"OCR not built in"*) skip_ocr "rag was built without tesseract" ;; esac
check_eq "ingest succeeds" $rc 0
check_contains "PNG, JPEG, PDF and text added; the GIF skipped" "$out" "4 added, 0 updated, 0 unchanged, 0 removed, 1 skipped, 0 failed"
check_contains "the GIF stays unknown" "$err" "skipped: $c/dot.gif: binary file of unknown type"
out=$(rag search "spare parts")
check_contains "the PNG's words are found" "$out" "scan.png"
check_contains "...as text" "$out" "maintenance report"
check_contains "the scanned PDF's words are found" "$(rag search dredging)" "scanned.pdf"
check_contains "the JPEG's words are found" "$(rag search gearbox)" "photo.jpg"
check_contains "a paragraph after the blank line" "$(rag search turbine blades)" "scan.png"
id=$(sql "select id from documents where uri like '%scanned.pdf'")
meta=$(rag docs show --json "$id")
check_contains "the PDF says how many pages were OCR'd" "$meta" "ocr_pages"

# --ocr never: images skipped, the scanned PDF fails as before OCR
out=$(rag ingest --db $T/never.db --ocr never $c 2>$T/err); rc=$?
err=$(cat $T/err)
check_eq "--ocr never: exit status 3 (the scanned PDF fails)" $rc 3
check_contains "--ocr never: the PNG is skipped" "$err" "skipped: $c/scan.png: an image, and OCR is off"
check_contains "--ocr never: the JPEG is skipped" "$err" "skipped: $c/photo.jpg"
check_contains "--ocr never: the scanned PDF fails" "$err" "failed: $c/scanned.pdf: the PDF has no text layer (scanned? OCR is off)"
check_contains "--ocr never: text still ingested" "$out" "1 added"
check_contains "--ocr never: the scan is not found" "$(rag search --db $T/never.db gearbox)" "No results"
out=$(rag ingest --db $T/never.db --ocr sometimes $c 2>&1); rc=$?
check_eq "--ocr with a bad word: status 2" $rc 2
check_contains "...naming the choices" "$out" "auto never always"

# a corrupt PNG fails with a clear message; the run goes on
b=$T/broken; mkdir -p $b
head -c 200 $c/scan.png > $b/cut.png
printf 'Another note\n\nThis note mentions a windmill.\n' > $b/after.txt
out=$(rag ingest $b 2>$T/err); rc=$?
err=$(cat $T/err)
check_eq "corrupt PNG: exit status 3" $rc 3
check_contains "corrupt PNG: reported" "$err" "failed: $b/cut.png: corrupt image: "
check_contains "the run went on" "$(rag search windmill)" "after.txt"

# the CPU limit: a page of 40 lines takes tesseract several seconds
l=$T/long; mkdir -p $l
lines=(); for i in $(seq 1 40); do lines+=("Line $i of the inventory: valves, pumps, gaskets and flanges"); done
"$RAG_TOOLS/mkscan" png $l/long.png --size 40 "${lines[@]}"
printf '[ingest]\nocr_cpu_limit = 1\n' > $T/cpu.conf
out=$(rag ingest --config $T/cpu.conf --db $T/cpu.db $l 2>$T/err); rc=$?
err=$(cat $T/err)
check_eq "CPU limit: exit status 3" $rc 3
check_contains "CPU limit: reported" "$err" "failed: $l/long.png: OCR stopped at the CPU time limit of 1 s"
out=$(rag config --config $T/cpu.conf)
check_contains "rag config shows the OCR settings" "$out" "ingest.ocr = auto"
check_contains "...and the limit from the file" "$out" "ingest.ocr_cpu_limit = 1"
finish
