/* The decoder forward pass against an independent float64 implementation
 * written here, for each architecture (llama: adjacent-pair RoPE; qwen2:
 * half RoPE and q/k/v biases; qwen3: per-head q/k RMSNorm), on small models
 * with random weights made by tests/tools/mkmodel. Also: batched prefill and
 * token-by-token decoding give the same logits, the context limit is
 * enforced before any work, and truncating the cache replays correctly.
 * Sequences stepped together (llm_batch) get exactly the logits each gets
 * alone, and generations run at once through a batcher write exactly what
 * each writes alone through it. */
#include "base/buf.h"
#include "base/mem.h"
#include "llm/llm.h"
#include "llm/qgemm.h" /* whether this CPU interleaves Q8_0 weights */
#include "test.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

static const char *make_model(const char *arch, const char *extra)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", test_tmpdir(), arch);
    const char *tools = getenv("RAG_TOOLS");
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "%s/mkmodel %s --arch %s --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 96 "
             "--vocab 320 --ctx 128 --type f32 --seed 7 --sd 0.25 %s",
             tools && *tools ? tools : "build/tools", path, arch, extra);
    if (system(cmd) != 0) {
        printf("    %s failed\n", cmd);
        return NULL;
    }
    return path;
}

/* ---- the float64 reference ------------------------------------------------ */

typedef struct ref {
    const llm_gguf *g;
    const llm_hparams *hp; /* sizes only: behaviour is decided here from the architecture */
    int neox;              /* qwen2, qwen3 rotate halves; llama adjacent pairs */
} ref;

static const float *T(const ref *r, const char *fmt, int l)
{
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    const llm_tensor_info *t = llm_gguf_find_tensor(r->g, name);
    return t ? (const float *)t->data : NULL; /* the models are all-F32 */
}

/* y[rows] = W[rows x cols] x */
static void matvec(const float *W, const double *x, int rows, int cols, double *y)
{
    for (int i = 0; i < rows; i++) {
        double s = 0;
        for (int j = 0; j < cols; j++)
            s += (double)W[(size_t)i * cols + j] * x[j];
        y[i] = s;
    }
}

static void rmsnorm(const double *x, const float *w, int n, double eps, double *out)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double sc = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * sc * w[i];
}

static void rope(const ref *r, double *v, int pos)
{
    int half = r->hp->n_rot / 2;
    for (int i = 0; i < half; i++) {
        double th = pos * pow(r->hp->rope_base, -2.0 * i / r->hp->n_rot);
        int a = r->neox ? i : 2 * i, b = r->neox ? i + half : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * cos(th) - x1 * sin(th);
        v[b] = x0 * sin(th) + x1 * cos(th);
    }
}

