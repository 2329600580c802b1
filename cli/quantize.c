/* cli/quantize.c: `rag quantize`: a copy of a model with its weights in
 * another type, or in the Q4_K_M mix. */
#include "base/mem.h"
#include "cli/cli.h"
#include "llm/llm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char quantize_usage[] =
    "usage: rag quantize IN.gguf OUT.gguf TYPE\n"
    "\n"
    "Writes a copy of a model with its weight matrices in TYPE (q8_0, q4_0,\n"
    "q4_K, q6_K, f16, bf16, f32, and the others the kernels can write), or in\n"
    "the mix files published as Q4_K_M hold (TYPE q4_K_M: q4_K, with q6_K for\n"
    "the output matrix and for the attention values and FFN down matrices of\n"
    "the layers llama.cpp gives more bits: the first and last eighth, and every\n"
    "third between). As\n"
    "llama.cpp does, the output matrix (output.weight) is written as q6_K when\n"
    "TYPE is smaller, because it matters most for quality. One-dimensional\n"
    "tensors (norms, biases) stay in their type. Rows that are not a multiple\n"
    "of 256 cannot hold k-quants: like llama.cpp, q4_K falls back to q5_0,\n"
    "q5_K to q5_1, q6_K to q8_0 (and q2_K, q3_K to q4_0, where llama.cpp uses\n"
    "iq4_nl); rows that fit no block stay as they are. The metadata is copied.\n";

/* llama.cpp's choice of layers that get more bits in a mixed quantization:
 * the first and last eighth, and every third layer between. */
