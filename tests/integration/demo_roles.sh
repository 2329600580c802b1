# The bundled demo corpus, as `make demo` uses it: the same question asked as
# finance and as operations gets answers from different documents, and each
# role's answer cites only what it may see.
. "$(dirname "$0")/lib.sh"
corpus=$(cd "$(dirname "$0")/../../demo/corpus" && pwd)
rag ingest -q --acl staff $corpus/handbook >/dev/null
rag ingest -q --acl finance $corpus/finance >/dev/null
rag ingest -q --acl ops $corpus/ops >/dev/null
check_eq "14 demo documents" "$(sql 'select count(*) from documents')" 14
q="Who approves an urgent spare parts order when a truck is off the road?"
fin=$(rag ask --json --as staff,finance "$q")
ops=$(rag ask --json --as staff,ops "$q")
staff=$(rag ask --json --as staff "$q")
check_contains "finance answer cites a finance procedure" "$fin" "/finance/"
check_not_contains "finance answer cites no ops document" "$fin" "/ops/"
check_contains "ops answer cites an ops procedure" "$ops" "/ops/"
check_not_contains "ops answer cites no finance document" "$ops" "/finance/"
check_not_contains "staff answer cites neither" "$staff" "/finance/"
check_not_contains "staff answer cites neither (ops)" "$staff" "/ops/"
check_eq "staff alone: its documents do not answer (rag.answer none)" "$(echo "$staff" | json_get '$.rag.answer')" none
check "the two answers differ" test "$(echo "$fin" | json_get '$.answer')" != "$(echo "$ops" | json_get '$.answer')"
check_not_contains "HTML script is not content" "$(rag search console.log)" "travel-and-expenses"
finish
