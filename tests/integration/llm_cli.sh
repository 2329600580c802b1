# The model commands end to end on the shared test models: tokenize (also
# from standard input, byte-exact), logits against llama.cpp's reference,
# generate (greedy is reproducible; seeds; stop strings; the token limit;
# the context limit), model-info, and quantize (a model we quantize
# ourselves still computes nearly the same logits).
. "$(dirname "$0")/lib.sh"
need_models
spm=$M/spm-llama-f32.gguf

check_eq "tokenize" "$(rag tokenize -m $spm 'Hello world')" "15043 3186"
check_eq "tokenize --special adds BOS" "$(rag tokenize -m $spm --special 'Hello world')" "1 15043 3186"
check_eq "tokenize reads stdin byte-exact" "$(printf 'Hello world\n' | rag tokenize -m $spm)" \
  "$(rag tokenize -m $spm $'Hello world\n')"
check "the trailing newline counts" test "$(printf 'Hello world\n' | rag tokenize -m $spm)" != "15043 3186"
check "control-token text is plain text" test "$(rag tokenize -m $spm '</s>')" != "2"

# logits of the reference case, compared with sqlite's math in a tiny C-free way:
# the golden test checks all cases; here only that the file has the right size
toks="1 330 60 15 382 143 128 117 74 380"
rag logits -m $M/tiny-llama-f32.gguf --tokens "$toks" -o $T/l.bin
check_eq "logits file: 10 rows of 512 float32" "$(stat -c %s $T/l.bin)" $((10 * 512 * 4))
out=$(rag logits -m $M/tiny-llama-f32.gguf --tokens "1 99999" -o $T/x.bin 2>&1); rc=$?
check_eq "out-of-vocabulary token refused" $rc 1
check_contains "and named" "$out" "token 99999"

p="Refunds for international orders are issued within 14 days."
a=$(rag generate -m $spm -p "$p" -n 12 --temp 0 2>/dev/null)
b=$(rag generate -m $spm -p "$p" -n 12 --temp 0 2>/dev/null)
check "greedy output is not empty" test -n "$a"
check_eq "greedy is reproducible" "$a" "$b"
check_contains "greedy starts like llama.cpp's reference" "$a" "been inteleau"
s1=$(rag generate -m $spm -p "$p" -n 12 --seed 1 2>/dev/null)
s1b=$(rag generate -m $spm -p "$p" -n 12 --seed 1 2>/dev/null)
s2=$(rag generate -m $spm -p "$p" -n 12 --seed 2 2>/dev/null)
check_eq "same seed, same text" "$s1" "$s1b"
check "another seed, another text" test "$s1" != "$s2"
stop=$(echo "$a" | awk '{print $2}')
c=$(rag generate -m $spm -p "$p" -n 12 --temp 0 --stop "$stop" 2>$T/err)
check_eq "a stop string ends the text before it" "$c" "${a%%"$stop"*}"
check_contains "and the reason is reported" "$(cat $T/err)" "stop: stop"
rag generate -m $spm -p "$p" -n 5 --temp 0 >/dev/null 2>$T/err
check_contains "the token limit" "$(cat $T/err)" "generation: 5 tokens"
check_contains "speeds reported" "$(cat $T/err)" "tokens/s"
out=$(rag generate -m $spm -p "$p" -n 50 --ctx 20 --temp 0 2>$T/err); rc=$?
check_eq "the end of the context stops generation cleanly" $rc 0
check_contains "with the reason" "$(cat $T/err)" "stop: context"
out=$(rag generate -m $spm -p "$(printf 'word %.0s' $(seq 1 60))" -n 5 --ctx 32 2>&1); rc=$?
check_eq "a prompt longer than the context is refused" $rc 1
check_contains "with a clear message" "$out" "context would overflow"
out=$(rag generate -m $M/bpe-qwen2-f32.gguf --chat --show-prompt -p "Hi" -n 3 --temp 0 2>&1)
check_contains "chat without a template falls back to ChatML, with a warning" "$out" "using ChatML"
check_contains "--show-prompt prints the rendered prompt" "$out" "<|im_start|>user"
out=$(rag generate -m $M/bpe-qwen2-f32.gguf --chat --template llama3 --show-prompt -p "Hi" -n 2 2>&1)
check_contains "--template chooses the family" "$out" "<|start_header_id|>user"
mkdir -p $XDG_CONFIG_HOME/rag; printf '[model]\nchat_template = gemma\n' > $XDG_CONFIG_HOME/rag/rag.conf
out=$(rag generate -m $M/bpe-qwen2-f32.gguf --chat --show-prompt -p "Hi" -n 2 2>&1)
check_contains "model.chat_template in the config chooses it too" "$out" "<start_of_turn>user"
rm $XDG_CONFIG_HOME/rag/rag.conf

