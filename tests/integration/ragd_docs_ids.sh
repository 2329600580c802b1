# The documents API reveals nothing of other roles: ids are opaque (a keyed
# permutation, not 1, 2, 3: they neither count the documents nor can be
# guessed), a hidden document answers exactly as a missing one, and upload
# ids and content addresses are per label set (another role's id or text
# answers as a free one; SQLite's words never reach a client).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { fail "curl is needed (make deps installs it)"; finish; exit; }

mkdir -p $T/fin $T/ops
for i in 1 2 3; do printf '# Ledger %d\n\nLedger entry %d of the finance team, zebra.\n' $i $i > $T/fin/l$i.md; done
printf '# Crane\n\nThe crane is inspected monthly, zebra.\n' > $T/ops/crane.md
rag ingest -q --acl finance $T/fin >/dev/null
rag ingest -q --acl ops $T/ops >/dev/null
FIN=$(rag keys add fin --roles finance --ingest)
OPS=$(rag keys add ops --roles ops --ingest)
ROOT=$(rag keys add root --admin)
ragd_start || { fail "ragd starts"; finish; exit; }

hex16() { echo "$1" | grep -Eqx '[0-9a-f]{16}'; }
ids_of() { json_sql "select group_concat(json_extract(value, '\$.$2'), ' ') from json_each(J, '\$.$1')"; }

# ---- ids: opaque, fixed width, the same everywhere ----
all=$(api GET /v1/documents $ROOT | sed '$d')
ids=$(echo "$all" | ids_of data id)
check_eq "the listing shows every document" "$(echo $ids | wc -w)" 4
bad=0; for id in $ids; do hex16 "$id" || bad=$((bad + 1)); done
check_eq "document ids are 16 hex digits ($ids)" $bad 0
internal=$(sql "select group_concat(id, ' ') from documents")
for n in $internal; do check_not_contains "internal id $n is not shown as an id" " $ids " " $n "; done
check_eq "ids are JSON strings, not numbers" "$(echo "$all" | json_sql "select count(*) from json_each(J, '\$.data') where json_type(value, '\$.id') = 'text'")" 4
out=$(api POST /v1/documents $OPS -d '{"text":"# Dock\n\nDock door 7 is closed, zebra.","filename":"dock.md"}')
check_eq "upload: 201" "$(status "$out")" 201
up=$(body "$out" | json_get '$.id')
check "an upload's id is opaque too ($up)" hex16 "$up"
check "and not the next number" test "$up" != "$(sql "select max(id) from documents")"
res=$(api POST /v1/search $OPS -d '{"query":"zebra","k":10}' | sed '$d')
bad=0; for id in $(echo "$res" | ids_of results document_id) $(echo "$res" | ids_of results chunk_id); do hex16 "$id" || bad=$((bad + 1)); done
check_eq "search: document and chunk ids are opaque" $bad 0
check_contains "search shows the upload under the id it was given" "$(echo "$res" | ids_of results document_id)" "$up"
sid=$(echo "$res" | json_get '$.results[0].document_id')
check_eq "a search result's id opens the document" "$(status "$(api GET /v1/documents/$sid $OPS)")" 200
chat=$(api POST /v1/chat/completions $OPS -d '{"messages":[{"role":"user","content":"Which dock door is closed?"}]}' | sed '$d')
cid=$(echo "$chat" | json_get '$.citations[0].document')
check "chat: a citation's document id is opaque ($cid)" hex16 "$cid"
check "chat: a source's document id is opaque" hex16 "$(echo "$chat" | json_get '$.sources[0].document')"
check "chat: a source's chunk id is opaque" hex16 "$(echo "$chat" | json_get '$.sources[0].chunk')"
check_eq "chat: the cited document opens" "$(status "$(api GET /v1/documents/$cid $OPS)")" 200
check_eq "rag docs keeps the database's numbers" "$(rag docs list --json | json_get '$[0].id' | grep -Ec '^[0-9]+$')" 1

