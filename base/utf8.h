/* base/utf8.h: UTF-8 decoding, validation and repair, and the Unicode
 * operations the project needs (NFC, case folding without diacritics,
 * script classes), through utf8proc. */
#ifndef RAG_BASE_UTF8_H
#define RAG_BASE_UTF8_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Decodes one code point at s (n bytes available). Returns its length (1-4)
 * and writes *cp, or returns 0 for an invalid, overlong, surrogate or
 * truncated sequence. */
size_t rag_utf8_decode(const uint8_t *s, size_t n, int32_t *cp);

/* Encodes cp (must be a valid scalar value); returns the length (1-4). */
size_t rag_utf8_encode(int32_t cp, char out[4]);

/* Appends s[0..n) to out with every invalid sequence replaced by U+FFFD.
 * Returns the number of replacements. Offsets of the first replacement go to
 * *first_bad (when not NULL; SIZE_MAX when none). */
size_t rag_utf8_repair(const uint8_t *s, size_t n, rag_buf *out, size_t *first_bad);

/* Appends the NFC form of valid UTF-8 s[0..n) to out. Returns 0, or -1 when
 * s is not valid UTF-8 (repair it first). */
int rag_utf8_nfc(const char *s, size_t n, rag_buf *out);

/* Appends a search-normalised form of valid UTF-8 s[0..n): case folded,
 * diacritics removed, NFC ("Résumé" -> "resume"). Returns 0 or -1. */
int rag_utf8_fold(const char *s, size_t n, rag_buf *out);

/* Character classes used by the tokenizers. */
int rag_cp_is_word(int32_t cp);    /* letter, mark or number */
int rag_cp_is_space(int32_t cp);   /* Unicode White_Space (Zs, Zl, Zp, \t \n \v \f \r) */
int rag_cp_is_control(int32_t cp); /* Cc/Cf other than \t \n, e.g. NUL, BOM, ZWSP */
/* Scripts written without spaces between words, indexed as character
 * bigrams: Han, Hiragana, Katakana, Hangul (and their compatibility forms). */
int rag_cp_is_cjk(int32_t cp);

#endif