/* Logits of every position of toks[0..n) into out[n][n_vocab]. */
static void reference_forward(const ref *r, const int32_t *toks, int n, double *out)
{
    const llm_hparams *hp = r->hp;
    int E = hp->n_embd, D = hp->head_dim, H = hp->n_head, Hk = hp->n_head_kv, F = hp->n_ff,
        V = hp->n_vocab;
    double eps = hp->norm_eps;
    double *K = rag_xcalloc((size_t)hp->n_layer * n * Hk * D, sizeof *K),
           *Vc = rag_xcalloc((size_t)hp->n_layer * n * Hk * D, sizeof *Vc);
    double *x = rag_xcalloc((size_t)E, sizeof *x), *xn = rag_xcalloc((size_t)E, sizeof *xn);
    double *q = rag_xcalloc((size_t)H * D, sizeof *q),
           *att = rag_xcalloc((size_t)H * D, sizeof *att);
    double *g = rag_xcalloc((size_t)F, sizeof *g), *u = rag_xcalloc((size_t)F, sizeof *u),
           *tmp = rag_xcalloc((size_t)(E > F ? E : F) + (size_t)H * D, sizeof *tmp);
    double *sc = rag_xcalloc((size_t)n, sizeof *sc);
    const float *emb = T(r, "token_embd.weight", 0), *out_w = T(r, "output.weight", 0);
    if (!out_w) out_w = emb;
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < E; i++)
            x[i] = emb[(size_t)toks[t] * E + i];
        for (int l = 0; l < hp->n_layer; l++) {
            double *k = K + ((size_t)l * n + t) * Hk * D, *v = Vc + ((size_t)l * n + t) * Hk * D;
            rmsnorm(x, T(r, "blk.%d.attn_norm.weight", l), E, eps, xn);
            matvec(T(r, "blk.%d.attn_q.weight", l), xn, H * D, E, q);
            matvec(T(r, "blk.%d.attn_k.weight", l), xn, Hk * D, E, k);
            matvec(T(r, "blk.%d.attn_v.weight", l), xn, Hk * D, E, v);
            const float *bq = T(r, "blk.%d.attn_q.bias", l);
            if (bq) {
                const float *bk = T(r, "blk.%d.attn_k.bias", l),
                            *bv = T(r, "blk.%d.attn_v.bias", l);
                for (int i = 0; i < H * D; i++)
                    q[i] += bq[i];
                for (int i = 0; i < Hk * D; i++)
                    k[i] += bk[i], v[i] += bv[i];
            }
            const float *qn = T(r, "blk.%d.attn_q_norm.weight", l);
            for (int h = 0; h < H; h++) {
                if (qn) rmsnorm(q + h * D, qn, D, eps, q + h * D);
                rope(r, q + h * D, t);
            }
            const float *kn = T(r, "blk.%d.attn_k_norm.weight", l);
            for (int h = 0; h < Hk; h++) {
                if (kn) rmsnorm(k + h * D, kn, D, eps, k + h * D);
                rope(r, k + h * D, t);
            }
            for (int h = 0; h < H; h++) {
                int kh = h / (H / Hk);
                double mx = -INFINITY, sum = 0;
                for (int p = 0; p <= t; p++) {
                    double s = 0;
                    const double *kp = K + ((size_t)l * n + p) * Hk * D + kh * D;
                    for (int d = 0; d < D; d++)
                        s += q[h * D + d] * kp[d];
                    sc[p] = s / sqrt((double)D);
                    if (sc[p] > mx) mx = sc[p];
                }
                for (int p = 0; p <= t; p++)
                    sum += sc[p] = exp(sc[p] - mx);
                for (int d = 0; d < D; d++) {
                    double a = 0;
                    for (int p = 0; p <= t; p++)
                        a += sc[p] / sum * Vc[((size_t)l * n + p) * Hk * D + kh * D + d];
                    att[h * D + d] = a;
                }
            }
            matvec(T(r, "blk.%d.attn_output.weight", l), att, E, H * D, tmp);
            for (int i = 0; i < E; i++)
                x[i] += tmp[i];
            rmsnorm(x, T(r, "blk.%d.ffn_norm.weight", l), E, eps, xn);
            matvec(T(r, "blk.%d.ffn_gate.weight", l), xn, F, E, g);
            matvec(T(r, "blk.%d.ffn_up.weight", l), xn, F, E, u);
            for (int i = 0; i < F; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            matvec(T(r, "blk.%d.ffn_down.weight", l), g, E, F, tmp);
            for (int i = 0; i < E; i++)
                x[i] += tmp[i];
        }
        rmsnorm(x, T(r, "output_norm.weight", 0), E, eps, xn);
        matvec(out_w, xn, V, E, out + (size_t)t * V);
    }
    double *bufs[] = {K, Vc, x, xn, q, att, g, u, tmp, sc};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        rag_free(bufs[i]);
}

static double cosine(const double *a, const float *b, int n)
{
    double d = 0, x = 0, y = 0;
    for (int i = 0; i < n; i++)
        d += a[i] * b[i], x += a[i] * a[i], y += (double)b[i] * b[i];
    return d / sqrt(x * y);
}

