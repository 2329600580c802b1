# The network, against servers on 127.0.0.1 (tests/tools/httpfixture):
# rag pull (resume after a dropped connection or an interrupted run, hash
# checks, 404/401, not a GGUF, a full disk, the catalogue), rag models, and
# URL ingestion (retries, timeouts, content types, the private-address guard
# on the first hop and on redirects, crawling with robots.txt and a delay),
# and uploads by URL through ragd.
. "$(dirname "$0")/lib.sh"
need_models
command -v curl >/dev/null || { fail "curl is needed (make test-deps installs it)"; finish; exit; }
FX=$RAG_TOOLS/httpfixture
FX_PID=
# fixture_start ARGS...: serves $T/site; sets FX_URL; its requests go to $T/fx.log
fixture_start() {
  fixture_stop
  : > $T/fx.log; : > $T/fx.err
  "$FX" --root $T/site --port 0 --log $T/fx.log "$@" 2>$T/fx.err &
  FX_PID=$!
  local i
  for i in $(seq 1 100); do
    FX_URL=$(sed -n 's/^httpfixture: listening on \(.*\)$/http:\/\/\1/p' $T/fx.err)
    [ -n "$FX_URL" ] && return 0
    sleep 0.05
  done
  echo "httpfixture did not start:"; cat $T/fx.err; return 1
}
fixture_stop() { [ -n "$FX_PID" ] && kill $FX_PID 2>/dev/null && wait $FX_PID 2>/dev/null; FX_PID=; }
trap fixture_stop EXIT

MODEL=$M/tiny-llama-q8_0.gguf
SUM=$(sha256sum $MODEL | cut -d' ' -f1)
mkdir -p $T/site/Org/Repo/resolve/main $T/site/docs/private
cp $MODEL $T/site/Org/Repo/resolve/main/tiny.gguf
printf '<html><body>Sorry, this model has moved.</body></html>\n' > $T/site/notgguf.gguf
export RAG_MODELS_DIR=$T/models

# ---- rag pull ----
fixture_start --drop-after 300000 --sha256-header X-Linked-Etag
export RAG_HF_ENDPOINT=$FX_URL
out=$(rag pull hf:Org/Repo/tiny.gguf 2>&1); rc=$?
check_eq "pull hf:ORG/REPO/FILE: exit 0" $rc 0
check "pull: the file is complete and identical" cmp -s $MODEL $T/models/tiny.gguf
check_contains "pull: a dropped connection is resumed with a Range request" "$(cat $T/fx.log)" "bytes=300000-"
check_contains "pull: the hash the server states is checked" "$out" "matches the server's"
check "pull: no partial file is left" test ! -e $T/models/tiny.gguf.part
out=$(rag pull hf:Org/Repo/tiny.gguf 2>&1)
check_contains "pull again: already here" "$out" "already here"

# an interrupted run is resumed by the next one
fixture_start --drop-after 200000 --drop-every
out=$(rag pull --as-name resumed.gguf $FX_URL/Org/Repo/resolve/main/tiny.gguf 2>&1); rc=$?
check "a download that keeps dropping fails after a few reconnects (exit $rc)" test $rc -ne 0
part=$(stat -c %s $T/models/resumed.gguf.part 2>/dev/null || echo 0)
check "...keeping the bytes it got ($part) in a .part file" test "$part" -ge 200000
check "...and no file under the final name" test ! -e $T/models/resumed.gguf
fixture_start --sha256-header X-Linked-Etag
out=$(rag pull --json --as-name resumed.gguf $FX_URL/Org/Repo/resolve/main/tiny.gguf 2>&1); rc=$?
check_eq "the next run completes it" $rc 0
check_contains "...asking only for the rest" "$(cat $T/fx.log)" "bytes=$part-"
check_eq "...reporting where it resumed" "$(echo "$out" | json_get '$.resumed_at')" $part
check "...and the file is identical" cmp -s $MODEL $T/models/resumed.gguf

