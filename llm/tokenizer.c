/* llm/tokenizer.c: loading a vocabulary from GGUF metadata, special tokens,
 * the special-text partition, dispatch to the four tokenizers, token
 * pieces and streaming detokenization.
 *
 * Metadata read (all under tokenizer.ggml.):
 *   model                 "llama" (SPM), "gpt2" (BPE), "bert" (WPM), "t5" (UGM)
 *   pre                   BPE pre-tokenizer name (tok_pre.c)
 *   tokens                string[n], the token texts (unique)
 *   scores                f32[n] or i32[n], optional (SPM merge priorities)
 *   token_type            int[n], optional: 1 normal, 2 unknown, 3 control,
 *                         4 user-defined, 5 unused, 6 byte (<0xXX>)
 *   merges                string[], BPE only: "left right" by rank
 *   bos/eos/eot/eom/unknown/seperator (sic; separator is read too)/padding/
 *   cls/mask/fim_*_token_id, add_bos_token, add_eos_token, add_space_prefix,
 *   normalizer.lowercase, normalizer.strip_accents, remove_extra_whitespaces,
 *   precompiled_charsmap (UGM, u8[])
 * Array types and lengths are checked against the token count; a special id
 * out of range is ignored (the type's default stays, as in llama.cpp), so
 * every id this module hands out is a valid token.
 *
 * Which tokens end generation and which text is matched as a special token
 * follow llama.cpp's llama_vocab::impl::load, including its text-based
 * detection of EOT/EOG/FIM tokens and the few per-model attribute fixes,
 * because models converted by llama.cpp's scripts rely on them. */
#include "llm/tok_int.h"
#include "base/utf8.h"

#include "base/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCAB (1 << 24)

/* U+FF5C (fullwidth vertical line) and U+2581, as DeepSeek writes them. */
#define FW_BAR "\xEF\xBD\x9C"
#define MARK "\xE2\x96\x81"

/* ---- small helpers ------------------------------------------------------------ */

static int32_t find_token(const llm_vocab *v, const char *s)
{
    int32_t id = tok_strtab_find(&v->str, s, strlen(s));
    return id < v->n_vocab ? id : -1;
}

/* An optional bool key: absent leaves *out alone. */
static int opt_bool(const llm_gguf *g, const char *key, int *out, rag_err *err)
{
    int rc = llm_gguf_get_bool(g, key, out, err);
    if (rc == RAG_ERR_NOTFOUND) {
        rag_err_clear(err);
        return 0;
    }
    return rc;
}

/* An optional token id key. Negative means "none"; an id past the
 * vocabulary is ignored (llama.cpp warns and keeps the default). */
static int opt_id(const llm_gguf *g, const char *key, int32_t n_vocab, int32_t *id, rag_err *err)
{
    int64_t x;
    int rc = llm_gguf_get_i64(g, key, &x, err);
    if (rc == RAG_ERR_NOTFOUND) {
        rag_err_clear(err);
        return 0;
    }
    if (rc) return rc;
    if (x < 0)
        *id = -1;
    else if (x < n_vocab)
        *id = (int32_t)x;
    return 0;
}

/* An optional string key into buf (NUL-terminated, truncated); "" if absent. */
static int opt_str(const llm_gguf *g, const char *key, char *buf, size_t cap, rag_err *err)
{
    const char *s;
    size_t n;
    buf[0] = 0;
    int rc = llm_gguf_get_str(g, key, &s, &n, err);
    if (rc == RAG_ERR_NOTFOUND) {
        rag_err_clear(err);
        return 0;
    }
    if (rc) return rc;
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 0;
}

/* ---- loading ------------------------------------------------------------------------ */

