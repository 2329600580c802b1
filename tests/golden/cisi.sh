# CISI retrieval benchmark: BM25 keyword search must reach MAP >= 0.18 and
# nDCG@10 >= 0.32 (testdata README: Xapian 0.1912 / 0.3422; a plain
# one-row-per-document FTS5 table 0.2073 / 0.3610).
. "$(dirname "$0")/../integration/lib.sh"
cisi=$RAG_TESTDATA/ir/cisi
if [ ! -d "$cisi" ]; then
  if [ "${CI:-}" = true ]; then fail "CISI missing at $cisi (RAG_TESTDATA) under CI"; finish; exit; fi
  echo "SKIP: CISI test collection not found at $cisi (set RAG_TESTDATA)"; finish; exit
fi
out=$(rag ingest -q $cisi/docs); rc=$?
check_eq "CISI ingest exit status" $rc 0
check_eq "1460 documents" "$(sql 'select count(*) from documents')" 1460
out=$(rag eval --queries $cisi/queries.tsv --qrels $cisi/qrels.tsv --run $T/run.trec --json)
echo "$out" | sed 's/^/    /'
map=$(echo "$out" | json_get '$.MAP')
ndcg=$(echo "$out" | json_get '$."nDCG@10"')
check "MAP $map >= 0.18" awk "BEGIN { exit !($map >= 0.18) }"
check "nDCG@10 $ndcg >= 0.32" awk "BEGIN { exit !($ndcg >= 0.32) }"
check_eq "76 judged queries evaluated" "$(echo "$out" | json_get '$.queries')" 76
check_eq "run file has 112 queries" "$(cut -d' ' -f1 $T/run.trec | sort -u | wc -l)" 112
check "run file ids are file names without extension" grep -qE '^1 Q0 [0-9]+ 1 ' $T/run.trec
check "at most 1000 results per query" test "$(cut -d' ' -f1 $T/run.trec | uniq -c | sort -n | tail -n1 | awk '{print $1}')" -le 1000
finish