static int more_bits(int layer, int n_layers)
{
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

/* The type of one tensor in a Q4_K_M file (before the fallback for rows
 * that are not a multiple of 256). */
static int q4_k_m_type(const char *name, int has_output, int n_layers)
{
    if (!strcmp(name, "output.weight") || (!has_output && !strcmp(name, "token_embd.weight")))
        return LLM_Q6_K;
    int layer = -1;
    if (!strncmp(name, "blk.", 4)) layer = atoi(name + 4);
    if (layer >= 0 && (strstr(name, ".attn_v.") || strstr(name, ".ffn_down.")))
        return more_bits(layer, n_layers) ? LLM_Q6_K : LLM_Q4_K;
    return LLM_Q4_K;
}

/* The type llama.cpp uses for a k-quant on rows that are not a multiple of 256. */
static int kquant_fallback(int t)
{
    switch (t) {
    case LLM_Q2_K:
    case LLM_Q3_K:
        return LLM_Q4_0;
    case LLM_Q4_K:
        return LLM_Q5_0;
    case LLM_Q5_K:
        return LLM_Q5_1;
    case LLM_Q6_K:
        return LLM_Q8_0;
    default:
        return t;
    }
}

int cli_quantize(int argc, char **argv)
{
    cli_ctx cli = {.cmd = "quantize"};
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(quantize_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (argc != 4) return cli_usage_error(&cli, "expected IN OUT TYPE");
    int mix = !strcasecmp(argv[3], "q4_k_m");
    int type = mix ? LLM_Q4_K : llm_dtype_from_name(argv[3]);
    const llm_dtype_info *ti = type >= 0 ? llm_dtype_get(type) : NULL;
    if (!ti || !ti->can_quantize)
        return cli_usage_error(&cli, "'%s' is not a type rag can write", argv[3]);
    rag_err err = {0};
    llm_gguf *g;
    if (llm_gguf_open(argv[1], &g, &err)) return cli_fail(&cli, &err);
    llm_gguf_writer *w = llm_gguf_writer_new();
    for (size_t i = 0; i < llm_gguf_n_kv(g); i++)
        llm_gguf_copy_kv(w, g, i);
    llm_gguf_set_u32(w, "general.quantization_version", 2);
    /* llama.cpp's general.file_type, which names the file's type for people
     * (MOSTLY_Q4_K_M = 15); only where one value means this type */
    static const struct {
        int type;
        uint32_t file_type;
    } file_types[] = {{LLM_F32, 0},  {LLM_F16, 1},  {LLM_Q4_0, 2},  {LLM_Q4_1, 3}, {LLM_Q8_0, 7},
                      {LLM_Q5_0, 8}, {LLM_Q5_1, 9}, {LLM_Q6_K, 18}, {LLM_BF16, 32}};
    if (mix) llm_gguf_set_u32(w, "general.file_type", 15);
    for (size_t i = 0; !mix && i < sizeof file_types / sizeof file_types[0]; i++)
        if (file_types[i].type == type)
            llm_gguf_set_u32(w, "general.file_type", file_types[i].file_type);
    size_t nt = llm_gguf_n_tensors(g);
    int has_output = 0, n_layers = 0;
    for (size_t i = 0; i < nt; i++) {
        const char *name = llm_gguf_tensor(g, i)->name;
        has_output |= !strcmp(name, "output.weight");
        if (!strncmp(name, "blk.", 4) && atoi(name + 4) + 1 > n_layers)
            n_layers = atoi(name + 4) + 1;
    }
    void **bufs = rag_xcalloc(nt ? nt : 1, sizeof *bufs);
    int64_t max_row = 0;
    for (size_t i = 0; i < nt; i++)
        if (llm_gguf_tensor(g, i)->ne[0] > max_row) max_row = llm_gguf_tensor(g, i)->ne[0];
    float *row = rag_xmalloc((size_t)(max_row ? max_row : 1) * sizeof *row);
    size_t converted = 0, per_type[LLM_DTYPE_MAX] = {0};
    int rc = 0;
    for (size_t i = 0; i < nt && !rc; i++) {
        const llm_tensor_info *t = llm_gguf_tensor(g, i);
        int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        int want = mix ? q4_k_m_type(t->name, has_output, n_layers) : type;
        /* bits per weight of TYPE below q6_K's 6.56: keep the output matrix at q6_K */
        if (!mix && !strcmp(t->name, "output.weight") && t->ne[0] % 256 == 0 &&
            ti->block_bytes * 8.0 / ti->block_elems < 6.5 && type != LLM_F16 && type != LLM_BF16)
            want = LLM_Q6_K;
        if (t->ne[0] % llm_dtype_get(want)->block_elems) want = kquant_fallback(want);
        int convert = t->n_dims >= 2 && t->ne[0] % llm_dtype_get(want)->block_elems == 0 &&
                      t->type != (llm_dtype)want && llm_dtype_get(t->type)->can_compute;
        if (!convert) {
            llm_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
            continue;
        }
        size_t in_row = llm_row_bytes(t->type, t->ne[0]), out_row = llm_row_bytes(want, t->ne[0]);
        uint8_t *dst = rag_xmalloc(out_row * (size_t)rows);
        for (int64_t r = 0; r < rows; r++) {
            llm_dequant_row(t->type, (const uint8_t *)t->data + (size_t)r * in_row, row, t->ne[0]);
            llm_quantize_row(want, row, dst + (size_t)r * out_row, t->ne[0]);
        }
        bufs[i] = dst;
        llm_gguf_add_tensor(w, t->name, want, t->n_dims, t->ne, dst);
        converted++;
        per_type[want]++;
    }
    rc = llm_gguf_write(w, argv[2], &err);
    if (!rc) {
        printf("quantize: %zu of %zu tensors converted (", converted, nt);
        for (int t = 0, first = 1; t < LLM_DTYPE_MAX; t++)
            if (per_type[t])
                printf("%s%s x%zu", first ? "" : ", ", llm_dtype_get(t)->name, per_type[t]),
                    first = 0;
        printf(") into %s\n", argv[2]);
    }
    for (size_t i = 0; i < nt; i++)
        rag_free(bufs[i]);
    rag_free(bufs);
    rag_free(row);
    llm_gguf_writer_free(w);
    llm_gguf_close(g);
    return rc ? cli_fail(&cli, &err) : CLI_EXIT_OK;
}
