/* base/sentence.h: sentence boundaries in normalised text.
 *
 * Shared by the chunker (which prefers to cut between sentences) and the
 * extractive answerer (which quotes whole sentences). */
#ifndef RAG_BASE_SENTENCE_H
#define RAG_BASE_SENTENCE_H

#include <stddef.h>

/* Length of the sentence that starts at s[0] (at most n bytes): through its
 * terminator and any closing quotes or brackets, excluding the whitespace
 * after it. A sentence ends at . ! ? … followed by whitespace or the end
 * (not after common abbreviations, initials, or inside numbers), right after
 * 。！？, at a blank line, and at a line break when the next line starts a
 * list item or a table row ("| a | b |"), or the line ends with ':'. Never returns 0 for n > 0. */
size_t rag_sentence_len(const char *s, size_t n);

#endif
