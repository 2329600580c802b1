/* tests/tools/mkmodel.c: writes a decoder model with random weights in a
 * real architecture's shape, for tests and benchmarks that need a model of a
 * given size (no model can be downloaded where tests run).
 *
 *   mkmodel OUT.gguf [--arch llama|qwen2|qwen3|bert] [--embd N] [--layers N]
 *           [--heads N] [--kv-heads N] [--ff N] [--vocab N] [--ctx N]
 *           [--tied] [--type f32|f16|q8_0|q4_0|q4_K|q6_K|...] [--seed N] [--sd X]
 *
 * Weights are drawn from N(0, sd) (sd 0.02 by default, the scale of trained
 * models; tests that need every part of the network to matter use larger),
 * norm weights around 1, biases small; they are written
 * in --type when rows allow it (else F32). The vocabulary is SentencePiece
 * style: <unk> <s> </s>, the 256 byte tokens, then "▁w<i>" pieces, so the
 * tokenizer works on any text. Defaults: a Qwen2.5-0.5B shape (qwen2, 896,
 * 24 layers, 14 heads, 2 KV heads, 4864, vocab 151936, tied output).
 *
 * --arch bert writes an encoder (BGE/MiniLM layout: learned positions, token
 * types, post-LayerNorm, GELU, mean pooling) with a WordPiece vocabulary:
 * [PAD] at 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, then the words
 * "w<i>", so texts made of such words tokenize one token per word. With it:
 *
 *   --pooling mean|cls|rank   the file's pooling (rank adds the cross-encoder
 *                             head cls.*, as rerankers carry it)
 *   --types N                 rows of token_types (2, BERT's; XLM-RoBERTa has 1)
 *   --vocab-from FILE.gguf    the tokenizer of FILE (every tokenizer.* key) in
 *                             place of the WordPiece one, and its size
 *
 * An XLM-RoBERTa encoder (bge-m3, bge-reranker-v2-m3) is --arch bert
 * --types 1 --vocab-from a Unigram vocabulary. The weights are drawn in the
 * same order whatever these options say, so two files made with the same
 * seed and sizes hold the same weights (a WordPiece twin of an XLM-RoBERTa
 * model feeds the same token ids through the same network).
 *
 * Decoders can be made to say given things, for tests of what is done with
 * a model's text (no random model writes a think block):
 *
 *   --chat-template FILE   tokenizer.chat_template from FILE, and the tokens
 *                          Qwen's vocabulary has for it: <|endoftext|>,
 *                          <|im_start|>, <|im_end|> (control), <think>,
 *                          </think> (user-defined, as in Qwen3's files), "\n"
 *                          and "\n\n"
 *   --reply 'AFTER|PIECE|PIECE|...'   (repeatable) greedy decoding after the
 *                          token whose text is AFTER writes the pieces, one
 *                          token each (made when the vocabulary has none),
 *                          then ends the turn (<|im_end|>, else </s>). "\n"
 *                          in the option is a line break.
 *
 * A reply is a chain of tokens, each naming the next: the model is a bigram
 * table written into the weights. Each token of a chain gets an embedding
 * axis of its own (a one-hot row of token_embd), the output row of its
 * successor is 8 on that axis and every output row is 0 on it, and the
 * layers' weights are zero, so the last hidden state is the token's own
 * axis and the successor's logit is the only one not 0, whatever came
 * before. The prompt's last token chooses the reply: a Qwen3 prompt ending
 * "<|im_start|>assistant\n" (thinking on) and one ending with the empty
 * think block's "\n\n" (off) can be answered differently, as Qwen3 would:
 *   --reply '\n|<think>|\nReasoning.\n|</think>|\n\n|The answer [1].'
 * A token may start one chain only, and name one successor. */
#include "base/buf.h"
#include "base/mem.h"
#include "llm/llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static float gaussian(float sd)
{
    double u = uniform(), v = uniform();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v) * sd);
}

typedef struct spec {
    const char *arch;
    int embd, layers, heads, kv_heads, ff, vocab, ctx, tied;
    int type;
    float sd;
    int pooling, types; /* bert only */
    const char *vocab_from;
    const char *chat_template; /* a file */
    const char *replies[16];   /* --reply, as given */
    int n_replies;
} spec;

