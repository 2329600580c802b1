#!/usr/bin/env bash
# Cluster mode against a real PostgreSQL (started here, on loopback, as the
# postgres user): ingest workers on the queue, replicas that give the
# single-machine results, two ragd nodes (uploads, key revocation and ACL
# within the lag bound), and faults: a worker killed mid-job, a node killed
# mid-replication, PostgreSQL stopped during ingestion and uploads. Every
# replica ends compared with PostgreSQL (rag check).
. "$(dirname "$0")/lib.sh"
need_models
pg_need
EMB=$M/bert-mean-f32.gguf
cisi=$RAG_TESTDATA/ir/cisi
CORPUS=$(cd "$(dirname "$0")/../../demo/corpus" && pwd)
export RAG_DB= # every command names its database
# whatever this script started goes with it, also when it is stopped
BG=()
bg() { "$@" & BG+=($!); } # a process of ours in the background, as itself
cleanup() {
  local p; for p in "${BG[@]}" ${A_PID:-} ${B_PID:-}; do kill -9 $p 2>/dev/null; done
  pg_stop
}
trap cleanup EXIT
# queued DB N: waits (10 s at most) until N jobs of DB are queued or beyond
queued() {
  local i; for i in $(seq 1 200); do
    [ "$(psql_do -d $1 -c 'select count(*) from jobs')" -ge "$2" ] && return 0; sleep 0.05
  done; return 1
}
url() { echo "postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$1"; }
psql_do -c "CREATE DATABASE cisi" -c "CREATE DATABASE demo" >/dev/null || fail "create the databases"
CISI=$(url cisi) DEMO=$(url demo)

# the results of a search --json without what differs between databases
# (ids, timing): rank, uri, score, heading path, snippet
norm() {
  local f; f=$(mktemp "$T/norm.XXXXXX"); cat > "$f"
  sqlite3 :memory: "select json_group_array(json_array(json_extract(value, '\$.rank'),
    json_extract(value, '\$.uri'), printf('%.9g', json_extract(value, '\$.score')),
    json_extract(value, '\$.heading_path'), json_extract(value, '\$.snippet')))
    from json_each(readfile('$f'), '\$.results');"
  rm -f "$f"
}

# ---- CISI through the queue, two workers, against one SQLite database ----------
out=$(rag ingest --db "$CISI" $cisi/docs 2>&1)
check_contains "rag ingest against a cluster queues one job per file" "$out" "1460 jobs queued"
check_not_contains "...and never shows the password" "$out" "$PG_PASSWORD"
t0=$(date +%s.%N)
bg "$RAG_BIN" worker --db "$CISI" --once -q --name w1; w1=$!
bg "$RAG_BIN" worker --db "$CISI" --once -q --name w2; w2=$!
wait $w1; r1=$?; wait $w2; r2=$?
dt=$(echo "$(date +%s.%N) - $t0" | bc)
check_eq "two workers drain the queue and exit (--once)" "$r1 $r2" "0 0"
jobs=$(rag jobs --db "$CISI" --json)
check_eq "rag jobs: 1460 done" "$(echo "$jobs" | json_get '$.done')" 1460
check_eq "...none failed" "$(echo "$jobs" | json_get '$.failed')" 0
check_eq "...all added" "$(echo "$jobs" | json_get '$.outcomes.added')" 1460
n1=$(echo "$jobs" | json_get '$.workers[0].jobs_done') n2=$(echo "$jobs" | json_get '$.workers[1].jobs_done')
check "...both workers took jobs ($n1 and $n2, in $dt s)" test "$n1" -gt 100 -a "$n2" -gt 100
check_eq "the cluster holds each document once" "$(psql_do -d cisi -c 'select count(*), count(distinct uri) from documents')" "1460|1460"