# hashes, statuses, contents
out=$(rag pull --sha256 $(printf '0%.0s' $(seq 64)) --as-name bad.gguf $FX_URL/Org/Repo/resolve/main/tiny.gguf 2>&1); rc=$?
check "a wrong --sha256: fails (exit $rc)" test $rc -ne 0
check_contains "...saying so" "$out" "SHA-256 mismatch"
check "...leaving no file under the final name" test ! -e $T/models/bad.gguf
out=$(rag pull --sha256 $SUM --as-name good.gguf $FX_URL/Org/Repo/resolve/main/tiny.gguf 2>&1)
check_contains "the right --sha256: verified" "$out" "matches --sha256"
fixture_start --status /gone.gguf=404 --status /secret.gguf=401
out=$(rag pull $FX_URL/gone.gguf 2>&1); rc=$?
check_contains "404: a clear error (exit $rc)" "$out" "HTTP 404 Not Found"
out=$(rag pull $FX_URL/secret.gguf 2>&1)
check_contains "401: a clear error" "$out" "HTTP 401 Unauthorized"
out=$(rag pull $FX_URL/notgguf.gguf 2>&1); rc=$?
check_contains "a page that is not a GGUF file: refused (exit $rc)" "$out" "not a GGUF file"
check "...and not kept" test ! -e $T/models/notgguf.gguf -a ! -e $T/models/notgguf.gguf.part
out=$( (ulimit -f 256; rag pull --as-name full.gguf $FX_URL/Org/Repo/resolve/main/tiny.gguf) 2>&1); rc=$?
check "a disk that fills up (file size limit): fails (exit $rc)" test $rc -ne 0
check_contains "...naming the .part file and that it is kept for resuming" "$out" "full.gguf.part"
check "...and the final file does not exist" test ! -e $T/models/full.gguf
out=$(rag pull --as-name full.gguf $FX_URL/Org/Repo/resolve/main/tiny.gguf 2>&1)
check "...then, with room, the same command completes it" cmp -s $MODEL $T/models/full.gguf

# the catalogue
check_contains "the built-in catalogue names a default generator" "$(rag pull --list)" "qwen2.5-0.5b-instruct"
check_contains "...and an embedder" "$(rag pull --list)" "bge-small-en-v1.5"
check_contains "...the default reranker, multilingual" "$(rag pull --list)" "bge-reranker-v2-m3"
check_contains "...and the multilingual embedder" "$(rag pull --list)" "bge-m3 "
printf '# test catalogue\ntiny-test  generator  hf:Org/Repo/tiny.gguf  -- a tiny test model\n' > $T/catalog.conf
export RAG_HF_ENDPOINT=$FX_URL
out=$(RAG_CATALOG=$T/catalog.conf rag pull tiny-test --dir $T/models2 2>&1); rc=$?
check_eq "pull NAME from the catalogue ($out)" $rc 0
check "...downloads its file" cmp -s $MODEL $T/models2/tiny.gguf
out=$(rag pull no-such-model 2>&1); rc=$?
check_contains "an unknown name: says what is accepted (exit $rc)" "$out" "not a catalogue name"

# rag models
out=$(rag models list)
check_contains "models list: names the file" "$out" "tiny.gguf"
check_contains "...its architecture and quantization" "$(echo "$out" | grep '^tiny.gguf')" "llama"
check_contains "...its quantization" "$(rag models list --json | json_sql "select json_extract(value, '\$.quantization') from json_each(J, '\$.models') where json_extract(value, '\$.name') = 'tiny.gguf'")" "Q8_0"
check_contains "models show: architecture and hyperparameters" "$(rag models show tiny)" "architecture  llama"
rag models rm good >/dev/null
check "models rm: removed" test ! -e $T/models/good.gguf
check_contains "models rm of nothing: an error" "$(rag models rm nothing 2>&1)" "no model nothing"