/* Reads tokens, scores and types. */
static int load_tokens(llm_vocab *v, const llm_gguf *g, rag_err *err)
{
    const char *path = llm_gguf_path(g);
    llm_gguf_type et;
    uint64_t n;
    int rc = llm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, err);
    if (rc == RAG_ERR_NOTFOUND)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: no tokenizer.ggml.tokens", path);
    if (rc) return rc;
    if (et != LLM_GGUF_STRING)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: tokenizer.ggml.tokens holds %s, expected strings", path,
                           llm_gguf_type_name(et));
    if (n == 0 || n > MAX_VOCAB)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", path,
                           (unsigned long long)n);
    v->n_vocab = (int32_t)n;
    int64_t kv_tok = llm_gguf_find(g, "tokenizer.ggml.tokens");

    int64_t kv_score = -1, kv_type = -1;
    uint64_t m;
    rc = llm_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &m, err);
    if (rc == RAG_ERR_NOTFOUND) {
        rag_err_clear(err);
    } else if (rc) {
        return rc;
    } else {
        if (et != LLM_GGUF_F32 && et != LLM_GGUF_I32)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.scores holds %s, expected f32", path,
                               llm_gguf_type_name(et));
        if (m != n)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.scores has %llu entries for %llu tokens", path,
                               (unsigned long long)m, (unsigned long long)n);
        kv_score = llm_gguf_find(g, "tokenizer.ggml.scores");
    }
    rc = llm_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &m, err);
    if (rc == RAG_ERR_NOTFOUND) {
        rag_err_clear(err);
    } else if (rc) {
        return rc;
    } else {
        if (et != LLM_GGUF_I32 && et != LLM_GGUF_U32 && et != LLM_GGUF_I8 && et != LLM_GGUF_U8 &&
            et != LLM_GGUF_I16 && et != LLM_GGUF_U16)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.token_type holds %s, expected i32", path,
                               llm_gguf_type_name(et));
        if (m != n)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.token_type has %llu entries for %llu tokens",
                               path, (unsigned long long)m, (unsigned long long)n);
        kv_type = llm_gguf_find(g, "tokenizer.ggml.token_type");
    }

    tok_strtab_init(&v->str, (size_t)n);
    v->score = rag_xcalloc((size_t)n, sizeof *v->score);
    v->attr = rag_xcalloc((size_t)n, sizeof *v->attr);
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        char empty[32];
        llm_gguf_arr_str(g, kv_tok, i, &s, &len);
        if (len == 0) {
            /* llama.cpp gives empty tokens a name so they stay distinct. */
            len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i);
            s = empty;
        }
        int32_t dup = tok_strtab_find(&v->str, s, len);
        if (dup >= 0)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.tokens: token %llu ('%.40s') repeats token %d",
                               path, (unsigned long long)i, tok_strtab_str(&v->str, dup), dup);
        if (tok_strtab_add(&v->str, s, len) < 0)
            return rag_err_set(err, RAG_ERR_LIMIT, "%s: tokenizer.ggml.tokens: too much text",
                               path);
        if (len > v->max_token_len) v->max_token_len = len;
        if (kv_score >= 0) {
            double sc = llm_gguf_arr_float(g, kv_score, i);
            if (sc != sc)
                return rag_err_set(err, RAG_ERR_FORMAT,
                                   "%s: tokenizer.ggml.scores: token %llu has a NaN score", path,
                                   (unsigned long long)i);
            v->score[i] = (float)sc;
        }
        int64_t type = kv_type >= 0 ? llm_gguf_arr_int(g, kv_type, i) : 1;
        static const uint16_t attr_of_type[7] = {
            0, TOK_NORMAL, TOK_UNKNOWN, TOK_CONTROL, TOK_USER_DEFINED, TOK_UNUSED, TOK_BYTE};
        v->attr[i] = type >= 0 && type <= 6 ? attr_of_type[type] : 0;
        if (v->attr[i] & TOK_BYTE) {
            /* Byte tokens are decoded from their text: it must be <0xXX>. */
            if (len != 6 || memcmp(s, "<0x", 3) || !isxdigit((unsigned char)s[3]) ||
                !isxdigit((unsigned char)s[4]) || s[5] != '>')
                return rag_err_set(err, RAG_ERR_FORMAT,
                                   "%s: tokenizer.ggml.token_type: token %llu ('%.40s') is a "
                                   "byte token but not of the form <0xXX>",
                                   path, (unsigned long long)i,
                                   tok_strtab_str(&v->str, (int32_t)i));
        }
    }
    return 0;
}

/* Marks id as ending generation. As in llama.cpp, only a token found by
 * its text (set_eog_text) also becomes a control token; one the metadata
 * names (EOS, EOT, EOM, FIM pad/repo/separator) keeps its GGUF type, so a
 * user-defined end token is still matched in plain text and printed as its
 * text (generation stops before printing an end token anyway). */
static void set_eog(llm_vocab *v, int32_t id)
{
    if (id >= 0) v->attr[id] |= TOK_EOG;
}

static void set_eog_text(llm_vocab *v, int32_t id)
{
    if (id >= 0) v->attr[id] |= TOK_EOG | TOK_CONTROL;
}

/* The first of texts that is a token, or -1. */
static int32_t first_of(const llm_vocab *v, const char *const *texts)
{
    for (size_t i = 0; texts[i]; i++) {
        int32_t id = find_token(v, texts[i]);
        if (id >= 0) return id;
    }
    return -1;
}

/* EOT, EOM and FIM tokens named by text when the metadata does not name
 * them, the end-of-generation set, and llama.cpp's model-specific fixes. */
