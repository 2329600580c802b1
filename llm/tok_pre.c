/* llm/tok_pre.c: byte-level BPE pre-tokenizers: the regular expressions
 * llama.cpp applies for each tokenizer.ggml.pre, compiled with PCRE2, and
 * the splitting they drive.
 *
 * A pre-tokenizer is a list of regexes applied in sequence: the first cuts
 * the text into its matches and the stretches between them (those are kept
 * as pieces too), each following regex cuts every piece the same way. A
 * piece is a complete subject, so lookaheads and `$` stop at its end. This
 * is llama.cpp's unicode_regex_split(); its hand-written fast paths for the
 * GPT-2 and Llama-3 patterns compute what the patterns themselves match, so
 * PCRE2 running the patterns gives the same pieces.
 *
 * llama.cpp runs std::regex with Unicode classes collapsed to placeholder
 * bytes; two consequences are reproduced here:
 *   - `\s` is the Unicode White_Space set; PCRE2's `\s` also has U+180E,
 *     which is therefore swapped for another non-space character
 *     (U+FFFD, same length) before matching;
 *   - invalid UTF-8 (which llama.cpp reads as U+FFFD) is matched as U+FFFD,
 *     but the pieces keep the original bytes, so byte-level BPE encodes
 *     them exactly.
 * Case-insensitive groups (?i:'s|...) are written out as ('[sS]|...), as in
 * llama.cpp, and the GPT-4o/Tekken patterns use llama.cpp's adapted forms
 * (letters that are not ASCII lower/upper case) so that the results match. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "llm/tok_int.h"
#include "base/utf8.h"

#include "base/mem.h"

#include <stdio.h>
#include <string.h>

#define MAX_RE 8

struct tok_pre {
    int n_re;
    pcre2_code *re[MAX_RE];
};

/* ---- the patterns (from llama.cpp's llm_tokenizer_bpe) -------------------- */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3                                                                                  \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"   \
                    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"        \
                    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN35                                                                                  \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+"    \
                    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_SEED_CODER                                                                              \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"        \
                    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Upper/lower-case letter runs, as llama.cpp adapts them: "a letter that is
 * not a-z" and "a letter that is not A-Z" (llama.cpp writes them with
 * capturing groups; non-capturing ones match the same and spare PCRE2 a
 * backtracking frame per letter). */
#define RE_UPPER "(?:(?=\\p{L})[^a-z])"
#define RE_LOWER "(?:(?=\\p{L})[^A-Z])"
#define RE_GPT4O                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" RE_CONTRACTIONS                             \
    "?|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER "*" RE_CONTRACTIONS                           \
    "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER             \
    "+" RE_LOWER "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* CJK ideographs (U+4E00..U+9FA5), U+0800..U+4E00, Hangul syllables. */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* DeepSeek LLM's cased letters, exactly as its tokenizer.json lists them. */
#define RE_DEEPSEEK_LETTERS                                                                        \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"            \
    "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"         \
    "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"                  \
    "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"    \
    "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}"                 \
    "\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"                 \
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"         \
    "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"        \
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}"                 \
    "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}"         \
    "\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}"         \
    "\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"                   \
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}"                  \
    "\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"                 \
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}"                 \
    "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}"             \
    "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"         \
    "\\x{1E900}-\\x{1E943}]+"
#define RE_DEEPSEEK_PUNCT                                                                          \
    "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+"
/* Words up to a space or punctuation, ASCII or CJK/Indic/Arabic
 * (… 。 ， 、 । ۔ ،). The parentheses and '|' are inside the class: that is
 * the pattern as the models ship it. */
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+"

typedef struct pre_set {
    const char *re[MAX_RE]; /* NULL-terminated */
} pre_set;

static const pre_set set_default = {
    {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL}};