rag ingest -q --db $T/single.db $cisi/docs >/dev/null
evs=$(rag eval --db $T/single.db --queries $cisi/queries.tsv --qrels $cisi/qrels.tsv --json)
evr=$(rag eval --db "$CISI" --replica $T/r1.db --queries $cisi/queries.tsv --qrels $cisi/qrels.tsv --json)
check_eq "rag eval on a replica: the single database's MAP" "$(echo "$evr" | json_get '$.MAP')" "$(echo "$evs" | json_get '$.MAP')"
check_eq "...and nDCG@10" "$(echo "$evr" | json_get '$."nDCG@10"')" "$(echo "$evs" | json_get '$."nDCG@10"')"
same=0
for q in "information retrieval systems" "library classification" "citation analysis of journals" "the" "automatic indexing"; do
  a=$(rag search --db $T/single.db --json -k 10 "$q" | norm)
  b=$(rag search --db "$CISI" --replica $T/r1.db --json -k 10 "$q" | norm)
  [ "$a" = "$b" ] && [ "$a" != "[]" ] && same=$((same + 1))
done
check_eq "rag search on a replica: the same ranks, scores and snippets for 5 queries" $same 5
out=$(rag check --db "$CISI" --replica $T/r1.db 2>&1)
check_contains "rag check: the replica is the cluster's" "$out" "consistent"
# a second ingest of the same files changes nothing
rag ingest -q --db "$CISI" --wait $cisi/docs > $T/again.txt 2>&1 &
waiter=$!
queued cisi 2920 || fail "the second ingest queues its jobs"
rag worker --db "$CISI" --once -q >/dev/null 2>&1
wait $waiter
check_contains "re-ingesting the same files: all unchanged" "$(cat $T/again.txt)" "1460 unchanged"

# PostgreSQL stopped and started again while two workers ingest: every job
# ends done, each document once, and the replica equals the cluster
mkdir -p $T/more
for i in $(seq 1 300); do printf '# Extra %d\n\nAn extra record about okapi %d.\n' $i $i > $T/more/e$i.md; done
rag ingest -q --db "$CISI" $T/more >/dev/null
bg "$RAG_BIN" worker --db "$CISI" --once -q --lease 5 --name r1 2>$T/r1.log; r1=$!
bg "$RAG_BIN" worker --db "$CISI" --once -q --lease 5 --name r2 2>$T/r2.log; r2=$!
for i in $(seq 1 200); do [ "$(psql_do -d cisi -c "select count(*) from jobs where state = 'done' and source like '%/more/%'")" -ge 30 ] && break; sleep 0.02; done
pg_ctl_do stop || fail "PostgreSQL stops"
sleep 2
pg_ctl_do start || fail "PostgreSQL starts again"
wait $r1; wait $r2
check_eq "PostgreSQL restarted mid-ingest: all 300 jobs done" "$(psql_do -d cisi -c "select count(*) from jobs where state = 'done' and source like '%/more/%'")" 300
check_eq "...each document once" "$(psql_do -d cisi -c "select count(*), count(distinct uri) from documents where uri like '%/more/%'")" "300|300"
# the stop finds each worker mid-job (the job goes back to the queue) or
# claiming one (the claim is rolled back and retried): either way it says so
logs=$(cat $T/r1.log $T/r2.log)
check_contains "...the workers said the connection was lost" "$logs" "connection lost"
case "$logs" in
  *"goes back to the queue"*|*"; retrying"*) ok "...and what became of the job they held or were claiming" ;;
  *) fail "...and what became of the job: neither 'goes back to the queue' nor 'retrying'" ;;
esac
out=$(rag check --db "$CISI" --replica $T/r1.db 2>&1)
check_contains "...and the replica equals the cluster" "$out" "consistent"

# --upload: the files' bytes travel in their jobs (workers elsewhere cannot
# read this machine's files); the documents keep the files' paths as source
mkdir -p $T/away
printf '# Away\n\nThe capybara ledger is closed on Fridays.\n' > $T/away/a.md
printf '<html><head><title>Away two</title></head><body><p>Capybara rota.</p></body></html>' > $T/away/b.html
out=$(rag ingest --db "$CISI" --upload $T/away 2>&1)
check_contains "rag ingest --upload queues the files with their bytes" "$out" "2 jobs queued"
mv $T/away $T/gone
rag worker --db "$CISI" --once -q
check_eq "...the worker ingests them without reading the files" "$(psql_do -d cisi -c "select count(*) from documents where uri like '%/away/%'")" 2
check_eq "...typed as files are (an HTML title)" "$(psql_do -d cisi -c "select title from documents where uri like '%/away/b.html'")" "Away two"
check_eq "...searchable on a replica" "$(rag search --db "$CISI" --replica $T/r1.db --json capybara | json_len '$.results')" 2