static void detect_specials(llm_vocab *v, int32_t fim[6])
{
    static const char *const eot_texts[] = {"<|eot_id|>",
                                            "<|im_end|>",
                                            "<|end|>",
                                            "<end_of_turn>",
                                            "<|endoftext|>",
                                            "<|end_of_text|>",
                                            "<EOT>",
                                            "_<EOT>",
                                            "[EOT]",
                                            "<" FW_BAR "end" MARK "of" MARK "sentence" FW_BAR ">",
                                            "<end_of_utterance>",
                                            NULL};
    static const char *const eom_texts[] = {"<|eom_id|>", NULL};
    static const char *const fim_texts[6][10] = {
        {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<" FW_BAR "fim" MARK "begin" FW_BAR ">",
         "<PRE>", MARK "<PRE>", "<|code_prefix|>", "<|prefix|>", NULL},
        {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<" FW_BAR "fim" MARK "hole" FW_BAR ">",
         "<SUF>", MARK "<SUF>", "<|code_suffix|>", "<|suffix|>", NULL},
        {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<" FW_BAR "fim" MARK "end" FW_BAR ">",
         "<MID>", MARK "<MID>", "<|code_middle|>", "<|middle|>", NULL},
        {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL},
        {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL},
        {"<|file_sep|>", NULL},
    };
    static const char *const eog_texts[] = {"<|eot_id|>",
                                            "<|im_end|>",
                                            "<|end|>",
                                            "<|return|>",
                                            "<|call|>",
                                            "<|flush|>",
                                            "<|calls|>",
                                            "<end_of_turn>",
                                            "<|endoftext|>",
                                            "</s>",
                                            "<|eom_id|>",
                                            "<EOT>",
                                            "_<EOT>",
                                            "[EOT]",
                                            "[EOS]",
                                            "<|end_of_text|>",
                                            "<end_of_utterance>",
                                            "<eos>",
                                            "<turn|>",
                                            "<|tool_response>",
                                            "<" FW_BAR "end" MARK "of" MARK "sentence" FW_BAR ">",
                                            "[e~[",
                                            NULL};

    if (v->sp.eot < 0) {
        v->sp.eot = first_of(v, eot_texts);
        if (v->sp.eot >= 0) v->attr[v->sp.eot] |= TOK_CONTROL;
    }
    if (v->eom < 0) {
        v->eom = first_of(v, eom_texts);
        if (v->eom >= 0) v->attr[v->eom] |= TOK_CONTROL;
    }
    for (int k = 0; k < 6; k++) {
        if (fim[k] < 0) {
            fim[k] = first_of(v, fim_texts[k]);
            if (fim[k] >= 0) v->attr[fim[k]] |= TOK_CONTROL;
        }
    }
    /* FIM pad, repo and file separator end generation too. */
    for (int k = 3; k < 6; k++)
        set_eog(v, fim[k]);
    for (size_t i = 0; eog_texts[i]; i++)
        set_eog_text(v, find_token(v, eog_texts[i]));

    /* gpt-oss: these are printed as text. */
    static const char *const shown[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>",
                                        NULL};
    for (size_t i = 0; shown[i]; i++) {
        int32_t id = find_token(v, shown[i]);
        if (id >= 0) v->attr[id] = TOK_USER_DEFINED;
    }
    set_eog(v, v->sp.eos);
    set_eog(v, v->sp.eot);
    set_eog(v, v->eom);

    /* o200k_harmony / solar-open: <|end|> closes a message, not the answer. */
    int32_t t_end = find_token(v, "<|end|>"), t_ret = find_token(v, "<|return|>");
    int32_t t_call = find_token(v, "<|call|>"), t_calls = find_token(v, "<|calls|>");
    int32_t t_flush = find_token(v, "<|flush|>");
#define IS_EOG(id) ((id) >= 0 && (v->attr[id] & TOK_EOG))
    int has_call = IS_EOG(t_call) || IS_EOG(t_calls);
    if (IS_EOG(t_end) && ((IS_EOG(t_ret) && has_call) || (has_call && IS_EOG(t_flush))))
        v->attr[t_end] = TOK_USER_DEFINED;
    /* gemma4 / paddleocr: </s> is an ordinary token there. */
    int32_t t_s = find_token(v, "</s>"), t_tool = find_token(v, "<|tool_response>");
    if (IS_EOG(t_s) && IS_EOG(t_tool)) v->attr[t_s] = TOK_NORMAL;
#undef IS_EOG
}

/* The per-model whitespace stripping llama.cpp applies around some special
 * tokens (decided by model name, pre-tokenizer and architecture). */
static int set_strip_attrs(llm_vocab *v, const llm_gguf *g, rag_err *err)
{
    char name[256], arch[128], pre[128];
    int rc = opt_str(g, "general.name", name, sizeof name, err);
    if (!rc) rc = opt_str(g, "general.architecture", arch, sizeof arch, err);
    if (!rc) rc = opt_str(g, "tokenizer.ggml.pre", pre, sizeof pre, err);
    if (rc) return rc;
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") ||
        strstr(arch, "nomic-bert-moe") || strstr(arch, "jina-bert-v3")) {
        int32_t id = find_token(v, "<mask>");
        if (id >= 0) v->attr[id] |= TOK_LSTRIP;
    } else if (strstr(name, "phi-3") || strstr(name, "phi3")) {
        for (size_t i = 0; i < v->n_special; i++)
            v->attr[v->special[i]] |= TOK_RSTRIP;
        int32_t id = find_token(v, "</s>");
        if (id >= 0) v->attr[id] |= TOK_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t i = 0; i < 3; i++) {
            id = find_token(v, keep[i]);
            if (id >= 0) v->attr[id] &= (uint16_t)~TOK_RSTRIP;
        }
    } else if (strstr(name, "modern-bert")) {
        int32_t id = find_token(v, "[MASK]");
        if (id >= 0) v->attr[id] |= TOK_LSTRIP;
    }
    return 0;
}

