/* llm/tokenizer.h (behind llm/llm.h): tokenizers built from a GGUF file's
 * tokenizer.* metadata.
 *
 *   tokenizer.ggml.model = "llama"  SentencePiece-style: scores, byte
 *                                   fallback (<0xAB> tokens), "▁" for spaces,
 *                                   optional space prefix
 *                          "gpt2"   byte-level BPE: merges, GPT-2 byte-to-
 *                                   unicode mapping, a pre-tokenizer regex
 *                                   chosen by tokenizer.ggml.pre (PCRE2)
 *                          "bert"   WordPiece
 *                          "t5"     SentencePiece Unigram: a precompiled
 *                                   character map normalises, Viterbi over
 *                                   the token scores segments (XLM-R, T5)
 * Special tokens (BOS, EOS, EOT, SEP, CLS, PAD, UNK, MASK) come from the
 * tokenizer.ggml.*_token_id keys; control tokens are only recognised in the
 * text when the caller asks (parse_special), so user text can never inject
 * them. */
#ifndef RAG_LLM_TOKENIZER_H
#define RAG_LLM_TOKENIZER_H

#include "base/err.h"
#include "llm/gguf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum llm_vocab_kind {
    LLM_VOCAB_SPM,
    LLM_VOCAB_BPE,
    LLM_VOCAB_WPM,
    LLM_VOCAB_UGM
} llm_vocab_kind;

typedef struct llm_vocab llm_vocab;

/* Builds the tokenizer from g's metadata (g may be closed afterwards:
 * everything needed is copied). A missing or inconsistent vocabulary, an
 * unknown tokenizer.ggml.model or pre-tokenizer is an error naming the key. */
int llm_vocab_load(const llm_gguf *g, llm_vocab **out, rag_err *err);
void llm_vocab_free(llm_vocab *v);

llm_vocab_kind llm_vocab_kind_of(const llm_vocab *v);
int32_t llm_vocab_size(const llm_vocab *v);
/* tokenizer.ggml.pre for BPE ("default" when absent), "" otherwise. */
const char *llm_vocab_pre(const llm_vocab *v);

/* Special token ids, -1 when the vocabulary has none. */
typedef struct llm_special {
    int32_t bos, eos, eot, sep, cls, pad, unk, mask;
    int add_bos, add_eos; /* whether tokenizing "with special tokens" adds them */
    int add_sep;          /* whether a pair has SEP between its texts (1 unless the file says) */
} llm_special;
const llm_special *llm_vocab_special(const llm_vocab *v);

/* End of generation: EOS, EOT, or another token marked as such (e.g.
 * <|im_end|>, <|eot_id|>, <|endoftext|>). */
int llm_token_is_eog(const llm_vocab *v, int32_t id);
/* Control/special tokens are not printed as text by default. */
int llm_token_is_control(const llm_vocab *v, int32_t id);

typedef struct llm_tokens {
    int32_t *v; /* owned (rag_free) */
    size_t n, cap;
} llm_tokens;

void llm_tokens_free(llm_tokens *t);

/* Longest text llm_tokenize accepts (RAG_ERR_LIMIT above it). */
#define LLM_TOKENIZE_MAX_BYTES (256 * 1024 * 1024)

/* Appends the tokens of text[0..len) to out (on error, out is as it was).
 *   add_special: add BOS/EOS (SPM, BPE, UGM: per add_bos/add_eos) or CLS ... SEP
 *                (WordPiece), as the model does for generation or embedding;
 *   parse_special: recognise the text of control tokens ("<|im_start|>")
 *                and emit their ids; otherwise such text is tokenized as
 *                plain text.
 * Invalid UTF-8 in text is tokenized byte by byte where the vocabulary
 * allows it (byte fallback / byte-level BPE), else as UNK. */
int llm_tokenize(const llm_vocab *v, const char *text, size_t len, int add_special,
                 int parse_special, llm_tokens *out, rag_err *err);

/* A text pair for a cross-encoder: CLS/BOS a EOS SEP b EOS, as llama.cpp
 * lays it out. EOS is SEP when the vocabulary has no EOS, and SEP is EOS
 * when it has no SEP; SEP is left out when the file sets
 * tokenizer.ggml.add_sep_token to false. So [CLS] a [SEP] [SEP] b [SEP] for
 * BERT rerankers, <s> a </s></s> b </s> for XLM-RoBERTa ones. Control-token
 * text is never parsed. */
int llm_tokenize_pair(const llm_vocab *v, const char *a, size_t a_len, const char *b, size_t b_len,
                      llm_tokens *out, rag_err *err);

/* Tokenizes text as one piece (so words and merges may cross the mask's
 * boundaries) with BOS as the vocabulary adds it for generation, where
 * control tokens are recognised only in bytes whose special_ok[i] is set.
 * Chat prompts use it: template text may name control tokens, message
 * content may not. */
int llm_tokenize_masked(const llm_vocab *v, const char *text, size_t len, const uint8_t *special_ok,
                        llm_tokens *out, rag_err *err);

/* The bytes token id stands for (byte tokens decoded, "▁" as a space, the
 * GPT-2 byte mapping undone), written to buf (at most cap bytes; returns the
 * full length). Control tokens give "" unless render_special. */
size_t llm_token_to_piece(const llm_vocab *v, int32_t id, int render_special, char *buf,
                          size_t cap);
/* The stored text of a token (as in the vocabulary), borrowed; "" for an
 * id out of range. */
const char *llm_token_text(const llm_vocab *v, int32_t id, size_t *len);

/* Streaming detokenization: pieces of consecutive tokens are appended to
 * `out` only up to the last complete UTF-8 character; an incomplete tail
 * (a character split across byte tokens) waits for the next token. Bytes
 * that cannot start or continue a character come out as U+FFFD, so the
 * output is always valid UTF-8. SPM's and Unigram's leading space of the
 * first token is removed when the vocabulary adds a space prefix
 * (WordPiece's word-initial space likewise); "first" is the first token
 * whose piece is not empty. */
typedef struct llm_detok {
    char pending[8];
    size_t n_pending;
    int first;
} llm_detok;

void llm_detok_init(llm_detok *d);
/* Appends the text of token id; returns the number of bytes appended. When
 * that would be more than cap, nothing is appended, d is unchanged and the
 * return value (> cap) is the room needed. */
size_t llm_detok_push(const llm_vocab *v, llm_detok *d, int32_t id, int render_special, char *out,
                      size_t cap);
/* Flushes what is pending (an incomplete tail becomes U+FFFD); same rule
 * for a small cap. */
size_t llm_detok_flush(llm_detok *d, char *out, size_t cap);
/* A cap that is always enough for one push or flush. */
size_t llm_detok_bound(const llm_vocab *v);

#endif