# the schema's version, and passwords given other ways
psql_do -d cisi -c "UPDATE rag_schema SET version = 99" >/dev/null
out=$(rag jobs --db "$CISI" 2>&1); rc=$?
check "a cluster schema newer than the program is refused" test $rc -ne 0
check_contains "...saying so" "$out" "newer than this program knows"
psql_do -d cisi -c "UPDATE rag_schema SET version = 1" >/dev/null
out=$(RAG_DB="host=127.0.0.1 port=$PG_PORT dbname=cisi user=postgres password=$PG_PASSWORD" rag config 2>&1)
check_contains "rag config shows a conninfo database" "$out" "dbname=cisi"
check_not_contains "...without its password" "$out" "$PG_PASSWORD"
out=$(PGPASSWORD=$PG_PASSWORD rag jobs --db "postgresql://postgres@127.0.0.1:$PG_PORT/cisi" --json)
check_eq "the password may come from PGPASSWORD" "$(echo "$out" | json_get '$.failed')" 0
out=$(rag jobs --db "postgresql://postgres:wrong@127.0.0.1:$PG_PORT/cisi" 2>&1)
check_contains "a wrong password: a clear error" "$out" "password authentication failed"
check_not_contains "...that does not repeat it" "$out" "wrong@"

# ---- the demo corpus on two ragd nodes ------------------------------------------
rag ingest --db "$DEMO" --acl finance $CORPUS/finance >/dev/null
rag ingest --db "$DEMO" --acl ops $CORPUS/ops >/dev/null
rag ingest --db "$DEMO" --acl staff $CORPUS/handbook >/dev/null
rag worker --db "$DEMO" --once -q --embed-model "$EMB" || fail "a worker with an embedding model"
# the same files in one SQLite database: the same hybrid results on a
# replica, principal by principal
rag ingest -q --db $T/demo.db --embed-model "$EMB" --acl finance $CORPUS/finance >/dev/null
rag ingest -q --db $T/demo.db --embed-model "$EMB" --acl ops $CORPUS/ops >/dev/null
rag ingest -q --db $T/demo.db --embed-model "$EMB" --acl staff $CORPUS/handbook >/dev/null
same=0
for who in finance ops,staff staff; do
  for q in "spare parts order approval" "when are supplier invoices paid" "overtime pay"; do
    a=$(rag search --db $T/demo.db --embed-model "$EMB" --as $who --json -k 8 "$q" | norm)
    b=$(rag search --db "$DEMO" --replica $T/dr.db --embed-model "$EMB" --as $who --json -k 8 "$q" | norm)
    [ "$a" = "$b" ] && [ "$a" != "[]" ] && same=$((same + 1))
  done
done
check_eq "hybrid search on a replica: the single database's results for 3 principals x 3 questions" $same 9
FIN=$(rag keys add --db "$DEMO" fin --roles finance 2>/dev/null)
OPS=$(rag keys add --db "$DEMO" ops --roles ops,staff --ingest 2>/dev/null)
ROOT=$(rag keys add --db "$DEMO" root --admin 2>/dev/null)
check "keys are made through the cluster" test -n "$FIN" -a -n "$OPS" -a -n "$ROOT"