static const pre_set set_gpt2 = {{RE_GPT2, NULL}};
static const pre_set set_llama3 = {{RE_LLAMA3, NULL}};
static const pre_set set_qwen2 = {{RE_QWEN2, NULL}};
static const pre_set set_qwen35 = {{RE_QWEN35, NULL}};
static const pre_set set_seed_coder = {{RE_SEED_CODER, NULL}};
static const pre_set set_falcon = {
    {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL}};
static const pre_set set_starcoder = {{"\\p{N}", RE_GPT2, NULL}};
/* "\s+$" is written "(?<!\s)\s+$": the same matches (a trailing run of
 * whitespace is matched from its start), but a search no longer restarts
 * inside every run of whitespace that is not at the end, which made long
 * runs quadratic. */
static const pre_set set_deepseek_llm = {{"[\\r\\n]", RE_DEEPSEEK_LETTERS, RE_DEEPSEEK_PUNCT,
                                          "(?<!\\s)\\s+$", RE_DEEPSEEK_CJK, "\\p{N}+", NULL}};
static const pre_set set_deepseek_coder = {
    {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}", NULL}};
static const pre_set set_deepseek_v3 = {
    {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
     "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
     "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     NULL}};
static const pre_set set_bloom = {{RE_BLOOM, NULL}};
static const pre_set set_viking = {{RE_BLOOM, "\\p{N}", NULL}};
static const pre_set set_gpt4o = {{RE_GPT4O, NULL}};
static const pre_set set_tekken = {{RE_TEKKEN, NULL}};

/* tokenizer.ggml.pre values and what llama.cpp does with them; names with
 * the same set share the regexes. "gpt-neox" is not a llama.cpp name; GPT-NeoX
 * tokenizers use GPT-2's byte-level split, so it is taken as that. */
static const struct pre_name {
    const char *name;
    const pre_set *set;
    unsigned char ignore_merges, add_bos;
} pre_names[] = {
    {"default", &set_default, 0, 0},
    {"gpt-2", &set_gpt2, 0, 0},
    {"phi-2", &set_gpt2, 0, 0},
    {"mpt", &set_gpt2, 0, 0},
    {"olmo", &set_gpt2, 0, 0},
    {"jais", &set_gpt2, 0, 0},
    {"gpt-neox", &set_gpt2, 0, 0},
    {"jina-es", &set_gpt2, 0, 0},
    {"jina-de", &set_gpt2, 0, 0},
    {"jina-v2-es", &set_gpt2, 0, 0},
    {"jina-v2-de", &set_gpt2, 0, 0},
    {"jina-v1-en", &set_gpt2, 0, 0},
    {"jina-v2-code", &set_gpt2, 0, 0},
    {"roberta-bpe", &set_gpt2, 0, 0},
    {"gigachat", &set_gpt2, 0, 0},
    {"a.x-4.0", &set_gpt2, 0, 0},
    {"mellum", &set_gpt2, 0, 0},
    {"modern-bert", &set_gpt2, 0, 0},
    {"trillion", &set_gpt2, 0, 0},
    {"granite-docling", &set_gpt2, 0, 0},
    {"exaone4", &set_gpt2, 0, 0},
    {"llama3", &set_llama3, 1, 1},
    {"llama-v3", &set_llama3, 1, 1},
    {"llama-bpe", &set_llama3, 1, 1},
    {"falcon3", &set_llama3, 1, 1},
    {"falcon-h1", &set_llama3, 1, 1},
    {"pixtral", &set_llama3, 1, 1},
    {"midm-2.0", &set_llama3, 1, 1},
    {"lfm2", &set_llama3, 1, 1},
    {"jina-v5-nano", &set_llama3, 1, 1},
    {"dbrx", &set_llama3, 0, 0},
    {"smaug-bpe", &set_llama3, 0, 0},
    {"qwen2", &set_qwen2, 0, 0},
    {"deepseek-r1-qwen", &set_qwen2, 0, 0},
    {"kormo", &set_qwen2, 0, 0},
    {"f2llmv2", &set_qwen2, 0, 0},
    {"megrez", &set_qwen2, 0, 0},
    {"stablelm2", &set_qwen2, 0, 0},
    {"hunyuan", &set_qwen2, 0, 0},
    {"solar-open", &set_qwen2, 0, 0},
    {"grok-2", &set_qwen2, 0, 0},
    {"qwen35", &set_qwen35, 0, 0},
    {"seed-coder", &set_seed_coder, 0, 0},
    {"falcon", &set_falcon, 0, 0},
    {"starcoder", &set_starcoder, 0, 0},
    {"refact", &set_starcoder, 0, 0},
    {"command-r", &set_starcoder, 0, 0},
    {"smollm", &set_starcoder, 0, 0},
    {"codeshell", &set_starcoder, 0, 0},
    {"exaone", &set_starcoder, 0, 0},
    {"minerva-7b", &set_starcoder, 0, 0},
    {"mellum2", &set_starcoder, 0, 0},
    {"deepseek-llm", &set_deepseek_llm, 0, 0},
    {"deepseek-coder", &set_deepseek_coder, 0, 0},
    {"deepseek-v3", &set_deepseek_v3, 0, 0},
    {"hunyuan-dense", &set_deepseek_v3, 0, 0},
    {"joyai-llm", &set_deepseek_v3, 0, 0},
    {"hy_v4", &set_deepseek_v3, 0, 0},
    {"poro-chat", &set_bloom, 0, 0},
    {"bloom", &set_bloom, 0, 0},
    {"gpt3-finnish", &set_bloom, 0, 0},
    {"viking", &set_viking, 0, 0},
    {"gpt-4o", &set_gpt4o, 0, 0},
    {"llama4", &set_gpt4o, 0, 0},
    {"kanana2", &set_gpt4o, 0, 0},
    {"talkie", &set_gpt4o, 0, 0},
    {"minimax-m2", &set_gpt4o, 0, 0},
    {"tekken", &set_tekken, 1, 1},
};

void tok_pre_free(tok_pre *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_re; i++)
        pcre2_code_free(p->re[i]);
    rag_free(p);
}

int tok_pre_new(const char *name, tok_pre **out, int *ignore_merges, int *add_bos, rag_err *err)
{
    *out = NULL;
    const struct pre_name *pn = NULL;
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++)
        if (!strcmp(pre_names[i].name, name)) pn = &pre_names[i];
    if (!pn)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "tokenizer.ggml.pre: unknown pre-tokenizer '%.80s' for a gpt2 (BPE) "
                           "vocabulary",
                           name);
    tok_pre *p = rag_xcalloc(1, sizeof *p);
    uint32_t jit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &jit);
    for (int i = 0; i < MAX_RE && pn->set->re[i]; i++) {
        int code;
        PCRE2_SIZE at;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)pn->set->re[i], PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &code, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof msg);
            tok_pre_free(p);
            return rag_err_set(err, RAG_ERR_INVALID,
                               "pre-tokenizer '%s': regex %d does not compile at %zu: %s", name, i,
                               (size_t)at, (const char *)msg);
        }
        /* Without JIT (not built, or not allowed here) PCRE2 interprets. */
        if (jit) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        p->re[p->n_re++] = re;
    }
    *ignore_merges = pn->ignore_merges;
    *add_bos = pn->add_bos;
    *out = p;
    return 0;
}