static void check_arch(const char *arch, const char *extra)
{
    const char *path = make_model(arch, extra);
    CHECK(path != NULL);
    if (!path) return;
    llm_model *m;
    rag_err err = {0};
    int rc = llm_model_open(path, &m, &err);
    if (rc) printf("    %s\n", err.msg);
    CHECK_INT(rc, 0);
    if (rc) return;
    enum { N = 24 };
    int32_t toks[N];
    for (int i = 0; i < N; i++)
        toks[i] = 3 + (i * 37 + 11) % 300;
    const llm_hparams *hp = llm_model_hparams(m);
    double *want = rag_xcalloc((size_t)N * hp->n_vocab, sizeof *want);
    ref r = {llm_model_gguf(m), hp, strcmp(arch, "llama") != 0};
    reference_forward(&r, toks, N, want);

    /* all positions in one batch */
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = N;
    cp.logits_all = 1;
    llm_context *c;
    CHECK_INT(llm_context_new(m, &cp, &c, &err), 0);
    CHECK_INT(llm_decode(c, toks, N, &err), 0);
    double worst = 1;
    for (int t = 0; t < N; t++) {
        double cs = cosine(want + (size_t)t * hp->n_vocab, llm_context_logits(c, t), hp->n_vocab);
        if (cs < worst) worst = cs;
    }
    printf("    %-6s batched: worst cosine to the float64 reference %.7f\n", arch, worst);
    CHECK(worst >= 0.99999);
    /* the cache is full: one more token is refused before any work */
    CHECK_INT(llm_decode(c, toks, 1, &err), RAG_ERR_LIMIT);
    CHECK_CONTAINS(err.msg, "overflow");
    CHECK_INT(llm_context_n_past(c), N);
    llm_context_free(c);

    /* token by token, with small batches and a truncation in the middle */
    cp.logits_all = 0;
    cp.n_batch = 5;
    CHECK_INT(llm_context_new(m, &cp, &c, &err), 0);
    CHECK_INT(llm_decode(c, toks, 10, &err), 0); /* two batches of 5 */
    CHECK_INT(llm_decode(c, toks + 10, 3, &err), 0);
    llm_context_truncate(c, 10); /* forget those 3 */
    worst = 1;
    for (int t = 10; t < N; t++) {
        CHECK_INT(llm_decode(c, toks + t, 1, &err), 0);
        double cs = cosine(want + (size_t)t * hp->n_vocab, llm_context_logits(c, 0), hp->n_vocab);
        if (cs < worst) worst = cs;
    }
    printf("    %-6s one token at a time: worst cosine %.7f\n", arch, worst);
    CHECK(worst >= 0.99999);

    /* prompt-prefix reuse: the cache holds toks[0..N); a prompt sharing
     * its first 16 tokens keeps those and decodes the rest, and its last
     * logits are the reference's; an identical prompt keeps all but one */
    int32_t other[N];
    memcpy(other, toks, sizeof other);
    other[16] = toks[16] + 1;
    CHECK_INT(llm_context_reuse(c, other, 17), 16);
    CHECK_INT(llm_context_n_past(c), 16);
    CHECK_INT(llm_decode(c, other + 16, 1, &err), 0);
    CHECK_INT(llm_context_reuse(c, toks, N), 16);
    CHECK_INT(llm_decode(c, toks + 16, N - 16, &err), 0);
    double cs = cosine(want + (size_t)(N - 1) * hp->n_vocab, llm_context_logits(c, N - 16 - 1),
                       hp->n_vocab);
    printf("    %-6s after reusing a prefix: cosine %.7f\n", arch, cs);
    CHECK(cs >= 0.99999);
    CHECK_INT(llm_context_reuse(c, toks, N), N - 1);
    CHECK_INT(llm_context_reuse(c, other, 1), 0); /* one token: decoded again */
    llm_context_free(c);
    rag_free(want);
    llm_model_close(m);
}

static void test_llama(void)
{
    check_arch("llama", "--untied");
}
static void test_qwen2(void)
{
    check_arch("qwen2", "--tied");
}
static void test_qwen3(void)
{
    check_arch("qwen3", "--untied");
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* The test's qwen2 model, untied, of weight type `type` (mkmodel's other
 * arguments in `more`), opened; NULL (a failed check) when it cannot be. */
static llm_model *open_qwen2(const char *type, const char *more)
{
    char extra[128];
    snprintf(extra, sizeof extra, "--untied --type %s %s", type, more);
    const char *path = make_model("qwen2", extra);
    CHECK(path != NULL);
    if (!path) return NULL;
    llm_model *m = NULL;
    rag_err err = {0};
    int rc = llm_model_open(path, &m, &err);
    CHECK_INT(rc, 0);
    return rc ? NULL : m;
}