typedef struct by_len {
    uint32_t len;
    int32_t id;
} by_len;

/* Longest text first, then by id (llama.cpp's sort leaves ties unordered). */
static int cmp_by_len(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int32_t trie_new(llm_vocab *v, uint8_t byte, size_t *cap)
{
    v->trie = rag_xgrow(v->trie, cap, v->n_trie + 1, sizeof *v->trie);
    tok_trie_node *t = &v->trie[v->n_trie];
    t->child = t->sibling = t->special = -1;
    t->byte = byte;
    return (int32_t)v->n_trie++;
}

/* The tokens matched in raw text (control, user-defined, unknown), longest
 * text first as llama.cpp orders them, and a byte trie over their texts. */
static void build_specials(llm_vocab *v)
{
    for (int32_t id = 0; id < v->n_vocab; id++)
        if (v->attr[id] & (TOK_CONTROL | TOK_USER_DEFINED | TOK_UNKNOWN)) v->n_special++;
    size_t n_alloc = v->n_special ? v->n_special : 1, k = 0;
    by_len *order = rag_xmalloc(n_alloc * sizeof *order);
    for (int32_t id = 0; id < v->n_vocab; id++) {
        if (!(v->attr[id] & (TOK_CONTROL | TOK_USER_DEFINED | TOK_UNKNOWN))) continue;
        order[k].len = v->str.len[id];
        order[k].id = id;
        k++;
    }
    qsort(order, v->n_special, sizeof *order, cmp_by_len);
    v->special = rag_xmalloc(n_alloc * sizeof *v->special);
    for (k = 0; k < v->n_special; k++)
        v->special[k] = order[k].id;
    rag_free(order);

    for (int b = 0; b < 256; b++)
        v->trie_root[b] = -1;
    size_t cap = 0;
    for (size_t r = 0; r < v->n_special; r++) {
        const uint8_t *s = (const uint8_t *)tok_strtab_str(&v->str, v->special[r]);
        size_t n = v->str.len[v->special[r]];
        int32_t node = v->trie_root[s[0]];
        if (node < 0) node = v->trie_root[s[0]] = trie_new(v, s[0], &cap);
        for (size_t i = 1; i < n; i++) {
            int32_t c = v->trie[node].child;
            while (c >= 0 && v->trie[c].byte != s[i])
                c = v->trie[c].sibling;
            if (c < 0) {
                c = trie_new(v, s[i], &cap);
                v->trie[c].sibling = v->trie[node].child;
                v->trie[node].child = c;
            }
            node = c;
        }
        if (v->trie[node].special < 0) v->trie[node].special = (int32_t)r;
    }
}

static int load(llm_vocab *v, const llm_gguf *g, rag_err *err)
{
    const char *path = llm_gguf_path(g);
    char model[64];
    int rc = opt_str(g, "tokenizer.ggml.model", model, sizeof model, err);
    if (rc) return rc;
    if (!model[0]) return rag_err_set(err, RAG_ERR_FORMAT, "%s: no tokenizer.ggml.model", path);
    llm_special *sp = &v->sp;
    sp->bos = sp->eos = sp->eot = sp->sep = sp->cls = sp->pad = sp->unk = sp->mask = -1;
    v->eom = -1;
    /* llama.cpp's defaults per type, before the metadata has its say. */
    if (!strcmp(model, "llama")) {
        v->kind = LLM_VOCAB_SPM;
        sp->bos = 1, sp->eos = 2, sp->unk = 0;
        sp->add_bos = 1, sp->add_eos = 0;
        v->add_space_prefix = 1;
    } else if (!strcmp(model, "gpt2")) {
        v->kind = LLM_VOCAB_BPE;
        sp->bos = 11, sp->eos = 11; /* Falcon's <|endoftext|>, llama.cpp's default */
        sp->add_bos = 0, sp->add_eos = 0;
        v->add_space_prefix = 0;
    } else if (!strcmp(model, "bert")) {
        v->kind = LLM_VOCAB_WPM;
        sp->bos = 101, sp->unk = 100, sp->sep = 102, sp->pad = 0, sp->mask = 103;
        sp->add_bos = 1, sp->add_eos = 0;
        v->add_space_prefix = 0;
    } else if (!strcmp(model, "t5")) {
        v->kind = LLM_VOCAB_UGM;
        sp->eos = 1, sp->unk = 2, sp->pad = 0;
        sp->add_bos = 0, sp->add_eos = 1;
        v->add_space_prefix = 0;
    } else if (!strcmp(model, "rwkv") || !strcmp(model, "plamo2") || !strcmp(model, "gemma4") ||
               !strcmp(model, "no_vocab") || !strcmp(model, "none")) {
        return rag_err_set(
            err, RAG_ERR_UNSUPPORTED,
            "%s: tokenizer.ggml.model '%s' is not supported (llama, gpt2, bert, t5 are)", path,
            model);
    } else {
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: unknown tokenizer.ggml.model '%.40s'", path,
                           model);
    }
    rc = opt_str(g, "tokenizer.ggml.pre", v->pre, sizeof v->pre, err);
    if (rc) return rc;
    if (v->kind != LLM_VOCAB_BPE)
        v->pre[0] = 0;
    else if (!v->pre[0])
        strcpy(v->pre, "default");

    rc = load_tokens(v, g, err);
    if (rc) return rc;

    int32_t n = v->n_vocab;
    if (v->kind == LLM_VOCAB_BPE) {
        int add_bos = 0;
        rc = tok_pre_new(v->pre, &v->pretok, &v->ignore_merges, &add_bos, err);
        if (rc) {
            /* Name the file too. */
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            return rag_err_set(err, rc, "%s: %s", path, m);
        }
        if (add_bos) sp->add_bos = 1;
        rc = tok_bpe_load(v, g, err);
        if (rc) return rc;
    } else if (v->kind == LLM_VOCAB_SPM) {
        tok_spm_prepare(v);
    } else if (v->kind == LLM_VOCAB_UGM) {
        rc = tok_ugm_load(v, g, err);
        if (!rc)
            rc = opt_bool(g, "tokenizer.ggml.remove_extra_whitespaces", &v->ugm_remove_extra_ws,
                          err);
        if (rc) return rc;
    } else {
        v->wpm_lowercase = 1;
        rc = opt_bool(g, "tokenizer.ggml.normalizer.lowercase", &v->wpm_lowercase, err);
        v->wpm_strip_accents = v->wpm_lowercase;
        if (!rc)
            rc = opt_bool(g, "tokenizer.ggml.normalizer.strip_accents", &v->wpm_strip_accents, err);
        if (rc) return rc;
    }
    rc = opt_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err);
    if (rc) return rc;

    /* Defaults that do not fit this vocabulary are dropped, then the keys. */
    int32_t *ids[] = {&sp->bos, &sp->eos, &sp->unk, &sp->sep, &sp->pad, &sp->mask};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*ids[i] >= n) *ids[i] = -1;
    int32_t fim[6] = {-1, -1, -1, -1, -1, -1};
    const struct {
        const char *key;
        int32_t *id;
    } keys[] = {
        {"tokenizer.ggml.bos_token_id", &sp->bos},
        {"tokenizer.ggml.eos_token_id", &sp->eos},
        {"tokenizer.ggml.eot_token_id", &sp->eot},
        {"tokenizer.ggml.eom_token_id", &v->eom},
        {"tokenizer.ggml.unknown_token_id", &sp->unk},
        {"tokenizer.ggml.seperator_token_id", &sp->sep},
        {"tokenizer.ggml.separator_token_id", &sp->sep},
        {"tokenizer.ggml.padding_token_id", &sp->pad},
        {"tokenizer.ggml.cls_token_id", &sp->cls},
        {"tokenizer.ggml.mask_token_id", &sp->mask},
        {"tokenizer.ggml.prefix_token_id", &fim[0]},
        {"tokenizer.ggml.suffix_token_id", &fim[1]},
        {"tokenizer.ggml.middle_token_id", &fim[2]},
        {"tokenizer.ggml.fim_pre_token_id", &fim[0]},
        {"tokenizer.ggml.fim_suf_token_id", &fim[1]},
        {"tokenizer.ggml.fim_mid_token_id", &fim[2]},
        {"tokenizer.ggml.fim_pad_token_id", &fim[3]},
        {"tokenizer.ggml.fim_rep_token_id", &fim[4]},
        {"tokenizer.ggml.fim_sep_token_id", &fim[5]},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        rc = opt_id(g, keys[i].key, n, keys[i].id, err);
        if (rc) return rc;
    }
    rc = opt_bool(g, "tokenizer.ggml.add_bos_token", &sp->add_bos, err);
    if (!rc) rc = opt_bool(g, "tokenizer.ggml.add_eos_token", &sp->add_eos, err);
    sp->add_sep = 1;
    if (!rc) rc = opt_bool(g, "tokenizer.ggml.add_sep_token", &sp->add_sep, err);
    if (rc) return rc;
    if (v->kind == LLM_VOCAB_WPM) {
        if (sp->cls < 0 && sp->bos < 0)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: a bert vocabulary needs tokenizer.ggml.cls_token_id", path);
        if (sp->sep < 0)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: a bert vocabulary needs tokenizer.ggml.seperator_token_id",
                               path);
    } else {
        if (sp->add_bos && sp->bos < 0)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.add_bos_token is true, but "
                               "tokenizer.ggml.bos_token_id is not set",
                               path);
        if (sp->add_eos && sp->eos < 0)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: tokenizer.ggml.add_eos_token is true, but "
                               "tokenizer.ggml.eos_token_id is not set",
                               path);
    }
    detect_specials(v, fim);
    build_specials(v);
    return set_strip_attrs(v, g, err);
}

