# ragd with real clients: the `openai` npm package (unchanged, Node.js) for a
# streamed and a plain chat, embeddings and the model list; and Debian's
# headless Chromium driving the chat page at / (puppeteer-core): a streamed
# answer appears, an answer's citations open their source, and its thumbs
# and comment box rate it (POST /v1/feedback).
#
# The test generator has random weights, so what it writes cites nothing
# (untied output weights: with tied ones, greedy decoding of a random model
# repeats the prompt's last token, a newline, and the answer looks empty;
# this seed never writes an end token, so an answer runs to the default 512
# tokens, long enough to be seen arriving);
# the page's citation handling is checked on ragd's extractive answers
# (no generator), which cite, and its streaming on the generator's.
. "$(dirname "$0")/lib.sh"
M=$RAG_TESTDATA/models
JS=$(cd "$(dirname "$0")/../js" && pwd)
missing=
[ -d "$M" ] || missing="the test models ($M)"
command -v node >/dev/null || missing="${missing:+$missing, }node"
[ -d "$JS/node_modules/openai" ] && [ -d "$JS/node_modules/puppeteer-core" ] || missing="${missing:+$missing, }tests/js/node_modules"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="${missing:+$missing, }chromium"
if [ -n "$missing" ]; then
  if [ "${CI:-}" = true ]; then fail "missing under CI: $missing (make test-deps installs them)"; finish; exit; fi
  echo "######################################################################"
  echo "# SKIP: ragd client tests need $missing (make test-deps)"
  echo "######################################################################"
  finish; exit
fi
EMB=$M/bert-mean-f32.gguf
GEN=$T/gen.gguf
"$RAG_TOOLS/mkmodel" "$GEN" --arch llama --embd 256 --layers 4 --heads 4 --kv-heads 2 --ff 512 \
  --vocab 1000 --ctx 4096 --type f32 --untied --seed 2 >/dev/null || { fail "mkmodel"; finish; exit; }

mkdir -p $T/docs
printf '# Refunds\n\nRefunds are paid back within 14 days of the returned parcel arriving.\n' > $T/docs/refunds.md
printf '# Shipping\n\nParcels ship from the Leeds warehouse on weekdays.\n' > $T/docs/shipping.md
rag ingest -q --acl support --embed-model "$EMB" $T/docs >/dev/null
KEY=$(rag keys add support --roles support)

# node's output: one JSON line; its failure reason on stderr
node_check() { # DESC SCRIPT ARGS...
  local d=$1 out rc; shift
  out=$(node "$JS/$1" "${@:2}" 2>$T/node.err); rc=$?
  if [ $rc -eq 0 ]; then ok "$d: $out"; else fail "$d (exit $rc): $out"; sed 's/^/      /' $T/node.err | head -n 20; fi
}

# one compute thread: the page must be seen mid-answer, and a generator on
# both cores could starve Chromium until the whole answer had arrived (one
# read, no partial text: seen once in CI)
ragd_start --model "$GEN" --embed-model "$EMB" --threads 1 || { fail "ragd starts"; finish; exit; }
node_check "the openai package: streamed and plain chat, embeddings, models" \
  openai_client.mjs --base-url "$RAGD_URL/v1" --key "$KEY" --embeddings --question "How long do refunds take?"
node_check "Chromium: the page streams the generator's answer, and rates it" \
  browser_chat.mjs --url "$RAGD_URL" --key "$KEY" --question "How long do refunds take?" --skip citations \
  --comment "streamed and rated"
ragd_stop

ragd_start --embed-model "$EMB" || { fail "ragd starts without a generator"; finish; exit; }
node_check "Chromium: an answer's citations open their source snippet and document" \
  browser_chat.mjs --url "$RAGD_URL" --key "$KEY" --question "How long do refunds take?" --skip streaming \
  --expect-text "14 days" --comment "extractive and rated" --follow-up "and for parcels from Leeds?"
node_check "the openai package, extractive answers" \
  openai_client.mjs --base-url "$RAGD_URL/v1" --key "$KEY" --question "How long do refunds take?"
ragd_stop
fb=$(rag feedback list --json --key support --rating up)
check_eq "the page's thumbs-up reached the database, with its comment, for both answers" \
  "$(echo "$fb" | json_sql "select group_concat(json_extract(value, '\$.comment'), ', ') from (select value from json_each(J, '\$.feedback') order by json_extract(value, '\$.comment'))")" \
  "extractive and rated, streamed and rated"
finish
