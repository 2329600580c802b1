#!/usr/bin/env bash
# The demo: ingest the bundled handbook of a fictional company with access
# labels (HR policies for every employee, finance procedures for finance,
# maintenance procedures for operations), then ask one question as two
# principals. Their answers and citations differ because each sees only the
# documents its roles allow.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rag=$top/build/rag
export RAG_DB=$top/build/demo/rag.db
rm -f "$RAG_DB" "$RAG_DB-wal" "$RAG_DB-shm"
mkdir -p "$(dirname "$RAG_DB")"
corpus=$top/demo/corpus

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Ingesting the handbook (label staff), finance (finance) and ops (ops) documents"
"$rag" ingest --acl staff "$corpus/handbook"
"$rag" ingest --acl finance "$corpus/finance"
"$rag" ingest --acl ops "$corpus/ops"
"$rag" stats

question="Who approves an urgent spare parts order when a truck is off the road?"
say "rag ask --as staff,finance \"$question\""
"$rag" ask --as staff,finance "$question"
say "rag ask --as staff,ops \"$question\""
"$rag" ask --as staff,ops "$question"
say "rag ask --as staff \"$question\"  (an employee without finance or ops)"
"$rag" ask --as staff "$question"

say "Try it yourself"
echo "  RAG_DB=$RAG_DB $rag search --as staff,ops \"brake\""
echo "  RAG_DB=$RAG_DB $rag ask \"How many days of leave do I get?\""