/* The bigram table of --reply: axis[t] is token t's embedding axis (-1:
 * none) and next_tok[t] its successor; chain_tok[a] the token of axis a. */
static int *axis, *next_tok, *chain_tok;
static int n_axes;

/* Tensor data kept alive until the write. */
static void **keep;
static size_t n_keep, cap_keep;

static void *hold(void *p)
{
    keep = rag_xgrow(keep, &cap_keep, n_keep + 1, sizeof *keep);
    return keep[n_keep++] = p;
}

/* What --reply does to a matrix's rows once drawn (so the draws do not
 * change): nothing, zero (the layers), the one-hot embedding rows, or the
 * output rows of the bigram table. */
enum { ROWS_DRAWN, ROWS_ZERO, ROWS_EMBED, ROWS_OUTPUT };

static void fix_row(int how, float *row, int r, int cols)
{
    if (how == ROWS_ZERO) memset(row, 0, (size_t)cols * sizeof *row);
    if (how == ROWS_EMBED && axis[r] >= 0) {
        memset(row, 0, (size_t)cols * sizeof *row);
        row[axis[r]] = 1.0f;
    }
    if (how == ROWS_OUTPUT) /* 0 on every chain token's axis, but 8 where r succeeds it */
        for (int a = 0; a < n_axes; a++)
            row[a] = next_tok[chain_tok[a]] == r ? 8.0f : 0.0f;
}

static void add_matrix_as(llm_gguf_writer *w, const spec *s, const char *name, int cols, int rows,
                          int how)
{
    int type = s->type;
    if (cols % llm_dtype_get(type)->block_elems) type = LLM_F32;
    size_t row_bytes = llm_row_bytes(type, cols);
    uint8_t *data = hold(rag_xmalloc(row_bytes * (size_t)rows));
    float *row = rag_xmalloc((size_t)cols * sizeof *row);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++)
            row[c] = gaussian(s->sd);
        if (how != ROWS_DRAWN) fix_row(how, row, r, cols);
        llm_quantize_row(type, row, data + (size_t)r * row_bytes, cols);
    }
    rag_free(row);
    int64_t ne[2] = {cols, rows};
    llm_gguf_add_tensor(w, name, type, 2, ne, data);
}

static void add_matrix(llm_gguf_writer *w, const spec *s, const char *name, int cols, int rows)
{
    add_matrix_as(w, s, name, cols, rows, n_axes ? ROWS_ZERO : ROWS_DRAWN);
}

/* A vector of base + N(0, sd). */
static void add_vector(llm_gguf_writer *w, const char *name, int n, float base, float sd)
{
    float *v = hold(rag_xmalloc((size_t)n * sizeof *v));
    for (int i = 0; i < n; i++)
        v[i] = base + (sd ? gaussian(sd) : 0);
    int64_t ne[1] = {n};
    llm_gguf_add_tensor(w, name, LLM_F32, 1, ne, v);
}

static void add_wordpiece_vocab(llm_gguf_writer *w, int n)
{
    char **tok = rag_xcalloc((size_t)n, sizeof *tok);
    int32_t *type = rag_xcalloc((size_t)n, sizeof *type);
    for (int i = 0; i < n; i++) {
        static const char *sp[] = {"[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        if (i == 0)
            tok[i] = rag_xstrdup("[PAD]");
        else if (i >= 100 && i <= 103)
            tok[i] = rag_xstrdup(sp[i - 100]);
        else if (i < 106)
            tok[i] = rag_xasprintf("[unused%d]", i);
        else
            tok[i] = rag_xasprintf("w%d", i);
        type[i] = i < 106 ? 3 : 1;
    }
    llm_gguf_set_str(w, "tokenizer.ggml.model", "bert");
    llm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, (uint64_t)n);
    llm_gguf_set_arr(w, "tokenizer.ggml.token_type", LLM_GGUF_I32, type, (uint64_t)n);
    llm_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 100);
    llm_gguf_set_u32(w, "tokenizer.ggml.cls_token_id", 101);
    llm_gguf_set_u32(w, "tokenizer.ggml.seperator_token_id", 102);
    llm_gguf_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
    llm_gguf_set_u32(w, "tokenizer.ggml.mask_token_id", 103);
    for (int i = 0; i < n; i++)
        rag_free(tok[i]);
    rag_free(tok);
    rag_free(type);
}

