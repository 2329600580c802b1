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

# options anywhere: after a subcommand's arguments too
rag ingest -q --db $T/opts.db $T/c >/dev/null
out=$(rag docs show 1 --db $T/opts.db 2>&1); rc=$?
check_eq "docs show ID --db X: status 0 ($out)" $rc 0
check_contains "docs show ID --db X shows it" "$out" "document 1"
out=$(rag docs show --db $T/opts.db 1 --json 2>&1); rc=$?
check_eq "docs show --db X ID --json: status 0" $rc 0
check_eq "and the --json after the id applies" "$(echo "$out" | json_get '$.id')" 1
out=$(rag docs list --json --db $T/opts.db 2>&1); rc=$?
check_eq "docs list --json --db X" "$rc $(echo "$out" | json_len '$')" "0 1"
out=$(rag docs rm 1 --db $T/opts.db -q 2>&1); rc=$?
check_eq "docs rm ID --db X -q: status 0, quiet ($out)" "$rc $out" "0 "
out=$(rag keys list --db $T/opts.db --json 2>&1); rc=$?
check_eq "keys list --db X --json" "$rc $(echo "$out" | json_len '$.keys')" "0 0"
out=$(rag keys add k1 --db $T/opts.db --roles staff 2>/dev/null); rc=$?
check_eq "keys add NAME --db X --roles R" "$rc ${out:0:4}" "0 rag-"
out=$(rag index check --db $T/opts.db 2>&1); rc=$?
check_eq "index check --db X" $rc 0
out=$(rag check --db $T/opts.db --json 2>&1); rc=$?
check_eq "check --db X --json" "$rc $(echo "$out" | json_get '$.ok')" "0 1"

# file names and titles with terminal escape codes are shown escaped
mkdir -p $T/esc
esc=$(printf 'evil\033]0;pwned\007\033[31mred\302\233x.txt')
printf 'Escape \033[2J title\n\nSecret zebra words here.\n' > "$T/esc/$esc"
rag ingest -q --db $T/esc.db $T/esc >/dev/null
for cmd in "search zebra" "docs list" "docs show 1"; do
  out=$(rag $cmd --db $T/esc.db)
  check "rag $cmd: no raw control character in the output" \
    test "$(printf '%s' "$out" | tr -d '\n' | LC_ALL=C grep -c '[[:cntrl:]]')" = 0
  check "rag $cmd: no C1 control (CSI) either" test "$(printf '%s' "$out" | LC_ALL=C grep -c $'\302\233')" = 0
  check_contains "rag $cmd: the name shown escaped" "$out" 'evil\x1b]0;pwned\x07\x1b[31mred\xc2\x9bx.txt'
done
out=$(rag search zebra --json --db $T/esc.db)
check_eq "--json keeps the name as it is (JSON-escaped)" "$(echo "$out" | json_get '$.results[0].uri')" "$T/esc/$esc"

# a new database and its WAL are the owner's alone (0600), whatever the umask
( umask 022; rag ingest -q --db $T/perm/p.db $T/c >/dev/null )
check_eq "a new database file: 0600" "$(stat -c %a $T/perm/p.db)" 600
ragd_start --db $T/perm/p.db || fail "ragd starts on the database"
for _ in $(seq 1 100); do [ -f $T/perm/p.db-shm ] && break; sleep 0.05; done
check_eq "its -wal while in use: 0600" "$(stat -c %a $T/perm/p.db-wal 2>&1)" 600
check_eq "its -shm while in use: 0600" "$(stat -c %a $T/perm/p.db-shm 2>&1)" 600
ragd_stop

# uploaded files no document refers to (a daemon killed during an upload)
up=$T/up.db.uploads
mkdir -p $up/by-id/kept $up/0123456789abcdef $up/fedcba9876543210
printf 'Kept upload\n\nstored words\n' > $up/by-id/kept/kept.txt
rag ingest -q --db $T/up.db $up/by-id/kept/kept.txt >/dev/null
printf 'lost\n' > $up/0123456789abcdef/lost.txt
printf 'half\n' > $up/by-id/kept/kept.txt.tmp.4242
printf 'young\n' > $up/fedcba9876543210/young.txt
touch -d '1 hour ago' $up/0123456789abcdef/lost.txt $up/by-id/kept/kept.txt.tmp.4242 $up/by-id/kept/kept.txt
out=$(rag check --db $T/up.db); rc=$?
check_eq "check: orphan uploads are a problem (status 1)" $rc 1
check_contains "check names an orphan upload" "$out" "0123456789abcdef/lost.txt: an uploaded file no document refers to"
check_contains "and a half-written one" "$out" "kept.txt.tmp.4242"
check_not_contains "not the stored document's file" "$out" "kept/kept.txt:"
check_not_contains "not a file younger than 10 minutes (an upload in progress)" "$out" "young.txt"
out=$(rag check --db $T/up.db --repair); rc=$?
check_eq "check --repair: status 0 ($out)" $rc 0
check_contains "--repair says what it removed" "$out" "removed 2 uploaded file(s)"
check "--repair removed the orphan and its empty folder" test ! -e $up/0123456789abcdef
check "--repair removed the half-written file" test ! -e $up/by-id/kept/kept.txt.tmp.4242
check "--repair kept the document's file" test -f $up/by-id/kept/kept.txt
check "--repair kept the young file" test -f $up/fedcba9876543210/young.txt
mv $up $T/moved.uploads; touch -d '1 hour ago' $T/moved.uploads/fedcba9876543210/young.txt
out=$(rag check --db $T/up.db --uploads $T/moved.uploads); rc=$?
check_eq "check --uploads DIR: another folder" "$rc" 1
check_contains "check --uploads DIR names its orphans" "$out" "young.txt"

# etc/rag.conf: every documented key, uncommented, is a key rag accepts
awk -v db="$T/conf-all.db" '/^#[a-z_]+ = / { line = substr($0, 2); if (line ~ /^db = /) line = "db = " db; print line; next } { print }' \
  "$(dirname "$0")/../../etc/rag.conf" > $T/all.conf
check "etc/rag.conf documents keys ($(grep -c '^[a-z_]* = ' $T/all.conf))" test "$(grep -c '^[a-z_]* = ' $T/all.conf)" -ge 25
out=$(rag --config $T/all.conf stats 2>&1); rc=$?
check_eq "etc/rag.conf, every key uncommented: accepted ($out)" $rc 0
finish
