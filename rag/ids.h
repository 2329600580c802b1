/* rag/ids.h: the document and chunk ids the API shows.
 *
 * Inside, documents and chunks are numbered 1, 2, 3, ... (SQLite rowids):
 * such numbers would tell a client how many documents there are and which
 * ids to try. The API shows instead a keyed permutation of each number: 16
 * lowercase hex digits (64 bits) from a six-round Feistel network whose
 * round function is SipHash-2-4 under a random key kept in the database
 * (settings "api.id_key"). Without the key the ids look random and say
 * nothing about order or count; with it, each maps back to its number.
 * Documents and chunks use different tweaks, so their ids never match. */
#ifndef RAG_RAG_IDS_H
#define RAG_RAG_IDS_H

#include "base/err.h"
#include "store/store.h"

#include <stdint.h>

#define RAG_ID_LEN 16

typedef struct rag_ids {
    uint64_t k0, k1; /* the SipHash key */
} rag_ids;

enum { RAG_ID_DOCUMENT = 1, RAG_ID_CHUNK = 2 };

/* The key of the database (made on first use). */
int rag_ids_load(store *s, rag_ids *out, rag_err *err);
/* The API id of an internal id of a kind (RAG_ID_*). */
void rag_id_format(const rag_ids *k, int kind, int64_t id, char out[RAG_ID_LEN + 1]);
/* The internal id of an API id: 0 with *id set (0 when it maps to no
 * possible id: look it up all the same, so that it answers as a missing
 * one does), -1 when s has the wrong length or characters. */
int rag_id_parse(const rag_ids *k, int kind, const char *s, int64_t *id);

#endif
