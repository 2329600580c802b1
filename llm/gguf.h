/* llm/gguf.h (behind llm/llm.h): reading GGUF files (versions 2 and 3).
 *
 * The file is mapped read-only; everything is validated when it is opened,
 * so that afterwards no accessor can read outside the file: counts and
 * string lengths against the bytes left, every value type, array element
 * counts against overflow, tensor dimensions (positive, product without
 * overflow, a multiple of the type's block size along the first dimension),
 * tensor types known, tensor data aligned and inside the file. A bad file is
 * refused with RAG_ERR_FORMAT and a message naming the key or tensor and the
 * byte offset. Strings returned point into the map (not NUL-terminated) or
 * into copies made at open time (keys and tensor names are NUL-terminated). */
#ifndef RAG_LLM_GGUF_H
#define RAG_LLM_GGUF_H

#include "base/err.h"
#include "llm/quant.h"

#include <stddef.h>
#include <stdint.h>

typedef enum llm_gguf_type {
    LLM_GGUF_U8 = 0,
    LLM_GGUF_I8 = 1,
    LLM_GGUF_U16 = 2,
    LLM_GGUF_I16 = 3,
    LLM_GGUF_U32 = 4,
    LLM_GGUF_I32 = 5,
    LLM_GGUF_F32 = 6,
    LLM_GGUF_BOOL = 7,
    LLM_GGUF_STRING = 8,
    LLM_GGUF_ARRAY = 9,
    LLM_GGUF_U64 = 10,
    LLM_GGUF_I64 = 11,
    LLM_GGUF_F64 = 12,
} llm_gguf_type;

#define LLM_MAX_DIMS 4

typedef struct llm_tensor_info {
    const char *name; /* NUL-terminated */
    int n_dims;
    int64_t ne[LLM_MAX_DIMS]; /* ne[0] is the row length (contiguous); unused dims are 1 */
    llm_dtype type;
    uint64_t offset;  /* from the start of the data section */
    const void *data; /* in the map */
    size_t nbytes;
} llm_tensor_info;

typedef struct llm_gguf llm_gguf;

/* Limits that keep a hostile header from making us allocate absurd amounts. */
#define LLM_GGUF_MAX_KV 65536
#define LLM_GGUF_MAX_TENSORS 1048576
#define LLM_GGUF_MAX_STRING (1u << 28) /* a chat template can be long; not 4 GB */
#define LLM_GGUF_MAX_ARRAY (1u << 28)

int llm_gguf_open(const char *path, llm_gguf **out, rag_err *err);
/* Parses a GGUF image already in memory (borrowed; must outlive the
 * handle). `name` is used in messages. For tests and fuzzing. */
int llm_gguf_open_memory(const void *data, size_t size, const char *name, llm_gguf **out,
                         rag_err *err);
void llm_gguf_close(llm_gguf *g);

const char *llm_gguf_path(const llm_gguf *g);
/* Lets the memory of bytes [p, p + n) of a file mapped from disk go (the
 * whole pages inside it): they are read from the file again if touched.
 * For tensors a model has copied into a form of its own. Nothing for an
 * image read into memory (a small file, or llm_gguf_open_memory). */
void llm_gguf_release(const llm_gguf *g, const void *p, size_t n);
uint32_t llm_gguf_version(const llm_gguf *g);
size_t llm_gguf_size(const llm_gguf *g);
size_t llm_gguf_alignment(const llm_gguf *g);

/* ---- metadata ------------------------------------------------------------ */
size_t llm_gguf_n_kv(const llm_gguf *g);
const char *llm_gguf_key(const llm_gguf *g, size_t i);
llm_gguf_type llm_gguf_kv_type(const llm_gguf *g, size_t i);
/* Index of key, or -1. */
int64_t llm_gguf_find(const llm_gguf *g, const char *key);

/* Typed getters by key. Return 0 and set *out; RAG_ERR_NOTFOUND when the key
 * is absent (*out untouched, so callers can preset defaults); RAG_ERR_FORMAT
 * (message names the key) when it holds another type. The integer getters
 * accept any integer type whose value fits. */
int llm_gguf_get_u32(const llm_gguf *g, const char *key, uint32_t *out, rag_err *err);
int llm_gguf_get_u64(const llm_gguf *g, const char *key, uint64_t *out, rag_err *err);
int llm_gguf_get_i64(const llm_gguf *g, const char *key, int64_t *out, rag_err *err);
int llm_gguf_get_f32(const llm_gguf *g, const char *key, float *out, rag_err *err); /* F32 or F64 */
int llm_gguf_get_bool(const llm_gguf *g, const char *key, int *out, rag_err *err);
/* The string's bytes (in the map, not NUL-terminated) and length. */
int llm_gguf_get_str(const llm_gguf *g, const char *key, const char **s, size_t *len, rag_err *err);

/* Arrays: element type and count; elements through the accessors below. */
int llm_gguf_get_arr(const llm_gguf *g, const char *key, llm_gguf_type *elem_type, uint64_t *n,
                     rag_err *err);
/* Element i of a numeric array as the given C type (converted; the caller
 * checked the element type with llm_gguf_get_arr). */
int64_t llm_gguf_arr_int(const llm_gguf *g, int64_t kv, uint64_t i);
double llm_gguf_arr_float(const llm_gguf *g, int64_t kv, uint64_t i);
/* Raw element data of a numeric array (little-endian, in the map). */
const void *llm_gguf_arr_data(const llm_gguf *g, int64_t kv);
/* Element i of a string array. */
void llm_gguf_arr_str(const llm_gguf *g, int64_t kv, uint64_t i, const char **s, size_t *len);

/* ---- tensors --------------------------------------------------------------- */
size_t llm_gguf_n_tensors(const llm_gguf *g);
const llm_tensor_info *llm_gguf_tensor(const llm_gguf *g, size_t i);
/* By name, or NULL. */
const llm_tensor_info *llm_gguf_find_tensor(const llm_gguf *g, const char *name);

/* The bytes of metadata entry i as stored after its key: the u32 type and
 * the value (for copying entries unchanged into another file). */
void llm_gguf_kv_raw(const llm_gguf *g, size_t i, const void **p, size_t *n);

/* Name of a metadata value type ("u32", "string", ...). */
const char *llm_gguf_type_name(llm_gguf_type t);

#endif
