#!/usr/bin/env bash
# Model speed at real shapes (issue 7's table), with random weights written
# by tests/tools/mkmodel and quantized by `rag quantize`:
#   Qwen2.5-0.5B  qwen2, embd 896, 24 layers, 14 heads, 2 KV heads, ff 4864, vocab 151936, tied
#   Llama-3.2-1B  llama, embd 2048, 16 layers, 32 heads, 8 KV heads, ff 8192, vocab 128256, tied
#   bge-small     bert, embd 384, 12 layers, 12 heads, ff 1536, vocab 30522
# each in F16, Q8_0 and Q4_K_M (the mix published files hold). For each
# decoder: `rag bench-model` (prefill 512, decode 64 at context 512, four
# streams decoding together as ragd's slots do (tokens/s in all, and as a
# multiple of one stream), first token of a 1,500-token prompt, RSS with a
# 4,096-position context); for the encoder: `rag bench-embed`
# (256 texts x 128 tokens). Every figure comes with its ratio to this
# machine's bound, measured in the same process.
#
#   bench/models.sh [--threads N] [--only NAME]     (files go to build/bench/models/)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rag=$top/build/rag
mkmodel=$top/build/tools/mkmodel
dir=$top/build/bench/models
threads=2 only=
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: bench/models.sh [--threads N] [--only NAME]" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"

make_model() { # NAME MKMODEL-ARGS...: NAME-f16.gguf, NAME-q8_0.gguf, NAME-q4_k_m.gguf
  local name=$1; shift
  [ -f "$dir/$name-f16.gguf" ] || "$mkmodel" "$dir/$name-f16.gguf" "$@" --type f16 >/dev/null
  [ -f "$dir/$name-q8_0.gguf" ] || "$rag" quantize "$dir/$name-f16.gguf" "$dir/$name-q8_0.gguf" q8_0 >/dev/null
  [ -f "$dir/$name-q4_k_m.gguf" ] || "$rag" quantize "$dir/$name-f16.gguf" "$dir/$name-q4_k_m.gguf" q4_K_M >/dev/null
}

echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} in the caller's environment; both unset here (the sgemm bound depends on them)"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
header() { printf '%-26s %12s %7s %12s %7s %11s %6s %9s %12s %7s %8s\n' model "prefill t/s" ratio "decode t/s" ratio "4 streams" "x one" "TTFT ms" "embed t/s" ratio "RSS MB"; }
for q in f16 q8_0 q4_k_m; do
  for m in qwen2.5-0.5b llama-3.2-1b; do
    [ -z "$only" ] || [ "$only" = $m ] || continue
    case $m in
      qwen2.5-0.5b) make_model $m --arch qwen2 --embd 896 --layers 24 --heads 14 --kv-heads 2 --ff 4864 --vocab 151936 --ctx 4096 --tied ;;
      llama-3.2-1b) make_model $m --arch llama --embd 2048 --layers 16 --heads 32 --kv-heads 8 --ff 8192 --vocab 128256 --ctx 4096 --tied ;;
    esac
    j=$("$rag" bench-model -m "$dir/$m-$q.gguf" -p 512 -n 64 -c 4096 --streams 4 -t "$threads" --json)
    get() { echo "$j" | sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\([-0-9.e+]*\),*$/\1/p"; }
    [ -n "${machine:-}" ] || { machine=1; printf 'machine (measured by bench-model): read %.1f GB/s, cblas_sgemm %.0f GFLOP/s, 8-bit multiply-adds %.0f G/s (prompt path %s), %s threads\n' \
      "$(echo "$(get read_bandwidth_bytes_per_s) / 1000000000" | bc -l)" "$(echo "$(get sgemm_flops_per_s) / 1000000000" | bc -l)" \
      "$(echo "$(get int8_macs_per_s) / 1000000000" | bc -l)" "$(echo "$j" | sed -n 's/^[[:space:]]*"prefill_path":[[:space:]]*"\([^"]*\)".*/\1/p')" "$threads"; header; }
    printf '%-26s %12.1f %7.2f %12.1f %7.2f %11.1f %6.2f %9.0f %12s %7s %8.0f\n' "$m $q" "$(get prefill_tokens_per_s)" \
      "$(get prefill_ratio)" "$(get decode_tokens_per_s)" "$(get decode_ratio)" \
      "$(get streams_decode_tokens_per_s)" "$(get streams_speedup)" "$(get ttft_ms)" - - \
      "$(echo "$(get rss_bytes) / 1000000" | bc -l)"
  done
  [ -z "$only" ] || [ "$only" = bge-small ] || continue
  make_model bge-small --arch bert --embd 384 --layers 12 --heads 12 --ff 1536 --vocab 30522 --ctx 512
  j=$("$rag" bench-embed -m "$dir/bge-small-$q.gguf" --texts 256 --tokens 128 -t "$threads" --json)
  get() { echo "$j" | sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\([-0-9.e+]*\),*$/\1/p"; }
  printf '%-26s %12s %7s %12s %7s %11s %6s %9s %12.0f %7.2f %8.0f\n' "bge-small $q" - - - - - - - "$(get embed_tokens_per_s)" \
    "$(get embed_ratio)" "$(echo "$(get rss_bytes) / 1000000" | bc -l)"
done
echo "bounds: decode = read bandwidth / weight bytes per token; prefill and embeddings = the quantized matrices'"
echo "  multiply-adds at the 8-bit peak plus the rest (attention, F16 matrices) at the sgemm peak"
echo "4 streams: four sequences decoding 64 tokens each in the same steps (continuous batching), tokens/s in all"
echo "(both measured by each command in its own process; see 'rag bench-model --json' for the figures)"