# ---- URL ingestion ----
printf '# Pallet rules\n\nPallets are stacked four high in aisle nine.\n' > $T/site/docs/pallets.md
printf '<html><head><title>Dock hours</title></head><body><p>The dock opens at six.</p><a href="forklift.html">forklift</a> <a href="private/secret.html">secret</a> <a href="http://example.invalid/x">away</a></body></html>\n' > $T/site/docs/index.html
printf '<html><body><p>Forklift batteries charge overnight.</p><a href="deep.html">deeper</a></body></html>\n' > $T/site/docs/forklift.html
printf '<html><body><p>The deep page about zeppelins.</p></body></html>\n' > $T/site/docs/deep.html
printf '<html><body><p>Private salaries.</p></body></html>\n' > $T/site/docs/private/secret.html
printf 'User-agent: *\nDisallow: /docs/private/\n' > $T/site/robots.txt
printf 'PNG' > $T/site/docs/image.bin

fixture_start --type bin=image/png --redirect /to-ten=http://10.0.0.1/x --redirect /to-loop2=http://127.0.0.2:9/x
out=$(rag ingest $FX_URL/docs/pallets.md 2>&1); rc=$?
check_eq "a loopback URL without --allow-private: refused (exit 3)" $rc 3
check_contains "...saying why" "$out" "127.0.0.1 is a private, loopback or link-local address"
check_eq "...before any request was made" "$(grep -c pallets $T/fx.log)" 0
out=$(rag ingest --allow-private --acl ops $FX_URL/docs/pallets.md 2>&1); rc=$?
check_eq "with --allow-private: ingested" $rc 0
check_contains "...the URL is the document's source" "$(rag docs list --json)" "$FX_URL/docs/pallets.md"
check_contains "...and it is searchable" "$(rag search --as ops 'pallets stacked aisle')" "Pallet rules"
check_contains "the same URL again: unchanged" "$(rag ingest --allow-private $FX_URL/docs/pallets.md 2>&1)" "1 unchanged"
out=$(rag ingest --allow-private=127.0.0.1 $FX_URL/to-ten 2>&1)
check_contains "a redirect to 10.0.0.1: refused even with 127.0.0.1 allowed" "$out" "10.0.0.1 is a private"
out=$(rag ingest --allow-private=127.0.0.1 $FX_URL/to-loop2 2>&1)
check_contains "a redirect to another loopback address: refused" "$out" "127.0.0.2 is a private"
out=$(rag ingest --allow-private $FX_URL/docs/image.bin 2>&1); rc=$?
check_contains "a content type that is not a document: skipped (exit $rc)" "$out" "content type 'image/png'"
fixture_start --fail-first 1
out=$(rag ingest --allow-private $FX_URL/docs/forklift.html 2>&1); rc=$?
check_eq "a 500 then a 200: retried and ingested" "$rc $(grep -c 'forklift.html' $T/fx.log)" "0 2"
fixture_start --delay 4
printf '[ingest]\nfetch_timeout = 1\n' > $T/slow.conf
t0=$(date +%s)
out=$(rag ingest --config $T/slow.conf --allow-private $FX_URL/docs/deep.html 2>&1); rc=$?
check_contains "a slow server: timed out (exit $rc)" "$out" "timed out"
check "...after about a second a try (2 tries), not the server's 4 s each ($(($(date +%s) - t0)) s)" test $(($(date +%s) - t0)) -le 5