/* Makes the subject PCRE2 sees: valid UTF-8 of the same character
 * structure. Returns NULL when text can be used as is; else a new buffer
 * (*sub_len bytes) and, in *map, the text offset of every subject offset. */
static char *sanitize(const char *text, size_t len, size_t *sub_len, size_t **map)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    int fix = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        size_t l = rag_utf8_decode(s + i, len - i, &cp);
        if (l == 0 || cp == 0x180E) {
            fix = 1;
            break;
        }
        i += l;
    }
    if (!fix) return NULL;
    /* Each invalid byte becomes U+FFFD (3 bytes): at most 3x. */
    char *sub = rag_xmalloc(len * 3 + 1);
    size_t *m = rag_xmalloc((len * 3 + 1) * sizeof *m);
    size_t o = 0;
    i = 0;
    while (i < len) {
        int32_t cp = 0;
        size_t l = s[i] < 0x80 ? 1 : rag_utf8_decode(s + i, len - i, &cp);
        if (l == 0 || cp == 0x180E) {
            for (int k = 0; k < 3; k++)
                m[o + k] = i;
            memcpy(sub + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += l ? l : 1;
            continue;
        }
        for (size_t k = 0; k < l; k++)
            m[o + k] = i + k;
        memcpy(sub + o, text + i, l);
        o += l;
        i += l;
    }
    m[o] = len;
    *sub_len = o;
    *map = m;
    return sub;
}