node() { # NAME: starts ragd on its own replica; sets NAME_URL and NAME_PID
  ragd_start --db "$DEMO" --replica $T/$1.db --embed-model "$EMB" || return 1
  eval "${1}_URL=$RAGD_URL ${1}_PID=$RAGD_PID"; cp $T/ragd.log $T/ragd-$1.log; RAGD_PID=
}
node A || { fail "node A starts"; finish; exit; }
node B || { fail "node B starts"; finish; exit; }
check_not_contains "ragd's log never shows the password" "$(cat $T/ragd-A.log)" "$PG_PASSWORD"
s_on() { # NODE KEY QUERY: the normalised /v1/search results
  local u; eval "u=\$${1}_URL"
  curl -s -H "Authorization: Bearer $2" -d "{\"query\":\"$3\",\"k\":8}" $u/v1/search | norm
}
same=0
for key in "$FIN" "$OPS" "$ROOT"; do
  for q in "spare parts" "invoice payment run" "overtime"; do
    a=$(s_on A $key "$q"); b=$(s_on B $key "$q")
    [ "$a" = "$b" ] && [ "$a" != "[]" ] && same=$((same + 1))
  done
done
check_eq "both nodes give the same results to 3 principals for 3 questions" $same 9
ids_a=$(curl -s -H "Authorization: Bearer $ROOT" -d '{"query":"spare parts","k":3}' $A_URL/v1/search | json_get '$.results[0].document_id')
ids_b=$(curl -s -H "Authorization: Bearer $ROOT" -d '{"query":"spare parts","k":3}' $B_URL/v1/search | json_get '$.results[0].document_id')
check_eq "...with the same document ids" "$ids_a" "$ids_b"
check_not_contains "ops never sees finance documents (node B)" "$(curl -s -H "Authorization: Bearer $OPS" -d '{"query":"invoice payment","k":20}' $B_URL/v1/search)" "/finance/"

# an upload through A: searchable there at once, on B within cluster.max_lag
code=$(curl -s -o $T/up.json -w '%{http_code}' -H "Authorization: Bearer $OPS" \
  -d '{"id":"crane-7","filename":"crane.md","labels":["ops"],"text":"# Crane seven\n\nThe zirconium crane hook is inspected on Mondays."}' $A_URL/v1/documents)
check_eq "an upload through node A: 201" "$code" 201
hits() { # NODE KEY WORD: keyword hits (vector search finds something for any query)
  local u; eval "u=\$${1}_URL"
  curl -s -H "Authorization: Bearer $2" -d "{\"query\":\"$3\",\"mode\":\"keyword\"}" $u/v1/search | json_len '$.results'
}
check_eq "...searchable on A at once" "$(hits A $OPS zirconium)" 1
t0=$(date +%s.%N); seen=0
for i in $(seq 1 100); do [ "$(hits B $OPS zirconium)" = 1 ] && { seen=1; break; }; sleep 0.05; done
lag=$(echo "$(date +%s.%N) - $t0" | bc)
check "...and on B within 2 s ($lag s)" test $seen = 1 -a "$(echo "$lag < 2" | bc)" = 1
check_eq "finance does not see it on B" "$(hits B $FIN zirconium)" 0
# a deletion through B: gone on B at once, on A within the bound
did=$(curl -s -H "Authorization: Bearer $OPS" -d '{"query":"zirconium","mode":"keyword"}' $B_URL/v1/search | json_get '$.results[0].document_id')
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $OPS" $B_URL/v1/documents/$did)
check_eq "a deletion through node B" "$code" 200
check_eq "...gone on B at once" "$(hits B $OPS zirconium)" 0
for i in $(seq 1 100); do [ "$(hits A $OPS zirconium)" = 0 ] && break; sleep 0.05; done
check_eq "...and on A within 2 s" "$(hits A $OPS zirconium)" 0
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPS" \
  -d '{"id":"crane-7","filename":"crane.md","labels":["ops"],"text":"# Crane seven\n\nThe zirconium crane hook is inspected on Mondays."}' $A_URL/v1/documents)
check_eq "...uploaded again" "$code" 201
# a revoked key: refused by both nodes within the bound
check_eq "the ops key works on B" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPS" -d '{"query":"x"}' $B_URL/v1/search)" 200
rag keys rm --db "$DEMO" ops >/dev/null
t0=$(date +%s.%N); gone=0
for i in $(seq 1 100); do
  a=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPS" -d '{"query":"x"}' $A_URL/v1/search)
  b=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPS" -d '{"query":"x"}' $B_URL/v1/search)
  [ "$a$b" = 401401 ] && { gone=1; break; }; sleep 0.05