/* token_types: two rows drawn (the stream of draws does not depend on
 * --types), the first s->types written. */
static void add_token_types(llm_gguf_writer *w, const spec *s)
{
    int E = s->embd;
    float *v = hold(rag_xmalloc((size_t)2 * E * sizeof *v));
    for (int i = 0; i < 2 * E; i++)
        v[i] = gaussian(s->sd);
    int64_t ne[2] = {E, s->types};
    llm_gguf_add_tensor(w, "token_types.weight", LLM_F32, 2, ne, v);
}

/* Every tokenizer.* key of path; the number of its tokens in *n. */
static int copy_vocab(llm_gguf_writer *w, const char *path, int *n)
{
    llm_gguf *g;
    rag_err err = {0};
    if (llm_gguf_open(path, &g, &err)) {
        fprintf(stderr, "mkmodel: %s\n", err.msg);
        return -1;
    }
    for (size_t i = 0; i < llm_gguf_n_kv(g); i++)
        if (!strncmp(llm_gguf_key(g, i), "tokenizer.", 10)) llm_gguf_copy_kv(w, g, i);
    llm_gguf_type et;
    uint64_t count = 0;
    int rc = llm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count, &err);
    llm_gguf_close(g);
    if (rc || count < 300 || count > 1000000) {
        fprintf(stderr, "mkmodel: %s: no usable tokenizer.ggml.tokens\n", path);
        return -1;
    }
    *n = (int)count;
    return 0;
}

/* The tensors of a BERT encoder. */
static void add_bert(llm_gguf_writer *w, const spec *s)
{
    int E = s->embd, F = s->ff;
    add_matrix(w, s, "token_embd.weight", E, s->vocab);
    add_matrix(w, s, "position_embd.weight", E, s->ctx);
    add_token_types(w, s);
    add_vector(w, "token_embd_norm.weight", E, 1.0f, 0.1f);
    add_vector(w, "token_embd_norm.bias", E, 0, 0.02f);
    for (int l = 0; l < s->layers; l++) {
        char n[96];
#define NAME(x) (snprintf(n, sizeof n, "blk.%d." x, l), n)
        add_matrix(w, s, NAME("attn_q.weight"), E, E);
        add_vector(w, NAME("attn_q.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("attn_k.weight"), E, E);
        add_vector(w, NAME("attn_k.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("attn_v.weight"), E, E);
        add_vector(w, NAME("attn_v.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("attn_output.weight"), E, E);
        add_vector(w, NAME("attn_output.bias"), E, 0, 0.02f);
        add_vector(w, NAME("attn_output_norm.weight"), E, 1.0f, 0.1f);
        add_vector(w, NAME("attn_output_norm.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("ffn_up.weight"), E, F);
        add_vector(w, NAME("ffn_up.bias"), F, 0, 0.02f);
        add_matrix(w, s, NAME("ffn_down.weight"), F, E);
        add_vector(w, NAME("ffn_down.bias"), E, 0, 0.02f);
        add_vector(w, NAME("layer_output_norm.weight"), E, 1.0f, 0.1f);
        add_vector(w, NAME("layer_output_norm.bias"), E, 0, 0.02f);
#undef NAME
    }
    if (s->pooling == 4) { /* the cross-encoder head */
        add_matrix(w, s, "cls.weight", E, E);
        add_vector(w, "cls.bias", E, 0, 0.02f);
        float *o = hold(rag_xmalloc((size_t)E * sizeof *o));
        for (int i = 0; i < E; i++)
            o[i] = gaussian(0.5f); /* large enough that scores spread */
        int64_t ne[2] = {E, 1};
        llm_gguf_add_tensor(w, "cls.output.weight", LLM_F32, 2, ne, o);
        add_vector(w, "cls.output.bias", 1, 0, 0.02f);
    }
}

/* A SentencePiece vocabulary being made. */
typedef struct vocab {
    char **tok;
    float *score;
    int32_t *type;
    size_t n, cap;
} vocab;

static int vocab_add(vocab *v, char *text, float score, int type)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 1024;
        v->tok = rag_xrealloc(v->tok, v->cap * sizeof *v->tok);
        v->score = rag_xrealloc(v->score, v->cap * sizeof *v->score);
        v->type = rag_xrealloc(v->type, v->cap * sizeof *v->type);
    }
    v->tok[v->n] = text;
    v->score[v->n] = score;
    v->type[v->n] = type;
    return (int)v->n++;
}

static int vocab_find(const vocab *v, const char *text)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->tok[i], text)) return (int)i;
    return -1;
}

/* <unk> <s> </s>, the 256 byte tokens, then "▁w<i>" up to n tokens. */
static void vocab_base(vocab *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i < 3) {
            static const char *sp[] = {"<unk>", "<s>", "</s>"};
            vocab_add(v, rag_xstrdup(sp[i]), 0, i == 0 ? 2 : 3);
        } else if (i < 3 + 256) {
            vocab_add(v, rag_xasprintf("<0x%02X>", i - 3), 0, 6);
        } else {
            vocab_add(v, rag_xasprintf("\xE2\x96\x81w%d", i), -(float)i, 1);
        }
    }
}

static void add_vocab(llm_gguf_writer *w, vocab *v)
{
    uint64_t n = v->n;
    llm_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    llm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tok, NULL, n);
    llm_gguf_set_arr(w, "tokenizer.ggml.scores", LLM_GGUF_F32, v->score, n);
    llm_gguf_set_arr(w, "tokenizer.ggml.token_type", LLM_GGUF_I32, v->type, n);
    llm_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    llm_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    llm_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    for (size_t i = 0; i < v->n; i++)
        rag_free(v->tok[i]);
    rag_free(v->tok);
    rag_free(v->score);
    rag_free(v->type);
}

