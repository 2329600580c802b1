/* llm/tok_int.h: the private layout of llm_vocab and what the tokenizer
 * files share. Only llm/tokenizer.c and llm/tok_*.c include it.
 *
 *   tokenizer.c  loading and validating the metadata, special tokens, the
 *                special-text partition, dispatch, pieces, streaming detok
 *   tok_str.c    interned strings with a hash index (token text -> id)
 *   tok_spm.c    SentencePiece: score-ordered bigram merging, byte fallback
 *   tok_bpe.c    byte-level BPE: GPT-2 byte mapping, merge ranks
 *   tok_pre.c    the pre-tokenizer regex table and splitting (PCRE2)
 *   tok_wpm.c    WordPiece: BERT normalisation, longest match first
 *   tok_ugm.c    Unigram: precompiled character map, Viterbi over scores
 *
 * The algorithms follow llama.cpp's (src/llama-vocab.cpp, src/unicode.cpp),
 * whose outputs are the reference for the golden tests. A loaded vocabulary
 * is never written to again, so any number of threads may tokenize with it
 * at once; all scratch memory belongs to the call. */
#ifndef RAG_LLM_TOK_INT_H
#define RAG_LLM_TOK_INT_H

#include "llm/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

/* Token attributes (llama.cpp's llama_token_attr, the part we use). The
 * GGUF token_type array gives one of NORMAL..BYTE; loading adds CONTROL to
 * tokens that end generation, and the strip bits for a few model families. */
enum {
    TOK_NORMAL = 1u << 0,
    TOK_UNKNOWN = 1u << 1,
    TOK_CONTROL = 1u << 2,
    TOK_USER_DEFINED = 1u << 3,
    TOK_UNUSED = 1u << 4,
    TOK_BYTE = 1u << 5,
    TOK_LSTRIP = 1u << 6, /* eat the whitespace before the token's text */
    TOK_RSTRIP = 1u << 7, /* eat the whitespace after it */
    TOK_EOG = 1u << 8,
};

/* Interned byte strings with an open-addressing hash index. Index i names
 * the i-th string added; each string is stored NUL-terminated. */
typedef struct tok_strtab {
    char *blob;
    size_t blob_len, blob_cap;
    uint32_t *off, *len, *hash;
    size_t n, cap;
    int32_t *slots; /* -1 = empty */
    size_t mask;    /* slots - 1, a power of two minus one */
} tok_strtab;

void tok_strtab_init(tok_strtab *t, size_t expect);
void tok_strtab_free(tok_strtab *t);
/* Index of s[0..len), or -1. */
int32_t tok_strtab_find(const tok_strtab *t, const char *s, size_t len);
/* Adds s[0..len) (the caller checked it is absent); its index, or -1 when
 * the table would pass 2^31 strings or 4 GiB of text. */
int32_t tok_strtab_add(tok_strtab *t, const char *s, size_t len);
static inline const char *tok_strtab_str(const tok_strtab *t, int32_t i)
{
    return t->blob + t->off[i];
}

/* A byte range of some text. */
typedef struct tok_span {
    size_t off, len;
} tok_span;
typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;
void tok_spans_push(tok_spans *s, size_t off, size_t len);

/* BPE merge table: (left string id, right string id) -> rank and result. */
typedef struct tok_merge {
    uint64_t key; /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank, result;
} tok_merge;

typedef struct tok_pre tok_pre; /* compiled pre-tokenizer (tok_pre.c) */

/* A byte trie (tok_ugm.c): the children of a node lie together in the
 * array, sorted by byte. Node 0 is the root. */
typedef struct tok_ugm_node {
    int32_t value;  /* token id ending here, -1 = none */
    uint32_t child; /* index of the first child */
    uint16_t n_child;
    uint8_t byte; /* the byte leading here from the parent */
} tok_ugm_node;
typedef struct tok_ugm_trie {
    tok_ugm_node *node;
    size_t n;
} tok_ugm_trie;

