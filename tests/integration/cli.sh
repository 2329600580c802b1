# The command line: database location, config file, usage errors, exit codes.
. "$(dirname "$0")/lib.sh"
mkdir -p $T/c; printf 'Hello\n\nHello world from the CLI test.\n' > $T/c/h.txt

# Default location follows XDG: $XDG_DATA_HOME/rag/rag.db
( unset RAG_DB; export XDG_DATA_HOME=$T/xdg; rag ingest -q $T/c >/dev/null )
check "XDG_DATA_HOME/rag/rag.db created" test -f $T/xdg/rag/rag.db
( unset RAG_DB XDG_DATA_HOME; export HOME=$T/home; rag ingest -q $T/c >/dev/null )
check "~/.local/share/rag/rag.db by default" test -f $T/home/.local/share/rag/rag.db
rag ingest -q --db $T/flag.db $T/c >/dev/null
check "--db wins over RAG_DB" test -f $T/flag.db
check "RAG_DB not written when --db given" test ! -f "$RAG_DB"
RAG_DB=$T/env.db rag ingest -q $T/c >/dev/null
check "RAG_DB used" test -f $T/env.db

mkdir -p $XDG_CONFIG_HOME/rag
printf 'db = %s\n[acl]\ndefault_labels = staff\n' $T/conf.db > $XDG_CONFIG_HOME/rag/rag.conf
( unset RAG_DB; rag ingest -q $T/c >/dev/null )
check "config file names the database" test -f $T/conf.db
out=$(unset RAG_DB; rag search --as staff hello)
check_contains "acl.default_labels applies to new documents" "$out" "Hello"
printf 'bogus = 1\n' > $XDG_CONFIG_HOME/rag/rag.conf
out=$(rag search hello 2>&1); rc=$?
check_eq "unknown config key is a usage error" $rc 2
check_contains "and names file and line" "$out" "rag.conf:1: unknown setting 'bogus'"
rm $XDG_CONFIG_HOME/rag/rag.conf

mkdir -p $T/g/keep $T/g/node_modules
printf 'Alpha doc\n\nmarkdown words\n' > $T/g/keep/a.md
printf 'Beta doc\n\ntext words\n' > $T/g/keep/b.txt
printf 'Gamma doc\n\nvendored words\n' > $T/g/node_modules/c.md
out=$(rag ingest --db $T/glob.db --include '*.md' --exclude node_modules $T/g)
check_contains "--include/--exclude select files" "$out" "1 added"
check_contains "the included file is there" "$(rag search --db $T/glob.db words)" "Alpha doc"

out=$(rag 2>&1); rc=$?; check_eq "no command: usage, status 2" $rc 2
out=$(rag frobnicate 2>&1); rc=$?; check_eq "unknown command: status 2" $rc 2
check_contains "unknown command named" "$out" "unknown command 'frobnicate'"
out=$(rag search 2>&1); rc=$?; check_eq "search without query: status 2" $rc 2
out=$(rag search -k 0 x 2>&1); rc=$?; check_eq "bad -k: status 2" $rc 2
out=$(rag ingest --acl 'bad label' $T/c 2>&1); rc=$?
check_contains "bad label named" "$out" "'bad label'"
out=$(rag ingest --chunk-tokens 100 --overlap-tokens 200 $T/c 2>&1); rc=$?
check_eq "overlap >= chunk refused" $rc 2
out=$(rag search --help); rc=$?; check_eq "--help exits 0" $rc 0
check_contains "--help describes the command" "$out" "usage: rag search"
check_contains "--version" "$(rag --version)" "rag "
out=$(rag docs show 999 2>&1); rc=$?; check_eq "missing document: status 1" $rc 1
out=$(rag ingest $T/does-not-exist 2>&1); rc=$?
check_eq "missing path: status 3 (partial)" $rc 3
check_contains "missing path reported" "$out" "does-not-exist"
out=$(rag --db /proc/nonexistent/x.db stats 2>&1); rc=$?
check_eq "unusable database path: status 1" $rc 1

# etc/rag.conf: every documented key, uncommented, is a key rag accepts
awk -v db="$T/conf-all.db" '/^#[a-z_]+ = / { line = substr($0, 2); if (line ~ /^db = /) line = "db = " db; print line; next } { print }' \
  "$(dirname "$0")/../../etc/rag.conf" > $T/all.conf
check "etc/rag.conf documents keys ($(grep -c '^[a-z_]* = ' $T/all.conf))" test "$(grep -c '^[a-z_]* = ' $T/all.conf)" -ge 25
out=$(rag --config $T/all.conf stats 2>&1); rc=$?
check_eq "etc/rag.conf, every key uncommented: accepted ($out)" $rc 0
finish