/* The template's file as tokenizer.chat_template, and the tokens Qwen's
 * vocabulary has for ChatML and thinking. */
static int add_chat(llm_gguf_writer *w, vocab *v, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mkmodel: --chat-template %s: cannot read it\n", path);
        return -1;
    }
    rag_buf t = {0};
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        rag_buf_append(&t, buf, got);
    fclose(f);
    llm_gguf_set_str(w, "tokenizer.chat_template", rag_buf_str(&t));
    rag_buf_free(&t);
    static const char *const control[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (size_t i = 0; i < 3; i++)
        vocab_add(v, rag_xstrdup(control[i]), 0, 3);
    vocab_add(v, rag_xstrdup("<think>"), 0, 4);
    vocab_add(v, rag_xstrdup("</think>"), 0, 4);
    vocab_add(v, rag_xstrdup("\n"), 0, 1);
    vocab_add(v, rag_xstrdup("\n\n"), 0, 1);
    return 0;
}

/* A piece of a reply as a SentencePiece token's text: "\\n" a line break,
 * spaces as "▁". */
static char *piece_text(const char *s, size_t n)
{
    rag_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n')
            rag_buf_putc(&b, '\n'), i++;
        else if (s[i] == ' ')
            rag_buf_puts(&b, "\xE2\x96\x81");
        else
            rag_buf_putc(&b, s[i]);
    }
    return rag_buf_steal(&b);
}

/* The chains of --reply: tokens made for pieces the vocabulary lacks, and
 * the bigram table. */