out=$(rag model-info -m $M/tiny-qwen2-q8_0.gguf --json)
check_eq "model-info: architecture" "$(echo "$out" | json_get '$.architecture')" qwen2
check_eq "model-info: layers" "$(echo "$out" | json_get '$.hparams.n_layer')" 2
check_eq "model-info: q8_0 tensors" "$(echo "$out" | json_get '$.tensor_types.q8_0')" 15
check_eq "model-info: tied output" "$(echo "$out" | json_get '$.hparams.tied_output')" 1
out=$(rag model-info -m $M/bert-mean-f32.gguf --json)
check_eq "model-info: an encoder is an embedding model" "$(echo "$out" | json_get '$.role')" embedding
check_eq "model-info: its pooling" "$(echo "$out" | json_get '$.pooling')" mean
check_eq "model-info: wordpiece vocabulary" "$(echo "$out" | json_get '$.vocab_type')" wordpiece

# quantize: our file computes what llama.cpp's file of that type computes
# (the golden test compares the tensors byte for byte)
rag quantize $M/tiny-llama-f32.gguf $T/q.gguf q4_0 >/dev/null
check_contains "quantize q4_0: output kept at q6_K as llama.cpp does" \
  "$(rag model-info -m $T/q.gguf)" "q4_0 x15 (0.9 MB) q6_K x1"
ref_toks=$(sqlite3 :memory: "select group_concat(value, ' ') from json_each(json_extract(readfile('$RAG_TESTDATA/manifest.json'), '\$.logits[4].tokens'))")
rag logits -m $T/q.gguf --tokens "$ref_toks" -o $T/q.bin
cos=$("$RAG_TOOLS/cosine" $T/q.bin $RAG_TESTDATA/reference/tiny-llama-q4_0.logits.bin 512)
check "quantize q4_0: logits match llama.cpp's q4_0 model (cosine $cos >= 0.995)" awk "BEGIN { exit !($cos >= 0.995) }"
out=$(rag quantize $M/tiny-llama-f32.gguf $T/z.gguf iq2_xxs 2>&1); rc=$?
check_eq "an unwritable type is refused" $rc 2
out=$(rag model-info -m $RAG_TESTDATA/manifest.json 2>&1); rc=$?
check_eq "a file that is not GGUF is refused" $rc 1
check_contains "with the reason" "$out" "not a GGUF file"

# the Q4_K_M mix: q4_K, with q6_K for the output and for attn_v/ffn_down of the layers given more bits
rag quantize $M/tiny-llama-f32.gguf $T/mix.gguf q4_K_M >/dev/null
info=$(rag model-info -m $T/mix.gguf --json)
check "q4_K_M: a mix of q4_K and q6_K" test -n "$(echo "$info" | json_get '$.tensor_types.q4_K')" -a -n "$(echo "$info" | json_get '$.tensor_types.q6_K')"
check_contains "q4_K_M: named so in the file (rag models)" "$(rag models list --dir $T --json)" '"quantization":	"Q4_K_M"'
out=$(rag generate -m $T/mix.gguf -p "Hello" -n 4 --temp 0 2>&1); rc=$?
check_eq "q4_K_M: the model runs" $rc 0

# rag bench-model / bench-embed: the figures and their bounds, as JSON (no timing is judged here)
b=$(rag bench-model -m $M/tiny-llama-q8_0.gguf -p 32 -n 8 --ttft 40 -t 2 --json)
check "bench-model: prefill, decode and their bounds" test "$(echo "$b" | json_sql "select json_extract(J, '\$.prefill_tokens_per_s') > 0 and json_extract(J, '\$.decode_bound_tokens_per_s') > 0 and json_extract(J, '\$.read_bandwidth_bytes_per_s') > 0 and json_extract(J, '\$.sgemm_flops_per_s') > 0")" = 1
check_eq "bench-model: the first-token prompt" "$(echo "$b" | json_get '$.ttft_prompt_tokens')" 40
e=$(rag bench-embed -m $M/bert-mean-f32.gguf --texts 16 --tokens 32 -t 2 --json)
check "bench-embed: tokens/s and its bound" test "$(echo "$e" | json_sql "select json_extract(J, '\$.embed_tokens_per_s') > 0 and json_extract(J, '\$.embed_bound_tokens_per_s') > 0")" = 1
check "bench-embed: texts of at least the tokens asked" test "$(echo "$e" | json_get '$.tokens_per_text')" -ge 32
finish
