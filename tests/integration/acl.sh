# Role-scoped retrieval: a principal never sees documents outside its roles,
# through search, ask or docs, and still gets k results when k are visible.
. "$(dirname "$0")/lib.sh"
mkdir -p $T/fin $T/ops $T/all
# Finance documents mention the shared term many times so they would win
# the ranking if visibility were applied after it.
for i in $(seq 1 40); do
  printf 'Finance %d\n\nBudget budget budget budget. Secret ledger code FIN%03d.\n' $i $i > $T/fin/f$i.txt
done
for i in $(seq 1 12); do
  printf 'Ops %d\n\nThe budget for spare parts of crane %d is reviewed weekly.\n' $i $i > $T/ops/o$i.txt
done
printf 'Unlabelled\n\nBudget notes with no label at all, code NOLABEL.\n' > $T/all/u.txt
rag ingest --acl finance $T/fin >/dev/null
rag ingest --acl ops $T/ops >/dev/null
rag ingest $T/all >/dev/null

out=$(rag search --as ops -k 10 --json budget)
check_eq "ops gets exactly k=10 results" "$(echo "$out" | json_len '$.results')" 10
check_not_contains "ops never sees finance documents" "$out" "/fin/"
check_not_contains "ops never sees unlabelled documents" "$out" "NOLABEL"
out=$(rag search --as ops -k 50 --json budget)
check_eq "ops gets all 12 visible when asking for 50" "$(echo "$out" | json_len '$.results')" 12
out=$(rag search --as ops --chunks -k 50 --json "secret ledger code")
check_not_contains "finance-only terms return nothing for ops" "$out" "FIN0"
out=$(rag search --as finance -k 45 --json budget)
check_eq "finance sees its 40" "$(echo "$out" | json_len '$.results')" 40
out=$(rag search --as finance,ops -k 100 --json budget)
check_eq "two roles see both groups" "$(echo "$out" | json_len '$.results')" 52
out=$(rag search -k 100 --json budget)
check_eq "the administrator sees all, unlabelled too" "$(echo "$out" | json_len '$.results')" 53
out=$(rag search --as hr -k 10 budget)
check_contains "a role with no documents sees nothing" "$out" "No results"

out=$(rag ask --as ops "What is the budget for spare parts?")
check_not_contains "ask as ops quotes no finance text" "$out" "ledger"
check_not_contains "ask as ops cites no finance file" "$out" "/fin/"
check_contains "ask as ops answers from ops" "$out" "spare parts"
out=$(rag ask --as finance --json "secret ledger code")
check_not_contains "ask as finance cites no ops file" "$out" "/ops/"

out=$(rag docs list --as ops --json)
check_eq "docs list as ops shows only ops" "$(echo "$out" | json_len '$')" 12
fin_id=$(sql "select id from documents where uri like '%/fin/f1.txt'")
out=$(rag docs show --as ops "$fin_id" 2>&1); rc=$?
check_eq "docs show of an invisible document fails" $rc 1
check_contains "and says it does not exist" "$out" "no document with id $fin_id"
out=$(rag docs rm --as ops "$fin_id" 2>&1); rc=$?
check_eq "docs rm refuses a non-administrator" $rc 2
check_eq "document still there" "$(sql "select count(*) from documents where id = $fin_id")" 1
out=$(rag search --as 'ops;drop' x 2>&1); rc=$?
check_eq "malformed role refused" $rc 2
finish