int llm_vocab_load(const llm_gguf *g, llm_vocab **out, rag_err *err)
{
    *out = NULL;
    llm_vocab *v = rag_xcalloc(1, sizeof *v);
    int rc = load(v, g, err);
    if (rc) {
        llm_vocab_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void llm_vocab_free(llm_vocab *v)
{
    if (!v) return;
    tok_strtab_free(&v->str);
    rag_free(v->score);
    rag_free(v->attr);
    rag_free(v->special);
    rag_free(v->trie);
    rag_free(v->merge);
    tok_pre_free(v->pretok);
    tok_ugm_free(v);
    rag_free(v);
}

llm_vocab_kind llm_vocab_kind_of(const llm_vocab *v)
{
    return v->kind;
}
int32_t llm_vocab_size(const llm_vocab *v)
{
    return v->n_vocab;
}
const char *llm_vocab_pre(const llm_vocab *v)
{
    return v->pre;
}
const llm_special *llm_vocab_special(const llm_vocab *v)
{
    return &v->sp;
}

int llm_token_is_eog(const llm_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n_vocab && (v->attr[id] & TOK_EOG);
}

int llm_token_is_control(const llm_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n_vocab && (v->attr[id] & TOK_CONTROL);
}

const char *llm_token_text(const llm_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n_vocab) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = v->str.len[id];
    return tok_strtab_str(&v->str, id);
}

/* ---- the special-text partition ----------------------------------------------------- */

/* A stretch of the input: plain text (id < 0) or one special token. */
typedef struct frag {
    int32_t id;
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static void frag_push(frags *f, int32_t id, size_t off, size_t len)
{
    if (f->n == f->cap) f->v = rag_xgrow(f->v, &f->cap, f->n + 1, sizeof *f->v);
    f->v[f->n].id = id;
    f->v[f->n].off = off;
    f->v[f->n].len = len;
    f->n++;
}

typedef struct occ {
    uint32_t rank; /* in v->special */
    size_t pos;
} occ;

static int cmp_occ(const void *a, const void *b)
{
    const occ *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_frag_off(const void *a, const void *b)
{
    const frag *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Cuts text into plain stretches and special tokens the way llama.cpp's
 * tokenizer_st_partition does: special tokens are taken longest text first;
 * each takes its leftmost occurrences (not overlapping each other) inside
 * the text that no earlier one took. User-defined tokens are always
 * matched, control and unknown ones only with parse_special. Tokens with
 * the strip attributes also take the ASCII whitespace next to them.
 *
 * One trie pass finds every occurrence of every special text; the order
 * above is then replayed over those occurrences alone, with a byte map of
 * what is taken (0 free, 1 token, 2 stripped whitespace). */
/* Whether control tokens may be recognised in text[p, p+n): everywhere
 * with parse_special, or where the mask says so (chat prompts: template
 * text yes, message content no). */
static int special_allowed(const uint8_t *mask, int parse_special, size_t p, size_t n)
{
    if (!mask) return parse_special;
    for (size_t i = p; i < p + n; i++)
        if (!mask[i]) return 0;
    return 1;
}

static void partition(const llm_vocab *v, const char *text, size_t len, int parse_special,
                      const uint8_t *mask, frags *out)
{
    occ *o = NULL;
    size_t n_occ = 0, occ_cap = 0;
    const uint8_t *s = (const uint8_t *)text;
    for (size_t p = 0; p < len && v->n_special; p++) {
        int32_t node = v->trie_root[s[p]];
        size_t q = p + 1;
        while (node >= 0) {
            int32_t r = v->trie[node].special;
            if (r >= 0 && (!(v->attr[v->special[r]] & (TOK_CONTROL | TOK_UNKNOWN)) ||
                           special_allowed(mask, parse_special, p, v->str.len[v->special[r]]))) {
                if (n_occ == occ_cap) o = rag_xgrow(o, &occ_cap, n_occ + 1, sizeof *o);
                o[n_occ].rank = (uint32_t)r;
                o[n_occ].pos = p;
                n_occ++;
            }
            if (q >= len) break;
            int32_t c = v->trie[node].child;
            while (c >= 0 && v->trie[c].byte != s[q])
                c = v->trie[c].sibling;
            node = c;
            q++;
        }
    }
    if (n_occ == 0) {
        if (len) frag_push(out, -1, 0, len);
        return;
    }
    qsort(o, n_occ, sizeof *o, cmp_occ);
    uint8_t *taken = rag_xcalloc(len, 1);
    frags tok = {0};
    for (size_t k = 0; k < n_occ; k++) {
        int32_t id = v->special[o[k].rank];
        size_t p = o[k].pos, tl = v->str.len[id], i;
        for (i = p; i < p + tl && !taken[i]; i++) {
        }
        if (i < p + tl) continue; /* overlaps something taken before */
        memset(taken + p, 1, tl);
        frag_push(&tok, id, p, tl);
        if (v->attr[id] & TOK_LSTRIP)
            for (i = p; i > 0 && !taken[i - 1] && ascii_space(text[i - 1]); i--)
                taken[i - 1] = 2;
        if (v->attr[id] & TOK_RSTRIP)
            for (i = p + tl; i < len && !taken[i] && ascii_space(text[i]); i++)
                taken[i] = 2;
    }
    if (tok.n > 1) qsort(tok.v, tok.n, sizeof *tok.v, cmp_frag_off);
    size_t p = 0, k = 0;
    while (p < len) {
        if (k < tok.n && tok.v[k].off == p) {
            frag_push(out, tok.v[k].id, p, tok.v[k].len);
            p += tok.v[k].len;
            k++;
        } else if (taken[p]) {
            p++;
        } else {
            size_t e = p;
            while (e < len && !taken[e])
                e++;
            frag_push(out, -1, p, e - p);
            p = e;
        }
    }
    rag_free(tok.v);
    rag_free(taken);
    rag_free(o);
}

/* ---- tokenizing -------------------------------------------------------------------- */

static int encode_text(const llm_vocab *v, const char *text, size_t len, int parse_special,
                       const uint8_t *mask, int prev_special, llm_tokens *out, rag_err *err)
{
    frags f = {0};
    partition(v, text, len, parse_special, mask, &f);
    int rc = 0;
    for (size_t i = 0; i < f.n && !rc; i++) {
        const frag *fr = &f.v[i];
        if (fr->id >= 0) {
            tok_push(out, fr->id);
            prev_special = 1;
            continue;
        }
        switch (v->kind) {
        case LLM_VOCAB_SPM:
            /* The space prefix goes at the start and after special tokens. */
            rc = tok_spm_encode(v, text + fr->off, fr->len, v->add_space_prefix && prev_special,
                                out, err);
            break;
        case LLM_VOCAB_BPE:
            rc = tok_bpe_encode(v, text + fr->off, fr->len, out, err);
            break;
        case LLM_VOCAB_WPM:
            rc = tok_wpm_encode(v, text + fr->off, fr->len, out, err);
            break;
        case LLM_VOCAB_UGM:
            /* The space prefix is the normaliser's: every stretch gets it. */
            rc = tok_ugm_encode(v, text + fr->off, fr->len, out, err);
            break;
        }
        prev_special = 0;
    }
    rag_free(f.v);
    return rc;
}

int llm_tokenize(const llm_vocab *v, const char *text, size_t len, int add_special,
                 int parse_special, llm_tokens *out, rag_err *err)
{
    if (!text && len) return rag_err_set(err, RAG_ERR_INVALID, "llm_tokenize: no text");
    if (len > LLM_TOKENIZE_MAX_BYTES)
        return rag_err_set(err, RAG_ERR_LIMIT, "llm_tokenize: %zu bytes of text, the limit is %d",
                           len, LLM_TOKENIZE_MAX_BYTES);
    const llm_special *sp = &v->sp;
    size_t n0 = out->n;
    int rc;
    if (v->kind == LLM_VOCAB_WPM) {
        if (add_special) tok_push(out, sp->cls >= 0 ? sp->cls : sp->bos);
        rc = encode_text(v, text, len, parse_special, NULL, 1, out, err);
        if (!rc && add_special) tok_push(out, sp->sep);
    } else {
        if (add_special && sp->add_bos) tok_push(out, sp->bos);
        rc = encode_text(v, text, len, parse_special, NULL, 1, out, err);
        if (!rc && add_special && sp->add_eos) tok_push(out, sp->eos);
    }
    if (rc) out->n = n0;
    return rc;
}

int llm_tokenize_masked(const llm_vocab *v, const char *text, size_t len, const uint8_t *special_ok,
                        llm_tokens *out, rag_err *err)
{
    if (len > LLM_TOKENIZE_MAX_BYTES)
        return rag_err_set(err, RAG_ERR_LIMIT, "llm_tokenize: %zu bytes of text, the limit is %d",
                           len, LLM_TOKENIZE_MAX_BYTES);
    const llm_special *sp = &v->sp;
    size_t n0 = out->n;
    if (sp->add_bos && v->kind != LLM_VOCAB_WPM) tok_push(out, sp->bos);
    int rc = encode_text(v, text, len, 0, special_ok, 1, out, err);
    if (rc) out->n = n0;
    return rc;
}

int llm_tokenize_pair(const llm_vocab *v, const char *a, size_t a_len, const char *b, size_t b_len,
                      llm_tokens *out, rag_err *err)
{
    const llm_special *sp = &v->sp;
    int32_t start = sp->cls >= 0 ? sp->cls : sp->bos;
    int32_t end = sp->eos >= 0 ? sp->eos : sp->sep;
    int32_t sep = sp->sep >= 0 ? sp->sep : end;
    if (start < 0 || end < 0)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "llm_tokenize_pair: the vocabulary has no CLS/BOS, or no SEP/EOS token");
    if (a_len > LLM_TOKENIZE_MAX_BYTES || b_len > LLM_TOKENIZE_MAX_BYTES)
        return rag_err_set(err, RAG_ERR_LIMIT, "llm_tokenize_pair: text over the limit");
    if ((!a && a_len) || (!b && b_len))
        return rag_err_set(err, RAG_ERR_INVALID, "llm_tokenize_pair: no text");
    size_t n0 = out->n;
    tok_push(out, start);
    int rc = encode_text(v, a, a_len, 0, NULL, 1, out, err);
    if (!rc) {
        tok_push(out, end);
        if (sp->add_sep) tok_push(out, sep);
        rc = encode_text(v, b, b_len, 0, NULL, 1, out, err);
    }
    if (!rc) tok_push(out, end);
    if (rc) out->n = n0;
    return rc;
}

/* ---- pieces and detokenization ---------------------------------------------------- */

/* The piece of id into out, which has room for the token's text length
 * (a piece is never longer). */
static size_t piece(const llm_vocab *v, int32_t id, int render_special, char *out)
{
    uint16_t a = v->attr[id];
    if (!render_special && (a & (TOK_CONTROL | TOK_UNKNOWN))) return 0;
    const char *s = tok_strtab_str(&v->str, id);
    size_t n = v->str.len[id];
    if (a & (TOK_CONTROL | TOK_UNKNOWN | TOK_USER_DEFINED)) {
        memcpy(out, s, n);
        return n;
    }
    if (a & TOK_NORMAL) {
        if (v->kind == LLM_VOCAB_BPE) return tok_bpe_unmap(s, n, out);
        size_t o = 0;
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && !memcmp(s + i, MARK, 3)) {
                out[o++] = ' ';
                i += 3;
            } else {
                out[o++] = s[i++];
            }
        }
        return o;
    }
    if (a & TOK_BYTE) {
        out[0] = (char)strtol((char[]){s[3], s[4], 0}, NULL, 16);
        return 1;
    }
    return 0; /* unused and undefined tokens print nothing */
}

size_t llm_token_to_piece(const llm_vocab *v, int32_t id, int render_special, char *buf, size_t cap)
{
    if (id < 0 || id >= v->n_vocab) return 0;
    size_t need = v->str.len[id];
    if (cap >= need) return piece(v, id, render_special, buf);
    char *tmp = rag_xmalloc(need + 1);
    size_t n = piece(v, id, render_special, tmp);
    memcpy(buf, tmp, n < cap ? n : cap);
    rag_free(tmp);
    return n;
}

size_t llm_detok_bound(const llm_vocab *v)
{
    /* pending (< 4) + piece, every byte possibly becoming U+FFFD (3 bytes) */
    return 3 * (v->max_token_len + 4);
}

void llm_detok_init(llm_detok *d)
{
    memset(d, 0, sizeof *d);
    d->first = 1;
}

/* Whether s[0..n) is the start of a valid UTF-8 character cut short. */
static int utf8_cut_short(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c == 0xE0)
        need = 3, lo = 0xA0;
    else if (c == 0xED)
        need = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF)
        need = 3;
    else if (c == 0xF0)
        need = 4, lo = 0x90;
    else if (c == 0xF4)
        need = 4, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3)
        need = 4;
    else
        return 0;
    if (n >= need) return 0;
    for (size_t i = 1; i < n; i++) {
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
    }
    return 1;
}

