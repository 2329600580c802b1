# Ingest -> search -> ask on a small corpus of several formats, with JSON output.
. "$(dirname "$0")/lib.sh"
c=$T/corpus; mkdir -p $c/sub
cat > $c/kettle.md <<'MD'
# Kitchen rules

## Kettle

Descale the kettle every Friday. Use the white vinegar from the cupboard above the sink,
fill the kettle to the maximum line with one part vinegar and two parts water, boil it
twice, leave it to stand for an hour, then rinse it three times with clean water before
anyone makes tea again. Never put the kettle in the dishwasher, and never boil it empty:
the element cracks and facilities will charge the replacement to the team budget.

## Fridge

Label your food with your name and the date. The fridge is emptied on Thursdays at 16:00.
Anything without a label goes to the bin, and containers left for more than a week are
thrown away with their contents. Milk for the whole floor is on the top shelf; please
tell reception when the last carton is opened so that a new order can be placed.
MD
cat > $c/sub/parking.txt <<'TXT'
Parking policy

Staff park in the north lot. Visitors park in the south lot near reception.
Bicycles go in the covered rack by the east entrance.
TXT
cat > $c/page.html <<'HTML'
<!doctype html><html><head><title>Fire safety</title><style>p{color:red}</style>
<script>var evacuation = "scriptword";</script></head>
<body><h1>Fire safety</h1><p>The assembly point is the car park by the gate.</p>
<h2>Alarms</h2><p>Fire alarms are tested every Tuesday at 10:00.</p></body></html>
HTML

cat > $c/wifi.html <<'HTML'
<html><head><title>Guest network</title></head>
<body><p>Visitors connect to KestrelGuest with the code from reception.</p></body></html>
HTML

out=$(rag ingest "$c" 2>&1); rc=$?
check_eq "ingest exit status" $rc 0
check_contains "summary line" "$out" "4 added, 0 updated, 0 unchanged, 0 removed, 0 skipped, 0 failed"

out=$(rag search "descaling kettles")
check_contains "stemmed search finds the kettle section" "$out" "Kitchen rules"
check_contains "heading path shown" "$out" "kettle.md  ›  Kettle"
check_contains "matched terms highlighted" "$out" "**Descale**"

out=$(rag search "alarms tested")
check_contains "HTML text searchable" "$out" "Fire safety"
check_contains "an HTML title outside the body is searchable" "$(rag search 'guest network')" "Guest network"
out=$(rag search scriptword)
check_contains "script content is not indexed" "$out" "No results"

out=$(rag search --json "lot")
check_eq "JSON result count" "$(echo "$out" | json_len '$.results')" 1
check_contains "JSON uri is absolute" "$(echo "$out" | json_get '$.results[0].uri')" "/sub/parking.txt"

out=$(rag ask "When is the fridge emptied?")
check_contains "extractive answer quotes the sentence" "$out" "The fridge is emptied on Thursdays at 16:00. [1]"
check_contains "sources listed with heading path" "$out" "[1] Kitchen rules › Fridge"
check_contains "says no model is configured" "$out" "No generator model is configured"

out=$(rag ask --json "Where do visitors park?")
check_contains "JSON answer" "$(echo "$out" | json_get '$.answer')" "Visitors park in the south lot near reception. [1]"
check_eq "JSON citation n" "$(echo "$out" | json_get '$.citations[0].n')" 1
check_contains "JSON citation uri" "$(echo "$out" | json_get '$.citations[0].uri')" "parking.txt"
check "JSON timings present" test -n "$(echo "$out" | json_get '$.timings.retrieve_ms')"

out=$(rag ask "quantum chromodynamics"); rc=$?
check_contains "no match said plainly" "$out" "do not answer this question"
check_eq "no answer: exit status 4" "$rc" 4

out=$(rag docs list)
check_contains "docs list shows titles" "$out" "Parking policy"
id=$(rag docs list --json | json_get '$[0].id')
out=$(rag docs show "$id")
check_contains "docs show prints chunks" "$out" "--- chunk 0"
out=$(rag stats --json)
check_eq "stats documents" "$(echo "$out" | json_get '$.documents')" 4
out=$(rag check)
check_contains "database consistent" "$out" "ok:"
finish