# ---- a hidden document answers exactly as a missing one ----
fin_id=$(echo "$all" | json_sql "select json_extract(value, '\$.id') from json_each(J, '\$.data') where json_extract(value, '\$.labels') = 'finance' limit 1")
missing=0123456789abcdef; [ "$missing" = "$fin_id" ] && missing=fedcba9876543210
h=$(api GET /v1/documents/$fin_id $OPS); m=$(api GET /v1/documents/$missing $OPS)
check_eq "GET hidden: 404" "$(status "$h")" 404
check_eq "GET hidden and missing: the same answer but for the id" "$(echo "$h" | sed "s/$fin_id/ID/g")" "$(echo "$m" | sed "s/$missing/ID/g")"
h=$(api DELETE /v1/documents/$fin_id $OPS); m=$(api DELETE /v1/documents/$missing $OPS)
check_eq "DELETE hidden and missing: the same answer but for the id" "$(echo "$h" | sed "s/$fin_id/ID/g")" "$(echo "$m" | sed "s/$missing/ID/g")"
check_eq "a number is no id: 404" "$(status "$(api GET /v1/documents/1 $ROOT)")" 404
check_eq "the hidden document is still there" "$(status "$(api GET /v1/documents/$fin_id $FIN)")" 200
# timing, reported (not asserted: a loaded machine is noisy): interleaved samples
: > $T/th; : > $T/tm
for _ in $(seq 1 150); do
  curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $OPS" $RAGD_URL/v1/documents/$fin_id >> $T/th
  curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $OPS" $RAGD_URL/v1/documents/$missing >> $T/tm
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] * 1e6 }'; }
echo "    GET /v1/documents/{id}, 150 samples each: hidden median $(med $T/th) us, missing median $(med $T/tm) us"

# ---- upload ids and content addresses are per label set ----
out=$(api POST /v1/documents $OPS -d '{"text":"Ops plan: zebra crossing drill.","filename":"plan.txt","id":"plan"}')
check_eq "ops uploads id 'plan': 201" "$(status "$out")" 201
ops_plan=$(body "$out" | json_get '$.id')
out=$(api POST /v1/documents $FIN -d '{"text":"Finance plan: budget review.","filename":"budget.txt","id":"plan"}')
check_eq "finance uploads the same id under another name: 201, as a free id" "$(status "$out")" 201
check_not_contains "no SQLite words reach the client" "$out" "constraint"
out=$(api POST /v1/documents $FIN -d '{"text":"Finance plan, second file.","filename":"plan.txt","id":"plan"}')
check_eq "finance uploads the same id and name: 201 as well (not 409)" "$(status "$out")" 201
fin_plan=$(body "$out" | json_get '$.id')
check "two documents" test "$fin_plan" != "$ops_plan"
check_eq "the same id under a new name replaced finance's earlier file" \
  "$(api GET /v1/documents $FIN | sed '$d' | json_sql "select count(*) from json_each(J, '\$.data') where json_extract(value, '\$.ext_id') = 'plan'")" 1
check_eq "ops still has its own" "$(api GET /v1/documents/$ops_plan $OPS | sed '$d' | json_get '$.ext_id')" plan
check_eq "finance cannot see it" "$(status "$(api GET /v1/documents/$ops_plan $FIN)")" 404
out=$(api POST /v1/documents $OPS -d '{"text":"Ops plan: zebra crossing drill, revised.","filename":"plan.txt","id":"plan"}')
check_eq "ops replaces its own by id: 200 updated" "$(status "$out") $(body "$out" | json_get '$.status')" "200 updated"
check_eq "under the same document id" "$(body "$out" | json_get '$.id')" "$ops_plan"
same='{"text":"The same words in both roles, zebra.","filename":"same.txt"}'
out=$(api POST /v1/documents $OPS -d "$same"); check_eq "ops uploads a text: 201" "$(status "$out")" 201
out=$(api POST /v1/documents $FIN -d "$same"); check_eq "finance uploads the same text: 201 (not 409)" "$(status "$out")" 201
out=$(api POST /v1/documents $FIN -d "$same")
check_eq "finance again: its own copy, unchanged" "$(status "$out") $(body "$out" | json_get '$.status')" "200 unchanged"
out=$(rag check); rc=$?
check_eq "rag check: consistent, no orphan uploads ($out)" $rc 0
finish