static int add_replies(spec *s, vocab *v)
{
    int end = vocab_find(v, "<|im_end|>");
    if (end < 0) end = 2;
    int *from = NULL, *to = NULL;
    size_t n_links = 0;
    for (int r = 0; r < s->n_replies; r++) {
        const char *p = s->replies[r];
        int prev = -1;
        for (int k = 0;; k++) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            char *text = piece_text(p, len);
            int id = vocab_find(v, text);
            if (id < 0 && k == 0) {
                fprintf(stderr, "mkmodel: --reply: '%.*s' is no token of the vocabulary\n",
                        (int)len, p);
                rag_free(text);
                return -1;
            }
            if (id < 0)
                id = vocab_add(v, text, -1e4f, 1);
            else
                rag_free(text);
            if (prev >= 0) {
                from = rag_xrealloc(from, (n_links + 1) * sizeof *from);
                to = rag_xrealloc(to, (n_links + 1) * sizeof *to);
                from[n_links] = prev, to[n_links++] = id;
            }
            prev = id;
            if (!bar) break;
            p = bar + 1;
        }
        from = rag_xrealloc(from, (n_links + 1) * sizeof *from);
        to = rag_xrealloc(to, (n_links + 1) * sizeof *to);
        from[n_links] = prev, to[n_links++] = end;
    }
    axis = rag_xmalloc(v->n * sizeof *axis);
    next_tok = rag_xmalloc(v->n * sizeof *next_tok);
    chain_tok = rag_xmalloc(v->n * sizeof *chain_tok);
    for (size_t i = 0; i < v->n; i++)
        axis[i] = next_tok[i] = -1;
    for (size_t i = 0; i < n_links; i++) {
        int t = from[i];
        if (next_tok[t] >= 0 && next_tok[t] != to[i]) {
            fprintf(stderr, "mkmodel: --reply: token '%s' would be followed by two tokens\n",
                    v->tok[t]);
            return -1;
        }
        if (axis[t] < 0) chain_tok[n_axes] = t, axis[t] = n_axes++;
        next_tok[t] = to[i];
    }
    rag_free(from);
    rag_free(to);
    if (n_axes > s->embd) {
        fprintf(stderr, "mkmodel: --reply: %d tokens need --embd %d at least\n", n_axes, n_axes);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    spec s = {"qwen2", 896,   24, 14, 2,    4864, 151936, 32768, 1,
              LLM_F16, 0.02f, 1,  2,  NULL, NULL, {NULL}, 0};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field)                                                                           \
    if (!strcmp(a, name) && v) {                                                                   \
        s.field = atoi(v);                                                                         \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        OPT("--embd", embd);
        OPT("--layers", layers);
        OPT("--heads", heads);
        OPT("--kv-heads", kv_heads);
        OPT("--ff", ff);
        OPT("--vocab", vocab);
        OPT("--ctx", ctx);
        OPT("--types", types);
#undef OPT
        if (!strcmp(a, "--arch") && v) {
            s.arch = v;
            i++;
        } else if (!strcmp(a, "--tied")) {
            s.tied = 1;
        } else if (!strcmp(a, "--untied")) {
            s.tied = 0;
        } else if (!strcmp(a, "--type") && v) {
            s.type = llm_dtype_from_name(v);
            i++;
            if (s.type < 0 || !llm_dtype_get(s.type)->can_quantize) {
                fprintf(stderr, "mkmodel: type '%s' cannot be written\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--pooling") && v) {
            s.pooling = !strcmp(v, "mean")   ? 1
                        : !strcmp(v, "cls")  ? 2
                        : !strcmp(v, "rank") ? 4
                                             : -1;
            i++;
            if (s.pooling < 0) {
                fprintf(stderr, "mkmodel: pooling '%s' is not mean, cls or rank\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--vocab-from") && v) {
            s.vocab_from = v;
            i++;
        } else if (!strcmp(a, "--chat-template") && v) {
            s.chat_template = v;
            i++;
        } else if (!strcmp(a, "--reply") && v && s.n_replies < 16) {
            s.replies[s.n_replies++] = v;
            i++;
        } else if (!strcmp(a, "--sd") && v) {
            s.sd = strtof(v, NULL);
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            rng = strtoull(v, NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
            i++;
        } else if (a[0] != '-' && !out) {
            out = a;
        } else {
            fprintf(
                stderr,
                "usage: mkmodel OUT.gguf [--arch A] [--embd N] [--layers N] [--heads N] "
                "[--kv-heads N] [--ff N] [--vocab N] [--ctx N] [--tied|--untied] "
                "[--type T] [--seed N] [--sd X] [--pooling mean|cls|rank] [--types N] "
                "[--vocab-from FILE.gguf] [--chat-template FILE] [--reply 'AFTER|PIECE|...']\n");
            return 2;
        }
    }
    if (!out || s.vocab < 300 || s.heads <= 0 || s.kv_heads <= 0 || s.embd % s.heads ||
        s.types < 1 || s.types > 2) {
        fprintf(stderr,
                "mkmodel: need OUT, a vocabulary of at least 300, heads dividing embd and 1 or "
                "2 token types\n");
        return 2;
    }
    int hd = s.embd / s.heads;
    llm_gguf_writer *w = llm_gguf_writer_new();
    char key[128];
    llm_gguf_set_str(w, "general.architecture", s.arch);
    llm_gguf_set_str(w, "general.name",
                     s.n_replies ? "scripted replies (mkmodel)" : "random weights (mkmodel)");
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", s.arch, k), key)
    llm_gguf_set_u32(w, KEY("context_length"), (uint32_t)s.ctx);
    llm_gguf_set_u32(w, KEY("embedding_length"), (uint32_t)s.embd);
    llm_gguf_set_u32(w, KEY("block_count"), (uint32_t)s.layers);
    llm_gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)s.ff);
    llm_gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)s.heads);
    llm_gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s.kv_heads);
    if (!strcmp(s.arch, "bert")) {
        llm_gguf_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-12f);
        llm_gguf_set_u32(w, KEY("pooling_type"), (uint32_t)s.pooling);
        llm_gguf_set_bool(w, KEY("attention.causal"), 0);
        if (!s.vocab_from)
            add_wordpiece_vocab(w, s.vocab);
        else if (copy_vocab(w, s.vocab_from, &s.vocab))
            return 1;
        add_bert(w, &s);
        goto write;
    }
    llm_gguf_set_f32(w, KEY("rope.freq_base"), 1000000.0f);
    llm_gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