/* Length of the character at s (valid UTF-8, n > 0 bytes left). */
static size_t char_len(const char *s, size_t n)
{
    size_t l = 1;
    while (l < n && ((uint8_t)s[l] & 0xC0) == 0x80)
        l++;
    return l;
}

static int split_one(const pcre2_code *re, const char *sub, const tok_span *in, size_t n_in,
                     tok_spans *out, pcre2_match_data *md, rag_err *err)
{
    for (size_t k = 0; k < n_in; k++) {
        const char *subject = sub + in[k].off;
        size_t l = in[k].len, start = 0, prev = 0;
        while (start <= l) {
            int rc = pcre2_match(re, (PCRE2_SPTR)subject, l, start, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
                /* A pattern that needs more than the JIT's default stack on
                 * this piece: the interpreter keeps its frames on the heap. */
                rc = pcre2_match(re, (PCRE2_SPTR)subject, l, start,
                                 PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return rag_err_set(err, RAG_ERR_LIMIT,
                                   "pre-tokenizer regex failed on a piece of %zu bytes: %s", l,
                                   (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t m0 = ov[0], m1 = ov[1];
            if (m0 > prev) tok_spans_push(out, in[k].off + prev, m0 - prev);
            if (m1 > m0) {
                tok_spans_push(out, in[k].off + m0, m1 - m0);
                prev = start = m1;
            } else {
                /* An empty match only cuts; step past one character. */
                prev = m0;
                if (m0 >= l) break;
                start = m0 + char_len(subject + m0, l - m0);
            }
        }
        if (prev < l) tok_spans_push(out, in[k].off + prev, l - prev);
    }
    return 0;
}

int tok_pre_split(const tok_pre *p, const char *text, size_t len, tok_spans *out, rag_err *err)
{
    if (len == 0) return 0;
    size_t sub_len = len, *map = NULL;
    char *fixed = sanitize(text, len, &sub_len, &map);
    const char *sub = fixed ? fixed : text;

    tok_spans a = {0}, b = {0};
    tok_spans_push(&a, 0, sub_len);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) {
        rag_free(fixed);
        rag_free(map);
        rag_free(a.v);
        return rag_err_set(err, RAG_ERR_NOMEM, "pre-tokenizer: out of memory");
    }
    int rc = 0;
    for (int i = 0; i < p->n_re && !rc; i++) {
        b.n = 0;
        rc = split_one(p->re[i], sub, a.v, a.n, &b, md, err);
        tok_spans t = a;
        a = b;
        b = t;
    }
    if (!rc) {
        for (size_t k = 0; k < a.n; k++) {
            size_t s = a.v[k].off, e = s + a.v[k].len;
            if (map) s = map[s], e = map[e];
            if (e > s) tok_spans_push(out, s, e - s);
        }
    }
    pcre2_match_data_free(md);
    rag_free(a.v);
    rag_free(b.v);
    rag_free(fixed);
    rag_free(map);
    return rc;
}