/* Nine sequences (two groups of the batch's rows) with prompts of different
 * lengths, greedy: stepped together, each gets bit for bit the logits of
 * the same sequence decoded alone, step after step; in a quantized model,
 * so the integer decode kernels run, with rows of 96 (not a multiple of a
 * SIMD register of blocks). */
static void check_batch(const char *type)
{
    rag_err err = {0};
    llm_model *m = open_qwen2(type, "");
    if (!m) return;
    enum { S = 9, STEPS = 6 };
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = 64;
    llm_context *alone[S], *together[S];
    int32_t tok[S];
    for (int i = 0; i < S; i++) {
        int32_t prompt[20];
        int n = 3 + 2 * i;
        for (int t = 0; t < n; t++)
            prompt[t] = 3 + (t * 31 + i * 7) % 300;
        CHECK_INT(llm_context_new(m, &cp, &alone[i], &err), 0);
        CHECK_INT(llm_context_new(m, &cp, &together[i], &err), 0);
        CHECK_INT(llm_decode(alone[i], prompt, n, &err), 0);
        CHECK_INT(llm_decode(together[i], prompt, n, &err), 0);
        tok[i] = argmax(llm_context_logits(alone[i], n - 1), llm_model_hparams(m)->n_vocab);
    }
    llm_batch *b;
    CHECK_INT(llm_batch_new(m, 64, 2, &b, &err), 0);
    int V = llm_model_hparams(m)->n_vocab, same = 0;
    for (int step = 0; step < STEPS; step++) {
        CHECK_INT(llm_batch_decode(b, together, tok, S, &err), 0);
        for (int i = 0; i < S; i++) {
            CHECK_INT(llm_decode(alone[i], &tok[i], 1, &err), 0);
            const float *a = llm_context_logits(alone[i], 0),
                        *t = llm_context_logits(together[i], 0);
            same += !memcmp(a, t, (size_t)V * sizeof *a);
            CHECK_INT(llm_context_n_past(together[i]), llm_context_n_past(alone[i]));
            tok[i] = argmax(a, V);
        }
    }
    printf("    %s: %d of %d steps of a sequence gave identical logits\n", type, same, S * STEPS);
    CHECK_INT(same, S * STEPS);

    /* refused before any work, naming the sequence */
    llm_context *dup[2] = {together[0], together[0]};
    int past = llm_context_n_past(together[0]);
    CHECK_INT(llm_batch_decode(b, dup, tok, 2, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "share a context");
    int32_t bad[2] = {tok[0], 1 << 20};
    CHECK_INT(llm_batch_decode(b, together, bad, 2, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "sequence 1");
    CHECK_INT(llm_context_n_past(together[0]), past);
    llm_context_truncate(together[1], 0);
    int32_t fill[64] = {0};
    for (int t = 0; t < 64; t++)
        fill[t] = 5;
    CHECK_INT(llm_decode(together[1], fill, 64, &err), 0);
    CHECK_INT(llm_batch_decode(b, together, tok, 2, &err), RAG_ERR_LIMIT);
    CHECK_CONTAINS(err.msg, "sequence 1");
    CHECK_INT(llm_context_n_past(together[0]), past);
    llm_batch_free(b);
    for (int i = 0; i < S; i++) {
        llm_context_free(alone[i]);
        llm_context_free(together[i]);
    }
    llm_model_close(m);
}

/* A prompt cut into two passes, as ragd cuts one whose beginning a slot
 * already holds (rag ask computes it in one): at every cut, both parts
 * past the row kernels' sizes, the last token's logits are bit for bit
 * those of the prompt in one pass. Long enough that attention's products
 * run over hundreds of positions (a library's blocking of those depends on
 * the length), with two query heads per KV head. */
static void check_split(const char *type)
{
    rag_err err = {0};
    llm_model *m = open_qwen2(type, "--ctx 1024");
    if (!m) return;
    enum { N = 600 };
    static int32_t toks[N];
    for (int i = 0; i < N; i++)
        toks[i] = 3 + (i * 53 + 5) % 300;
    int V = llm_model_hparams(m)->n_vocab;
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = N;
    cp.n_batch = N;
    llm_context *c;
    CHECK_INT(llm_context_new(m, &cp, &c, &err), 0);
    CHECK_INT(llm_decode(c, toks, N, &err), 0);
    float *whole = rag_xmalloc((size_t)V * sizeof *whole);
    memcpy(whole, llm_context_logits(c, N - 1), (size_t)V * sizeof *whole);
    /* some leave a run of one token after the blocks of 16 (17, 385, 401):
     * a pass then attends both ways at once, on every KV head's thread;
     * three rounds, for what two threads could do to each other */
    static const int cuts[] = {8, 17, 77, 200, 385, 401, 431, N - 8};
    int same = 0, n_cuts = 3 * (int)(sizeof cuts / sizeof *cuts);
    for (int r = 0; r < n_cuts; r++) {
        int i = r % (int)(sizeof cuts / sizeof *cuts);
        llm_context_truncate(c, 0);
        CHECK_INT(llm_decode(c, toks, cuts[i], &err), 0);
        CHECK_INT(llm_decode(c, toks + cuts[i], N - cuts[i], &err), 0);
        same += !memcmp(whole, llm_context_logits(c, N - cuts[i] - 1), (size_t)V * sizeof *whole);
    }
    printf("    %s: %d of %d cuts gave the logits of one pass\n", type, same, n_cuts);
    CHECK_INT(same, n_cuts);
    llm_context_free(c);
    /* passes of at most N - 3 tokens: llm_decode leaves no last pass of 3
     * (the row kernels'), and the logits are those of one pass */
    cp.n_batch = N - 3;
    CHECK_INT(llm_context_new(m, &cp, &c, &err), 0);
    CHECK_INT(llm_decode(c, toks, N, &err), 0);
    CHECK(!memcmp(whole, llm_context_logits(c, N - 1), (size_t)V * sizeof *whole));
    rag_free(whole);
    llm_context_free(c);
    llm_model_close(m);
}

/* With a model's Q8_0, Q5_0, Q4_0, Q4_K, Q5_K or Q6_K matrices interleaved
 * (AVX-512 VNNI, llm/qgemm.h: when its first context is made), decoding
 * runs the prompt path's kernel on its few rows: tokens decoded one at a
 * time get bit for bit the logits a prompt pass gives each of them, with
 * the output matrix the embeddings' (then read back from the groups) or
 * its own. */
static void test_decode_is_prompt(void)
{
    if (!llm_qg_il_handles(LLM_Q8_0)) {
        printf("    no interleaved weights on this CPU (they need AVX-512 VNNI)\n");
        return;
    }
    enum { N = 24 };
    int32_t toks[N];
    for (int i = 0; i < N; i++)
        toks[i] = 3 + (i * 37 + 11) % 300;
    static const char *types[] = {"q8_0", "q5_0", "q4_0", "q4_K", "q5_K", "q6_K"};
    for (int run = 0; run < 12; run++) {
        rag_err err = {0};
        int untied = run % 2;
        char extra[96];
        snprintf(extra, sizeof extra, "%s--type %s%s", untied ? "--untied " : "", types[run / 2],
                 run / 2 >= 3 ? " --embd 256 --ff 512" : ""); /* K types: rows of 256 */
        const char *path = make_model("qwen2", extra);
        llm_model *m = NULL;
        CHECK(path != NULL);
        if (!path || llm_model_open(path, &m, &err)) {
            CHECK(0);
            continue;
        }
        int V = llm_model_hparams(m)->n_vocab;
        llm_context_params cp;
        llm_context_default_params(&cp);
        cp.n_ctx = 64;
        cp.logits_all = 1;
        llm_context *whole, *step;
        CHECK_INT(llm_model_interleaved_bytes(m), 0); /* not before the first context */
        CHECK_INT(llm_context_new(m, &cp, &whole, &err), 0);
        CHECK_INT(llm_model_interleaved_bytes(m), llm_model_weight_bytes(m)); /* every matrix */
        CHECK_INT(llm_context_new(m, &cp, &step, &err), 0);
        CHECK_INT(llm_decode(whole, toks, N, &err), 0);
        int same = 0;
        for (int i = 0; i < N; i++) {
            CHECK_INT(llm_decode(step, &toks[i], 1, &err), 0);
            same += !memcmp(llm_context_logits(whole, i), llm_context_logits(step, 0),
                            (size_t)V * sizeof(float));
        }
        printf("    %s, %s output: %d of %d tokens decoded alone gave the prompt pass's logits\n",
               types[run / 2], untied ? "own" : "tied", same, N);
        CHECK_INT(same, N);
        llm_context_free(whole);
        llm_context_free(step);
        llm_model_close(m);
    }
}

/* A context copied into another (ragd's slots start from the first one's
 * public prefix): the copy, of a context of another size, then decodes
 * what the original would, bit for bit, and what a context that computed
 * the whole text itself gives. */
static void test_context_copy(void)
{
    enum { N = 20, MORE = 4 };
    int32_t toks[N + MORE];
    for (int i = 0; i < N + MORE; i++)
        toks[i] = 3 + (i * 53 + 7) % 300;
    rag_err err = {0};
    const char *path = make_model("qwen2", "--type q8_0");
    llm_model *m = NULL;
    CHECK(path != NULL);
    if (!path || llm_model_open(path, &m, &err)) {
        CHECK(0);
        return;
    }
    int V = llm_model_hparams(m)->n_vocab;
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.logits_all = 1;
    llm_context *src, *dst, *whole;
    cp.n_ctx = 48;
    CHECK_INT(llm_context_new(m, &cp, &src, &err), 0);
    cp.n_ctx = 96;
    CHECK_INT(llm_context_new(m, &cp, &dst, &err), 0);
    cp.n_ctx = 64;
    CHECK_INT(llm_context_new(m, &cp, &whole, &err), 0);
    CHECK_INT(llm_decode(src, toks, N, &err), 0);
    CHECK_INT(llm_context_copy(dst, src, &err), 0);
    CHECK_INT(llm_decode(whole, toks, N + MORE, &err), 0);
    int same = 0;
    for (int i = N; i < N + MORE; i++) {
        CHECK_INT(llm_decode(src, &toks[i], 1, &err), 0);
        CHECK_INT(llm_decode(dst, &toks[i], 1, &err), 0);
        same += !memcmp(llm_context_logits(src, 0), llm_context_logits(dst, 0),
                        (size_t)V * sizeof(float)) &&
                !memcmp(llm_context_logits(whole, i), llm_context_logits(dst, 0),
                        (size_t)V * sizeof(float));
    }
    printf("    %d of %d tokens after the copy: the original's logits and the whole pass's\n", same,
           MORE);
    CHECK_INT(same, MORE);
    llm_context_free(src);
    llm_context_free(dst);
    llm_context_free(whole);
    llm_model_close(m);
}

/* The next pass's size: never a last pass under LLM_PASS_MIN when the
 * passes before it can give it tokens. */
static void test_pass_size(void)
{
    CHECK_INT(llm_pass_size(67, 64), 67 - LLM_PASS_MIN);
    CHECK_INT(llm_pass_size(LLM_PASS_MIN, 64), LLM_PASS_MIN);
    CHECK_INT(llm_pass_size(5, 64), 5);
    CHECK_INT(llm_pass_size(64, 64), 64);
    CHECK_INT(llm_pass_size(64 + LLM_PASS_MIN, 64), 64);
    CHECK_INT(llm_pass_size(64 + 1, 64), 64 + 1 - LLM_PASS_MIN);
    CHECK_INT(llm_pass_size(10, 4), 4); /* passes too small to give any */
}

static void test_split_f32(void)
{
    check_split("f32");
}

static void test_split_q8_0(void)
{
    check_split("q8_0");
}

static void test_batch_q8_0(void)
{
    check_batch("q8_0");
}
static void test_batch_f16(void)
{
    check_batch("f16");
}

/* ---- continuous batching ------------------------------------------------------ */

typedef struct gen_run {
    llm_context *c;
    llm_batcher *b;
    int32_t prompt[300];
    int n_prompt;
    rag_buf text;
    llm_gen_stats st;
    int rc;
} gen_run;

static int collect(void *ctx, const char *text, size_t len)
{
    rag_buf_append(ctx, text, len);
    return 0;
}

static void *generate_thread(void *p)
{
    gen_run *g = p;
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    gp.n_predict = 40;
    gp.sampling.temperature = 0;
    gp.render_special = 1;
    gp.batcher = g->b;
    rag_err err = {0};
    llm_context_truncate(g->c, 0);
    rag_buf_clear(&g->text);
    g->rc =
        llm_generate(g->c, g->prompt, (size_t)g->n_prompt, &gp, collect, &g->text, &g->st, &err);
    if (g->rc) printf("    generate: %s\n", err.msg);
    return NULL;
}

/* Four greedy generations with prompts of 5 to 290 tokens (several prompt
 * chunks), first one at a time, then all at once: each writes the same
 * text both times, and at once the steps carried more than one token. */
static void test_batcher_concurrent_same_as_alone(void)
{
    const char *path = make_model("qwen2", "--untied --type q8_0 --ctx 512");
    CHECK(path != NULL);
    if (!path) return;
    llm_model *m;
    rag_err err = {0};
    CHECK_INT(llm_model_open(path, &m, &err), 0);
    llm_batcher_params bp = {.max_ctx = 512, .n_threads = 2, .prefill_chunk = 64};
    llm_batcher *b;
    CHECK_INT(llm_batcher_new(m, &bp, &b, &err), 0);
    enum { G = 4 };
    gen_run runs[G];
    memset(runs, 0, sizeof runs);
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = 512;
    cp.n_threads = 2;
    for (int i = 0; i < G; i++) {
        CHECK_INT(llm_context_new(m, &cp, &runs[i].c, &err), 0);
        runs[i].b = b;
        runs[i].n_prompt = 5 + 95 * i;
        for (int t = 0; t < runs[i].n_prompt; t++)
            runs[i].prompt[t] = 3 + (t * 13 + i * 101) % 300;
    }
    char *alone[G];
    for (int i = 0; i < G; i++) {
        generate_thread(&runs[i]);
        CHECK_INT(runs[i].rc, 0);
        alone[i] = rag_xstrdup(rag_buf_str(&runs[i].text));
    }
    llm_batcher_stats before, after;
    llm_batcher_get_stats(b, &before);
    CHECK(before.step_tokens == before.steps); /* one at a time: one token a step */
    pthread_t th[G];
    for (int i = 0; i < G; i++)
        pthread_create(&th[i], NULL, generate_thread, &runs[i]);
    for (int i = 0; i < G; i++)
        pthread_join(th[i], NULL);
    llm_batcher_get_stats(b, &after);
    int same = 0;
    for (int i = 0; i < G; i++) {
        CHECK_INT(runs[i].rc, 0);
        same += !strcmp(alone[i], rag_buf_str(&runs[i].text));
        if (strcmp(alone[i], rag_buf_str(&runs[i].text)))
            printf("    generation %d differs:\n      alone:    %.80s\n      together: %.80s\n", i,
                   alone[i], rag_buf_str(&runs[i].text));
    }
    uint64_t steps = after.steps - before.steps, toks = after.step_tokens - before.step_tokens;
    printf("    %d of %d generations identical; together: %llu tokens in %llu steps, %llu prompt "
           "chunks\n",
           same, G, (unsigned long long)toks, (unsigned long long)steps,
           (unsigned long long)(after.prompt_chunks - before.prompt_chunks));
    CHECK_INT(same, G);
    CHECK(toks > steps * 3 / 2); /* most steps carried several generations */
    llm_batcher_free(b);
    for (int i = 0; i < G; i++) {
        llm_context_free(runs[i].c);
        rag_buf_free(&runs[i].text);
        rag_free(alone[i]);
    }
    llm_model_close(m);
}

static void test_wrong_architecture_refused(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/models/bert-mean-f32.gguf", dir);
    llm_model *m;
    rag_err err = {0};
    CHECK_INT(llm_model_open(path, &m, &err), RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(err.msg, "architecture 'bert' is not supported");
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-spm.gguf", dir);
    CHECK(llm_model_open(path, &m, &err) != 0); /* a vocabulary without weights */
    CHECK_CONTAINS(err.msg, "ggml-vocab-llama-spm.gguf");
}

int main(void)
{
    RUN(test_llama);
    RUN(test_qwen2);
    RUN(test_qwen3);
    RUN(test_pass_size);
    RUN(test_split_f32);
    RUN(test_split_q8_0);
    RUN(test_decode_is_prompt);
    RUN(test_context_copy);
    RUN(test_batch_q8_0);
    RUN(test_batch_f16);
    RUN(test_batcher_concurrent_same_as_alone);
    RUN(test_wrong_architecture_refused);
    return test_summary();
}
