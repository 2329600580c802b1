/* llm/gguf_write.h (behind llm/llm.h): writing GGUF (version 3) files: `rag
 * quantize`, test models made by the tests themselves, benchmark models.
 *
 * Build a writer, add metadata and tensors (data is borrowed until the
 * write), then write: the file appears atomically (temporary file, fsync,
 * rename), so a reader never sees half a model. */
#ifndef RAG_LLM_GGUF_WRITE_H
#define RAG_LLM_GGUF_WRITE_H

#include "base/err.h"
#include "llm/gguf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct llm_gguf_writer llm_gguf_writer;

llm_gguf_writer *llm_gguf_writer_new(void);
void llm_gguf_writer_free(llm_gguf_writer *w);

/* Metadata (a key set twice keeps the last value). */
void llm_gguf_set_u32(llm_gguf_writer *w, const char *key, uint32_t v);
void llm_gguf_set_i32(llm_gguf_writer *w, const char *key, int32_t v);
void llm_gguf_set_u64(llm_gguf_writer *w, const char *key, uint64_t v);
void llm_gguf_set_f32(llm_gguf_writer *w, const char *key, float v);
void llm_gguf_set_bool(llm_gguf_writer *w, const char *key, int v);
void llm_gguf_set_str(llm_gguf_writer *w, const char *key, const char *s);
/* Numeric array of elem_type (U8..F64), n elements, little-endian data. */
void llm_gguf_set_arr(llm_gguf_writer *w, const char *key, llm_gguf_type elem_type,
                      const void *data, uint64_t n);
void llm_gguf_set_arr_str(llm_gguf_writer *w, const char *key, const char *const *s,
                          const size_t *len, uint64_t n);
/* Copies metadata entry i of g as it is. */
void llm_gguf_copy_kv(llm_gguf_writer *w, const llm_gguf *g, size_t i);

/* A tensor: ne[0] is the row length; data holds llm_row_bytes(type, ne[0])
 * * (the other dims) bytes and is borrowed until llm_gguf_write returns. */
void llm_gguf_add_tensor(llm_gguf_writer *w, const char *name, llm_dtype type, int n_dims,
                         const int64_t *ne, const void *data);

int llm_gguf_write(llm_gguf_writer *w, const char *path, rag_err *err);

#endif