done
lag=$(echo "$(date +%s.%N) - $t0" | bc)
check "a revoked key is refused by both nodes within 2 s ($lag s)" test $gone = 1 -a "$(echo "$lag < 2" | bc)" = 1
OPS=$(rag keys add --db "$DEMO" ops2 --roles ops,staff --ingest 2>/dev/null)
metrics=$(curl -s -H "Authorization: Bearer $ROOT" $B_URL/metrics)
check_contains "metrics show the replica's lag" "$metrics" "ragd_replica_lag_seconds"
check_not_contains "...and never the password" "$metrics" "$PG_PASSWORD"
health=$(curl -s $A_URL/health)
check_eq "/health: the cluster is reachable" "$(echo "$health" | json_get '$.cluster.reachable')" 1
check_not_contains "...and /health never shows the password" "$health" "$PG_PASSWORD"

# ---- ACL while the queue is being worked on, on both nodes ------------------------
mkdir -p $T/acl
labels=(red blue green)
for i in $(seq 1 60); do
  l=${labels[$((RANDOM % 3))]}
  mkdir -p $T/acl/$l
  printf '# Note %d\n\nThe quarterly walrus figures of note %d for team %s.\n' $i $i $l > $T/acl/$l/n$i.md
done
for l in red blue green; do [ -d $T/acl/$l ] && rag ingest --db "$DEMO" --acl $l $T/acl/$l >/dev/null; done
RED=$(rag keys add --db "$DEMO" red --roles red 2>/dev/null)
RB=$(rag keys add --db "$DEMO" redblue --roles red,blue 2>/dev/null)
bg "$RAG_BIN" worker --db "$DEMO" -q --embed-model "$EMB" --name wa 2>$T/wa.log; wa=$!
bg "$RAG_BIN" worker --db "$DEMO" -q --embed-model "$EMB" --name wb 2>$T/wb.log; wb=$!
leaks=0 asked=0
for i in $(seq 1 40); do
  for n in A B; do
    eval "u=\$${n}_URL"
    r=$(curl -s -H "Authorization: Bearer $RED" -d '{"query":"walrus figures","k":50}' $u/v1/search)
    echo "$r" | grep -q '/acl/blue/\|/acl/green/' && leaks=$((leaks + 1))
    r=$(curl -s -H "Authorization: Bearer $RB" -d '{"query":"walrus figures","k":50}' $u/v1/search)
    echo "$r" | grep -q '/acl/green/' && leaks=$((leaks + 1))
    asked=$((asked + 2))
  done
done
check_eq "while workers ingest: no principal sees another role's document ($asked searches)" $leaks 0

# ---- faults -------------------------------------------------------------------
# PostgreSQL stopped during uploads: 503 while it is down, searches go on,
# everything resumes by itself, and no acknowledged upload is lost
: > $T/acked.txt
uploader() {
  local n=0 code
  while [ ! -f $T/stop-up ] && [ $n -lt 400 ]; do
    n=$((n + 1))
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $OPS" \
      -d "{\"id\":\"up-$n\",\"filename\":\"u.md\",\"labels\":[\"ops\"],\"text\":\"# Upload $n\\n\\nPallet $n is in aisle $((n % 9)).\"}" \
      $A_URL/v1/documents)
    case $code in 201|200) echo "up-$n" >> $T/acked.txt ;; 503) echo 503 >> $T/refused.txt ;; esac
    sleep 0.02
  done
}
uploader & up=$!; BG+=($up)
sleep 1
pg_ctl_do stop || fail "PostgreSQL stops"
sleep 1.5
code=$(curl -s -o $T/down.json -w '%{http_code}' -H "Authorization: Bearer $OPS" \
  -d '{"filename":"d.md","labels":["ops"],"text":"# Down\n\nWritten while the database is down."}' $A_URL/v1/documents)
