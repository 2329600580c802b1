#!/usr/bin/env bash
# The settings table (rag/settings.c) and the example config files agree:
# every key a program reads is documented in its file, and the file names no
# key the program does not read. Both programs resolve the same file alike,
# and `rag config` shows where each value came from.
. "$(dirname "$0")/lib.sh"
RAGD_BIN=${RAGD_BIN:-$(dirname "$RAG_BIN")/ragd}
ETC=$(cd "$(dirname "$0")/../../etc" && pwd)

# the keys a config file documents: "key = ..." lines, commented or not,
# under their [section]
documented() {
  awk '/^\[[a-z]+\]/ { s = substr($0, 2, index($0, "]") - 2); next }
       match($0, /^#?[ \t]*[a-z_]+[ \t]*=/) {
         k = substr($0, 1, RLENGTH); gsub(/[#= \t]/, "", k)
         print (s == "" ? k : s "." k) }' "$1" | sort -u
}

for prog in rag ragd; do
  rag config --keys $prog | cut -f1 | sort -u > $T/table.$prog
  documented "$ETC/$prog.conf" > $T/doc.$prog
  missing=$(comm -23 $T/table.$prog $T/doc.$prog | tr '\n' ' ')
  extra=$(comm -13 $T/table.$prog $T/doc.$prog | tr '\n' ' ')
  check_eq "every key $prog reads is documented in etc/$prog.conf" "$missing" ""
  check_eq "etc/$prog.conf documents no key $prog does not read" "$extra" ""
  n=$(wc -l < $T/table.$prog)
  check "$prog reads some settings ($n)" test "$n" -gt 20
done

# the check itself notices an undocumented key
grep -v '^#k = 10' "$ETC/rag.conf" > $T/short.conf
documented $T/short.conf > $T/doc.short
check_eq "a key missing from the file is noticed" "$(comm -23 $T/doc.rag $T/doc.short)" "search.k"

# one file, two programs: the same refusal, with the file and line
printf '[search]\nk = 5000\n' > $T/bad.conf
a=$(rag search --config $T/bad.conf hello 2>&1); ra=$?
b=$("$RAGD_BIN" --config $T/bad.conf 2>&1); rb=$?
check_eq "rag refuses an out-of-range search.k (status 2)" $ra 2
check_eq "ragd refuses it too" $rb 2
check_contains "naming the file and line" "$a" "bad.conf:2: search.k: expected a whole number from 1 to 1000"
check_eq "with the same words" "${a#rag search: }" "${b#ragd: }"

# where each value came from
printf 'db = %s/conf.db\n[search]\nk = 7\n' "$T" > $T/good.conf
out=$(RAG_MODEL_API_KEY=sk-very-secret rag config --config $T/good.conf --db $T/flag.db)
check_contains "a value from the file says so" "$out" "good.conf:3"
check_contains "a flag wins over the file" "$out" "db = $T/flag.db"
check_contains "...and says so" "$out" "# --db"
check_contains "the environment is named" "$out" '$RAG_MODEL_API_KEY'
check_not_contains "an API key is never shown" "$out" "sk-very-secret"
json=$(rag config --json --config $T/good.conf)
check_eq "--json: the value" "$(echo "$json" | json_get '$."search.k".value')" "7"
check_eq "--json: where from" "$(echo "$json" | json_get '$."search.answer_k".from')" "default"
out=$("$RAGD_BIN" --config $T/good.conf --print-config)
check_contains "ragd --print-config shows its own settings" "$out" "server.listen = 127.0.0.1:8080"
check_contains "...and the shared ones from the same file" "$out" "search.k = 7"

# model.threads: read by both programs (rag's models: rag worker --threads,
# the embedding model of ingest and search, rag ask's generator)
printf '[model]\nthreads = 3\n' > $T/threads.conf
check_contains "rag reads model.threads from the file" "$(rag config --config $T/threads.conf)" "model.threads = 3"
out=$(rag worker --threads 0 2>&1); rc=$?
check_eq "rag worker --threads 0: refused (status 2)" $rc 2
check_contains "...naming the flag and the bounds" "$out" "--threads: model.threads: expected a whole number from 1 to 1024"
finish