/* A node of the byte trie over special-token texts. */
typedef struct tok_trie_node {
    int32_t child, sibling; /* node indices, -1 = none */
    int32_t special;        /* rank in llm_vocab.special, -1 = not the end of one */
    uint8_t byte;
} tok_trie_node;

struct llm_vocab {
    llm_vocab_kind kind;
    int32_t n_vocab;
    tok_strtab str; /* 0..n_vocab-1: token texts; BPE appends merge strings after them */
    float *score;
    uint16_t *attr;
    size_t max_token_len; /* bytes */
    llm_special sp;
    int32_t eom;
    int add_space_prefix;
    char pre[64];

    /* Tokens whose text is matched before tokenizing (control, user-defined,
     * unknown), longest text first, and a trie over their texts. */
    int32_t *special;
    size_t n_special;
    int32_t trie_root[256];
    tok_trie_node *trie;
    size_t n_trie;

    /* SPM: the <0xXX> token of each byte (-1 = none); whether text may be
     * cut into words before merging (no token joins a word to the "▁" that
     * starts the next one). */
    int32_t byte_tok[256];
    int spm_split_ok;

    /* BPE: the string id of each byte's GPT-2 character, the merge table,
     * the pre-tokenizer. */
    int32_t byte_sid[256];
    tok_merge *merge;
    size_t merge_mask;
    tok_pre *pretok;
    int ignore_merges;

    /* WPM: BERT normaliser options. */
    int wpm_lowercase, wpm_strip_accents;

    /* UGM: the character map's XCDA entries and replacement strings (a NUL
     * of ours after them), remove_extra_whitespaces, the unknown token's
     * score, the trie of the tokens Viterbi may take, the trie of the
     * user-defined tokens' texts. */
    uint32_t *ugm_xcda;
    size_t ugm_xcda_n;
    char *ugm_repl;
    size_t ugm_repl_n;
    int ugm_remove_extra_ws;
    float ugm_unk_score;
    tok_ugm_trie ugm_tokens, ugm_user;
};

void tok_push(llm_tokens *t, int32_t id);

/* tok_spm.c */
void tok_spm_prepare(llm_vocab *v);
int tok_spm_encode(const llm_vocab *v, const char *text, size_t len, int add_prefix,
                   llm_tokens *out, rag_err *err);

/* tok_bpe.c */
int tok_bpe_load(llm_vocab *v, const llm_gguf *g, rag_err *err);
int tok_bpe_encode(const llm_vocab *v, const char *text, size_t len, llm_tokens *out, rag_err *err);
/* Undoes the GPT-2 byte mapping of a token's text into out (room for n
 * bytes); returns the length. Characters outside the mapping are copied. */
size_t tok_bpe_unmap(const char *s, size_t n, char *out);

/* tok_pre.c */
/* The pre-tokenizer for tokenizer.ggml.pre = name; sets the llama.cpp flags
 * that come with it. RAG_ERR_FORMAT naming the key for an unknown name. */
int tok_pre_new(const char *name, tok_pre **out, int *ignore_merges, int *add_bos, rag_err *err);
void tok_pre_free(tok_pre *p);
/* Splits text[0..len) (any bytes) into pieces, appended to out as spans of
 * text; together they cover the text in order. */
int tok_pre_split(const tok_pre *p, const char *text, size_t len, tok_spans *out, rag_err *err);

/* tok_wpm.c */
int tok_wpm_encode(const llm_vocab *v, const char *text, size_t len, llm_tokens *out, rag_err *err);

/* tok_ugm.c */
/* Reads the character map and builds the tries from the token attributes
 * as loaded from the file (before the special-token fixes, as llama.cpp). */
int tok_ugm_load(llm_vocab *v, const llm_gguf *g, rag_err *err);
void tok_ugm_free(llm_vocab *v);
int tok_ugm_encode(const llm_vocab *v, const char *text, size_t len, llm_tokens *out, rag_err *err);

#endif
