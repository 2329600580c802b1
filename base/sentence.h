/* base/sentence.h: sentence boundaries in normalised text.
 *
 * One splitter for the chunker (which prefers to cut between sentences) and
 * the extractive answerer (which quotes whole sentences). */
#ifndef RAG_BASE_SENTENCE_H
#define RAG_BASE_SENTENCE_H

#include <stddef.h>

/* End (exclusive) of the sentence that starts at s[pos], looking no further
 * than `end`: after its terminators and closing quotes or brackets, or `end`.
 * A terminator (. ! ? …) ends a sentence when whitespace or the end follows;
 * the full-width ones (。！？｡) need no space. "3.14" and "example.com" do
 * not end one, nor titles and initials ("Dr. Smith", "J. Smith"), nor
 * abbreviations such as "etc." or "U.S." when a lowercase word or a number
 * follows, nor an ellipsis followed by a lowercase word. The sentence-terminal
 * marks of other scripts (। ؟ ۔ ။ ។ ። ...) end one where ICU's sentence break
 * iterator puts a boundary after them; in Thai and Lao, a space between two
 * letters of these scripts ends one. Line breaks do not end sentences here. */
size_t rag_sentence_end(const char *s, size_t pos, size_t end);

/* Length of the unit to quote that starts at s[0] (at most n bytes): the
 * sentence as above, ended earlier by a blank line, by a line break before a
 * list item or table row ("- x", "1. x", "| a |", "a | b"), or after a line
 * ending in ':' or holding a table row. Never 0 for n > 0. */
size_t rag_sentence_len(const char *s, size_t n);

#endif