/* Writes the complete characters of s[0..n) to out (NULL: only counts),
 * invalid bytes as U+FFFD; returns the bytes written and in *keep how many
 * trailing bytes form an incomplete character. */
static size_t emit_complete(const uint8_t *s, size_t n, char *out, size_t *keep)
{
    size_t o = 0, i = 0;
    *keep = 0;
    while (i < n) {
        int32_t cp;
        size_t l = s[i] < 0x80 ? 1 : rag_utf8_decode(s + i, n - i, &cp);
        if (l) {
            if (out) memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else if (utf8_cut_short(s + i, n - i)) {
            *keep = n - i;
            break;
        } else {
            if (out) memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

size_t llm_detok_push(const llm_vocab *v, llm_detok *d, int32_t id, int render_special, char *out,
                      size_t cap)
{
    if (id < 0 || id >= v->n_vocab) return 0;
    size_t tl = v->str.len[id];
    char small[256];
    char *buf = d->n_pending + tl <= sizeof small ? small : rag_xmalloc(d->n_pending + tl);
    memcpy(buf, d->pending, d->n_pending);
    char *pc = buf + d->n_pending;
    size_t pn = piece(v, id, render_special, pc);
    int first = d->first;
    if (first && pn > 0) {
        /* The space the tokenizer put in front of the text is not the user's. */
        if ((v->add_space_prefix || v->kind == LLM_VOCAB_WPM) && pc[0] == ' ') {
            memmove(pc, pc + 1, pn - 1);
            pn--;
        }
        first = 0;
    }
    size_t total = d->n_pending + pn, keep;
    size_t need = emit_complete((const uint8_t *)buf, total, NULL, &keep);
    if (need > cap) {
        if (buf != small) rag_free(buf);
        return need; /* nothing appended: the caller needs a larger buffer */
    }
    emit_complete((const uint8_t *)buf, total, out, &keep);
    memcpy(d->pending, buf + total - keep, keep);
    d->n_pending = keep;
    d->first = first;
    if (buf != small) rag_free(buf);
    return need;
}

size_t llm_detok_flush(llm_detok *d, char *out, size_t cap)
{
    if (d->n_pending == 0) return 0;
    if (cap < 3) return 3;
    memcpy(out, "\xEF\xBF\xBD", 3);
    d->n_pending = 0;
    return 3;
}