# crawling
fixture_start
t0=$(date +%s.%N)
out=$(rag ingest --json --allow-private --crawl 1 --crawl-delay 0.3 $FX_URL/docs/index.html 2>&1); rc=$?
dt=$(echo "$(date +%s.%N) - $t0" | bc)
check_eq "crawl --crawl 1: exit 0" $rc 0
uris=$(rag docs list --json | json_sql "select group_concat(json_extract(value, '\$.uri'), ' ') from json_each(J)")
check_contains "crawl: the start page" "$uris" "/docs/index.html"
check_contains "crawl: a same-site link" "$uris" "/docs/forklift.html"
check_not_contains "crawl: not deeper than asked" "$uris" "deep.html"
check_not_contains "crawl: robots.txt is obeyed" "$uris" "secret.html"
check_contains "crawl: robots.txt was read" "$(cat $T/fx.log)" "GET /robots.txt"
check_not_contains "crawl: other sites are not followed" "$(cat $T/fx.log)" "example.invalid"
check "crawl: requests to one site are spaced by the delay (3 requests in $dt s)" test "$(echo "$dt >= 0.6" | bc)" = 1
out=$(rag ingest --allow-private --crawl 2 --crawl-delay 0 $FX_URL/docs/index.html 2>&1)
check_contains "crawl --crawl 2: one step deeper" "$(rag docs list --json)" "deep.html"
check_contains "...and the disallowed page is reported as skipped" "$out" "disallowed by robots.txt"

# ---- uploads by URL through ragd ----
fixture_start --redirect /to-ten=http://10.0.0.1/x
OPS=$(rag keys add ops --roles ops --ingest 2>/dev/null)
FIN=$(rag keys add fin --roles finance --ingest 2>/dev/null)
ADM=$(rag keys add adm --admin 2>/dev/null)
printf '[net]\nallow = 127.0.0.1\n' > $T/ragd.conf
ragd_start --config $T/ragd.conf || { fail "ragd starts"; finish; exit; }
printf '# Crane log\n\nThe crane was serviced by zeppelin engineers.\n' > $T/site/docs/crane.md
out=$(api POST /v1/documents $OPS -d "{\"url\":\"$FX_URL/docs/crane.md\",\"id\":\"crane\"}")
check_eq "POST /v1/documents with a url: 201" "$(status "$out")" 201
check_eq "...the URL is its source" "$(body "$out" | json_get '$.uri')" "$FX_URL/docs/crane.md"
check_contains "...searchable by the key's roles" "$(api POST /v1/search $OPS -d '{"query":"crane serviced zeppelin"}')" "crane.md"
# Another role's key may not learn that ops holds this URL: its upload is
# stored as a document of its own, under the URL with its label scope.
out=$(api POST /v1/documents $FIN -d "{\"url\":\"$FX_URL/docs/crane.md\"}")
check_eq "the same url from a key that cannot see ops' document: 201, as for a free one" "$(status "$out")" 201
check_contains "...stored under the url with its scope" "$(body "$out" | json_get '$.uri')" "$FX_URL/docs/crane.md#rag-scope="
out=$(api POST /v1/documents $FIN -d "{\"url\":\"$FX_URL/docs/crane.md\"}")
check_eq "...the same again finds its own document: unchanged" "$(body "$out" | json_get '$.status')" unchanged
check_eq "...ops' document is untouched" "$(sql "select count(*) from documents where uri = '$FX_URL/docs/crane.md' and ext_id = 'crane'")" 1
# A document the key can see but not replace is refused (that tells it nothing new).
out=$(api POST /v1/documents $ADM -d "{\"url\":\"$FX_URL/docs/index.html\",\"labels\":[\"ops\",\"finance\"]}")
check_eq "an administrator's upload labelled ops and finance: 201" "$(status "$out")" 201
out=$(api POST /v1/documents $OPS -d "{\"url\":\"$FX_URL/docs/index.html\"}")
check_eq "...the same url from ops, who sees it but may not replace it: 409" "$(status "$out")" 409
out=$(api POST /v1/documents $OPS -d "{\"url\":\"$FX_URL/to-ten\"}")
check_eq "a url redirecting to 10.0.0.1: 403" "$(status "$out")" 403
check_contains "...saying why" "$(body "$out" | json_get '$.error.message')" "10.0.0.1 is a private"
out=$(api POST /v1/documents $OPS -d '{"url":"file:///etc/passwd"}')
check_eq "a file: url: 400" "$(status "$out")" 400
ragd_stop
check "the database is sound (rag check)" rag check -q
finish