#undef KEY
    vocab voc = {0};
    vocab_base(&voc, s.vocab);
    if (s.chat_template && add_chat(w, &voc, s.chat_template)) return 1;
    if (s.n_replies && add_replies(&s, &voc)) return 1;
    s.vocab = (int)voc.n;
    if (s.n_replies) s.tied = 0; /* the embedding and the output differ */
    add_vocab(w, &voc);
    add_matrix_as(w, &s, "token_embd.weight", s.embd, s.vocab, n_axes ? ROWS_EMBED : ROWS_DRAWN);
    add_vector(w, "output_norm.weight", s.embd, 1.0f, 0);
    if (!s.tied)
        add_matrix_as(w, &s, "output.weight", s.embd, s.vocab, n_axes ? ROWS_OUTPUT : ROWS_DRAWN);
    for (int l = 0; l < s.layers; l++) {
        char n[96];
#define NAME(x) (snprintf(n, sizeof n, "blk.%d." x, l), n)
        add_vector(w, NAME("attn_norm.weight"), s.embd, 1.0f, 0.1f);
        add_matrix(w, &s, NAME("attn_q.weight"), s.embd, s.heads * hd);
        add_matrix(w, &s, NAME("attn_k.weight"), s.embd, s.kv_heads * hd);
        add_matrix(w, &s, NAME("attn_v.weight"), s.embd, s.kv_heads * hd);
        if (!strcmp(s.arch, "qwen2")) {
            add_vector(w, NAME("attn_q.bias"), s.heads * hd, 0, 0.02f);
            add_vector(w, NAME("attn_k.bias"), s.kv_heads * hd, 0, 0.02f);
            add_vector(w, NAME("attn_v.bias"), s.kv_heads * hd, 0, 0.02f);
        }
        if (!strcmp(s.arch, "qwen3")) {
            add_vector(w, NAME("attn_q_norm.weight"), hd, 1.0f, 0.1f);
            add_vector(w, NAME("attn_k_norm.weight"), hd, 1.0f, 0.1f);
        }
        add_matrix(w, &s, NAME("attn_output.weight"), s.heads * hd, s.embd);
        add_vector(w, NAME("ffn_norm.weight"), s.embd, 1.0f, 0.1f);
        add_matrix(w, &s, NAME("ffn_gate.weight"), s.embd, s.ff);
        add_matrix(w, &s, NAME("ffn_up.weight"), s.embd, s.ff);
        add_matrix(w, &s, NAME("ffn_down.weight"), s.ff, s.embd);
#undef NAME
    }
write:;
    rag_err err = {0};
    int rc = llm_gguf_write(w, out, &err);
    if (rc) fprintf(stderr, "mkmodel: %s\n", err.msg);
    llm_gguf_writer_free(w);
    for (size_t i = 0; i < n_keep; i++)
        rag_free(keep[i]);
    rag_free(keep);
    rag_free(axis);
    rag_free(next_tok);
    rag_free(chain_tok);
    return rc ? 1 : 0;
}
