# User text is words, never FTS5 query syntax: nothing a user types makes a
# search fail or match differently than its words.
. "$(dirname "$0")/lib.sh"
mkdir -p $T/c
printf 'Alpha\n\nalpha near beta. Gamma and delta OR epsilon NOT zeta.\n' > $T/c/a.txt
printf 'Other\n\nunrelated omega text.\n' > $T/c/b.txt
rag ingest $T/c >/dev/null
for q in '"alpha' 'alpha"' '(alpha' 'alpha)' 'NEAR(alpha beta, 2)' 'alpha NOT beta' '-alpha' \
         'alpha*' '*' '""' 'text:alpha' '{text heading_path}: alpha' 'alpha OR' 'AND' '^alpha' \
         'alpha + beta' "'; DROP TABLE chunks; --" '\' 'alpha:' 'heading_path:omega' \
         "$(printf 'alpha\001\377')" ')))(((' 'a"b"c' 'NOT' 'rank:1' ; do
  out=$(rag search --json -- "$q" 2>&1); rc=$?
  if [ $rc -ne 0 ]; then fail "query <$q> failed: $out"; else ok "query <$q> runs"; fi
done
check_contains "NOT is a word, not an operator" "$(rag search 'NOT zeta')" "Alpha"
check_contains "quotes do not make a phrase" "$(rag search '"alpha zeta"')" "Alpha"
check_contains "a minus does not exclude" "$(rag search --json -- 'omega -alpha' | json_len '$.results')" 2
check_contains "column filters are words" "$(rag search 'heading_path:omega' --json | json_len '$.results')" 1
check_contains "star alone matches nothing" "$(rag search '*')" "No results"
check_eq "database intact" "$(sql 'select count(*) from chunks')" 2
check_contains "database consistent" "$(rag check)" "ok:"
finish