check_eq "PostgreSQL down: an upload gets 503" "$code" 503
check_contains "...saying why" "$(cat $T/down.json)" "unreachable"
check_eq "...searches go on (node B)" "$(hits B $ROOT zirconium)" 1
check_eq "...on node A too" "$(hits A $ROOT zirconium)" 1
check_eq "/health says the cluster is unreachable" "$(curl -s $B_URL/health | json_get '$.cluster.reachable')" 0
pg_ctl_do start || fail "PostgreSQL starts again"
sleep 2
touch $T/stop-up; wait $up
check "uploads were refused while it was down" test -s $T/refused.txt
n_acked=$(sort -u $T/acked.txt | wc -l)
check "uploads were acknowledged before and after ($n_acked)" test "$n_acked" -gt 5
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPS" \
  -d '{"filename":"back.md","labels":["ops"],"text":"# Back\n\nThe database came back with quokkas."}' $A_URL/v1/documents)
check_eq "after it returns, uploads work again without a restart" "$code" 201
# a worker killed mid-job: its lease runs out, another worker does the job
mkdir -p $T/big
for i in $(seq 1 12000); do echo "Paragraph $i about the narwhal maintenance schedule and the depot's cranes."; echo; done > $T/big/narwhal.md
kill $wa $wb; wait $wa $wb 2>/dev/null
rag ingest --db "$DEMO" --acl ops $T/big >/dev/null
bg "$RAG_BIN" worker --db "$DEMO" --lease 5 --embed-model "$EMB" --name victim 2>$T/victim.log; victim=$!
for i in $(seq 1 200); do [ "$(psql_do -d demo -c "select state from jobs where source like '%/big/narwhal.md'")" = running ] && break; sleep 0.02; done
kill -9 $victim; wait $victim 2>/dev/null
check_eq "a worker killed mid-job leaves its job running" "$(rag jobs --db "$DEMO" --json | json_get '$.running')" 1
bg "$RAG_BIN" worker --db "$DEMO" --lease 5 --embed-model "$EMB" --name rescuer 2>$T/rescuer.log; resc=$!
for i in $(seq 1 200); do [ "$(rag jobs --db "$DEMO" --json | json_get '$.running')" = 0 ] && break; sleep 0.1; done
sleep 0.5; kill $resc 2>/dev/null; wait $resc 2>/dev/null
check_eq "...after its lease, another worker did it: the document once" "$(psql_do -d demo -c "select count(*) from documents where uri like '%/big/narwhal.md'")" 1
check_eq "...its job done, on its second attempt" "$(psql_do -d demo -c "select state, attempts from jobs where source like '%/big/narwhal.md'")" "done|2"
# a node killed mid-replication resumes where its replica stood
n=$(psql_do -d demo -c 'select count(*) from jobs')
rag ingest --db "$DEMO" --acl ops --wait $T/acl/red >/dev/null 2>&1 &
waiter=$!
queued demo $((n + $(ls $T/acl/red | wc -l))) || fail "the relabelling queues its jobs"
bg "$RAG_BIN" worker --db "$DEMO" --once -q --embed-model "$EMB"; wk=$!
sleep 0.3
kill -9 $B_PID; wait $B_PID 2>/dev/null
wait $wk; wait $waiter
node B || fail "node B restarts on its replica"
for i in $(seq 1 100); do [ "$(hits B $ROOT quokkas)" = 1 ] && break; sleep 0.05; done
check_eq "...and catches up" "$(hits B $ROOT quokkas)" 1
# every acknowledged upload is in the cluster and on both nodes, once
missing=0
for id in $(sort -u $T/acked.txt); do
  n=$(psql_do -d demo -c "select count(*) from documents where ext_id = '$id'")
  [ "$n" = 1 ] || missing=$((missing + 1))
done
check_eq "no acknowledged upload lost or duplicated ($n_acked)" $missing 0
kill -TERM $A_PID $B_PID; wait $A_PID $B_PID 2>/dev/null
for n in A B; do
  out=$(rag check --db "$DEMO" --replica $T/$n.db 2>&1)
  check_contains "rag check: node $n's replica is the cluster's" "$out" "consistent"
done
finish
