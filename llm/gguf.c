/* llm/gguf.c: the GGUF reader.
 *
 * File layout (all little-endian):
 *   u32 magic "GGUF" | u32 version (2, 3) | u64 n_tensors | u64 n_kv
 *   n_kv x  { string key | u32 type | value }
 *       string = u64 length + bytes (no NUL)
 *       value  = the scalar, a string, or an array: u32 elem type, u64 count, elems
 *                (arrays of arrays are allowed by the format; we accept and skip them)
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to `general.alignment` (u32, default 32)
 *   data section: each tensor at data_start + offset (offset aligned)
 *
 * One pass validates everything and records where each value lies, so the
 * accessors never re-check bounds. */
#include "llm/gguf.h"
#include "base/file.h"
#include "base/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct kv {
    char *key;
    llm_gguf_type type;
    size_t value_pos; /* offset of the value (after the type field) in the file */
    union {
        uint64_t u;
        int64_t i;
        double f;
    } v;                /* scalars, decoded */
    size_t str_len;     /* strings: length; bytes at value_pos + 8 */
    llm_gguf_type elem; /* arrays */
    uint64_t n;         /* arrays: element count */
    size_t data_pos;    /* arrays: first element */
    size_t *str_pos;    /* string arrays: position of each string's length field */
    size_t end_pos;     /* first byte after the value */
} kv;

struct llm_gguf {
    char *path;
    rag_map map; /* when opened from a file */
    const uint8_t *base;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t data_start;
    kv *kvs;
    size_t n_kv;
    llm_tensor_info *tensors;
    size_t n_tensors;
    int64_t *tensor_index; /* open-addressing table of tensor ids, size index_cap */
    size_t index_cap;
};

typedef struct cursor {
    const uint8_t *p;
    size_t size, pos;
    const char *name;
    rag_err *err;
} cursor;

static int fail(cursor *c, size_t at, const char *fmt, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, what ? what : "");
    return rag_err_set(c->err, RAG_ERR_FORMAT, "%s: offset %zu: %s", c->name, at, msg);
}

static int need(cursor *c, size_t n, const char *what)
{
    if (n > c->size - c->pos)
        return rag_err_set(c->err, RAG_ERR_FORMAT,
                           "%s: offset %zu: file ends inside %s (%zu bytes needed, %zu left)",
                           c->name, c->pos, what, n, c->size - c->pos);
    return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what)
{
    int rc = need(c, 4, what);
    if (rc) return rc;
    *v = (uint32_t)le(c->p + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what)
{
    int rc = need(c, 8, what);
    if (rc) return rc;
    *v = le(c->p + c->pos, 8);
    c->pos += 8;
    return 0;
}

/* A string: returns its position (of the bytes) and length. */
static int rd_str(cursor *c, size_t *at, size_t *len, const char *what)
{
    uint64_t n;
    size_t start = c->pos;
    int rc = rd_u64(c, &n, what);
    if (rc) return rc;
    if (n > LLM_GGUF_MAX_STRING || n > c->size - c->pos) {
        char m[160];
        snprintf(m, sizeof m, "%s has length %llu, past the end of the file or over the limit",
                 what, (unsigned long long)n);
        return fail(c, start, "%s", m);
    }
    *at = c->pos;
    *len = (size_t)n;
    c->pos += (size_t)n;
    return 0;
}

static size_t scalar_size(llm_gguf_type t)
{
    switch (t) {
    case LLM_GGUF_U8:
    case LLM_GGUF_I8:
    case LLM_GGUF_BOOL:
        return 1;
    case LLM_GGUF_U16:
    case LLM_GGUF_I16:
        return 2;
    case LLM_GGUF_U32:
    case LLM_GGUF_I32:
    case LLM_GGUF_F32:
        return 4;
    case LLM_GGUF_U64:
    case LLM_GGUF_I64:
    case LLM_GGUF_F64:
        return 8;
    default:
        return 0;
    }
}

const char *llm_gguf_type_name(llm_gguf_type t)
{
    static const char *names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "unknown";
}

static int64_t sign_extend(uint64_t v, size_t bytes)
{
    if (bytes == 8) return (int64_t)v;
    uint64_t m = 1ull << (bytes * 8 - 1);
    v &= (m << 1) - 1;
    return (int64_t)((v ^ m) - m);
}

static void decode_scalar(llm_gguf_type t, const uint8_t *p, kv *k)
{
    uint64_t raw = le(p, (int)scalar_size(t));
    switch (t) {
    case LLM_GGUF_I8:
    case LLM_GGUF_I16:
    case LLM_GGUF_I32:
    case LLM_GGUF_I64:
        k->v.i = sign_extend(raw, scalar_size(t));
        break;
    case LLM_GGUF_F32: {
        uint32_t b = (uint32_t)raw;
        float f;
        memcpy(&f, &b, 4);
        k->v.f = f;
        break;
    }
    case LLM_GGUF_F64:
        memcpy(&k->v.f, &raw, 8);
        break;
    default:
        k->v.u = raw;
    }
}

/* Skips (validating) one value of type t, for nested arrays. */
static int skip_value(cursor *c, llm_gguf_type t, const char *key, int depth)
{
    if (t == LLM_GGUF_STRING) {
        size_t at, len;
        return rd_str(c, &at, &len, "a string value");
    }
    if (t == LLM_GGUF_ARRAY) {
        if (depth > 4) return fail(c, c->pos, "key '%s': arrays nested too deeply", key);
        uint32_t et;
        uint64_t n;
        int rc = rd_u32(c, &et, "an array type");
        if (!rc) rc = rd_u64(c, &n, "an array length");
        if (rc) return rc;
        if (n > LLM_GGUF_MAX_ARRAY) return fail(c, c->pos, "key '%s': array too long", key);
        size_t es = scalar_size((llm_gguf_type)et);
        if (es) {
            if (n > (c->size - c->pos) / es)
                return fail(c, c->pos, "key '%s': array runs past the end of the file", key);
            c->pos += (size_t)n * es;
            return 0;
        }
        if (et != LLM_GGUF_STRING && et != LLM_GGUF_ARRAY)
            return fail(c, c->pos, "key '%s': unknown array element type", key);
        for (uint64_t i = 0; i < n; i++) {
            int rc2 = skip_value(c, (llm_gguf_type)et, key, depth + 1);
            if (rc2) return rc2;
        }
        return 0;
    }
    size_t s = scalar_size(t);
    if (!s) return fail(c, c->pos, "key '%s': unknown value type", key);
    int rc = need(c, s, "a value");
    if (!rc) c->pos += s;
    return rc;
}

static int parse_kv(cursor *c, kv *k)
{
    size_t key_start = c->pos, at, len;
    int rc = rd_str(c, &at, &len, "a metadata key");
    if (rc) return rc;
    if (len == 0) return fail(c, key_start, "empty metadata key%s", "");
    k->key = rag_xstrndup((const char *)c->p + at, len);
    if (strlen(k->key) != len) return fail(c, key_start, "metadata key with a NUL byte%s", "");
    uint32_t t;
    rc = rd_u32(c, &t, "a value type");
    if (rc) return rc;
    k->type = (llm_gguf_type)t;
    k->value_pos = c->pos;
    size_t s = scalar_size(k->type);
    if (s) {
        rc = need(c, s, "a value");
        if (rc) return rc;
        decode_scalar(k->type, c->p + c->pos, k);
        c->pos += s;
        return 0;
    }
    if (k->type == LLM_GGUF_STRING) return rd_str(c, &at, &k->str_len, k->key);
    if (k->type != LLM_GGUF_ARRAY)
        return fail(c, k->value_pos - 4, "key '%s': unknown value type", k->key);
    uint32_t et;
    rc = rd_u32(c, &et, "an array type");
    if (!rc) rc = rd_u64(c, &k->n, "an array length");
    if (rc) return rc;
    k->elem = (llm_gguf_type)et;
    k->data_pos = c->pos;
    if (k->n > LLM_GGUF_MAX_ARRAY) return fail(c, k->value_pos, "key '%s': array too long", k->key);
    size_t es = scalar_size(k->elem);
    if (es) {
        if (k->n > (c->size - c->pos) / es)
            return fail(c, k->value_pos, "key '%s': array runs past the end of the file", k->key);
        c->pos += (size_t)k->n * es;
        return 0;
    }
    if (k->elem == LLM_GGUF_STRING) {
        /* each string needs at least its 8-byte length: bound n before allocating */
        if (k->n > (c->size - c->pos) / 8)
            return fail(c, k->value_pos, "key '%s': array runs past the end of the file", k->key);
        k->str_pos = rag_xcalloc(k->n ? k->n : 1, sizeof *k->str_pos);
        for (uint64_t i = 0; i < k->n; i++) {
            k->str_pos[i] = c->pos;
            rc = rd_str(c, &at, &len, k->key);
            if (rc) return rc;
        }
        return 0;
    }
    if (k->elem == LLM_GGUF_ARRAY) {
        for (uint64_t i = 0; i < k->n; i++) {
            rc = skip_value(c, LLM_GGUF_ARRAY, k->key, 1);
            if (rc) return rc;
        }
        return 0;
    }
    return fail(c, k->value_pos, "key '%s': unknown array element type", k->key);
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Inserts tensor i into the name index; -1 when the name is taken. */
static int index_insert(llm_gguf *g, size_t i)
{
    size_t mask = g->index_cap - 1;
    for (size_t h = hash_name(g->tensors[i].name) & mask;; h = (h + 1) & mask) {
        if (g->tensor_index[h] < 0) {
            g->tensor_index[h] = (int64_t)i;
            return 0;
        }
        if (!strcmp(g->tensors[g->tensor_index[h]].name, g->tensors[i].name)) return -1;
    }
}

static int parse_tensor(cursor *c, llm_tensor_info *t)
{
    size_t start = c->pos, at, len;
    int rc = rd_str(c, &at, &len, "a tensor name");
    if (rc) return rc;
    char *name = rag_xstrndup((const char *)c->p + at, len);
    t->name = name;
    if (len == 0 || strlen(name) != len) return fail(c, start, "bad tensor name%s", "");
    uint32_t nd, type;
    rc = rd_u32(c, &nd, "a tensor's dimension count");
    if (rc) return rc;
    if (nd < 1 || nd > LLM_MAX_DIMS)
        return fail(c, start, "tensor '%s': number of dimensions outside 1..4", name);
    t->n_dims = (int)nd;
    int64_t elems = 1;
    for (int d = 0; d < LLM_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < (int)nd && (rc = rd_u64(c, &ne, "a tensor dimension"))) return rc;
        if (ne == 0 || ne > (uint64_t)INT64_MAX || (int64_t)ne > INT64_MAX / elems)
            return fail(c, start, "tensor '%s': dimension is zero or the element count overflows",
                        name);
        t->ne[d] = (int64_t)ne;
        elems *= (int64_t)ne;
    }
    rc = rd_u32(c, &type, "a tensor type");
    if (!rc) rc = rd_u64(c, &t->offset, "a tensor offset");
    if (rc) return rc;
    const llm_dtype_info *di = llm_dtype_get((int)type);
    if (!di) {
        char m[200];
        snprintf(m, sizeof m, "tensor '%.100s': unknown type %u", name, type);
        return fail(c, start, "%s", m);
    }
    t->type = (llm_dtype)type;
    if (t->ne[0] % di->block_elems) {
        char m[200];
        snprintf(m, sizeof m,
                 "tensor '%.100s': row length %lld is not a multiple of the %s block (%d)", name,
                 (long long)t->ne[0], di->name, di->block_elems);
        return fail(c, start, "%s", m);
    }
    uint64_t rows = (uint64_t)(elems / t->ne[0]);
    uint64_t row_bytes = (uint64_t)(t->ne[0] / di->block_elems) * di->block_bytes;
    if (rows && row_bytes > UINT64_MAX / rows)
        return fail(c, start, "tensor '%s': size overflows", name);
    t->nbytes = (size_t)(row_bytes * rows);
    return 0;
}

static int parse(llm_gguf *g, rag_err *err)
{
    cursor c = {g->base, g->size, 0, g->path, err};
    uint32_t magic;
    uint64_t n_tensors, n_kv;
    int rc = rd_u32(&c, &magic, "the header");
    if (rc) return rc;
    if (magic != GGUF_MAGIC) return fail(&c, 0, "not a GGUF file (bad magic)%s", "");
    rc = rd_u32(&c, &g->version, "the header");
    if (rc) return rc;
    if (g->version == 1) return fail(&c, 4, "GGUF version 1 is not supported%s", "");
    if (g->version >= 0x01000000u)
        return fail(&c, 4, "big-endian GGUF files are not supported%s", "");
    if (g->version != 2 && g->version != 3) return fail(&c, 4, "unknown GGUF version%s", "");
    rc = rd_u64(&c, &n_tensors, "the header");
    if (!rc) rc = rd_u64(&c, &n_kv, "the header");
    if (rc) return rc;
    if (n_kv > LLM_GGUF_MAX_KV || n_kv > (c.size - c.pos) / 12)
        return fail(&c, 16, "metadata count is absurd for this file%s", "");
    if (n_tensors > LLM_GGUF_MAX_TENSORS || n_tensors > (c.size - c.pos) / 24)
        return fail(&c, 8, "tensor count is absurd for this file%s", "");

    g->kvs = rag_xcalloc(n_kv ? n_kv : 1, sizeof *g->kvs);
    for (uint64_t i = 0; i < n_kv; i++) {
        rc = parse_kv(&c, &g->kvs[i]);
        g->n_kv = i + 1; /* so that close frees what was allocated */
        if (rc) return rc;
        g->kvs[i].end_pos = c.pos;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(g->kvs[j].key, g->kvs[i].key))
                return fail(&c, g->kvs[i].value_pos, "duplicate key '%s'", g->kvs[i].key);
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = llm_gguf_find(g, "general.alignment");
    if (ai >= 0) {
        kv *k = &g->kvs[ai];
        if (k->type != LLM_GGUF_U32 || k->v.u == 0 || (k->v.u & (k->v.u - 1)) || k->v.u > 65536)
            return fail(&c, k->value_pos, "general.alignment must be a power of two u32%s", "");
        g->alignment = (size_t)k->v.u;
    }

    g->tensors = rag_xcalloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    g->index_cap = 16;
    while (g->index_cap < n_tensors * 2)
        g->index_cap *= 2;
    g->tensor_index = rag_xmalloc(g->index_cap * sizeof *g->tensor_index);
    memset(g->tensor_index, 0xff, g->index_cap * sizeof *g->tensor_index);
    for (uint64_t i = 0; i < n_tensors; i++) {
        size_t at = c.pos;
        rc = parse_tensor(&c, &g->tensors[i]);
        g->n_tensors = i + 1;
        if (rc) return rc;
        if (index_insert(g, i) < 0)
            return fail(&c, at, "duplicate tensor '%s'", g->tensors[i].name);
    }
    size_t a = g->alignment;
    g->data_start = c.pos % a ? c.pos + (a - c.pos % a) : c.pos;
    if (n_tensors && g->data_start > g->size)
        return fail(&c, c.pos, "file ends before the tensor data%s", "");
    for (size_t i = 0; i < g->n_tensors; i++) {
        llm_tensor_info *t = &g->tensors[i];
        size_t avail = g->size - g->data_start;
        if (t->offset % a)
            return fail(&c, g->data_start, "tensor '%s': data offset not aligned", t->name);
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            char m[220];
            snprintf(m, sizeof m,
                     "tensor '%.100s': data at %llu + %zu bytes is past the end of the file",
                     t->name, (unsigned long long)(g->data_start + t->offset), t->nbytes);
            return fail(&c, g->data_start, "%s", m);
        }
        t->data = g->base + g->data_start + t->offset;
    }
    return 0;
}

static int open_common(llm_gguf *g, llm_gguf **out, rag_err *err)
{
    int rc = parse(g, err);
    if (rc) {
        llm_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int llm_gguf_open(const char *path, llm_gguf **out, rag_err *err)
{
    *out = NULL;
    llm_gguf *g = rag_xcalloc(1, sizeof *g);
    g->path = rag_xstrdup(path);
    int rc = rag_file_map(path, 0, &g->map, err);
    if (rc) {
        llm_gguf_close(g);
        return rc;
    }
    g->base = g->map.data;
    g->size = g->map.size;
    return open_common(g, out, err);
}

int llm_gguf_open_memory(const void *data, size_t size, const char *name, llm_gguf **out,
                         rag_err *err)
{
    *out = NULL;
    llm_gguf *g = rag_xcalloc(1, sizeof *g);
    g->path = rag_xstrdup(name ? name : "(memory)");
    g->base = data;
    g->size = size;
    return open_common(g, out, err);
}

void llm_gguf_close(llm_gguf *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) {
        rag_free(g->kvs[i].key);
        rag_free(g->kvs[i].str_pos);
    }
    rag_free(g->kvs);
    for (size_t i = 0; i < g->n_tensors; i++)
        rag_free((char *)g->tensors[i].name);
    rag_free(g->tensors);
    rag_free(g->tensor_index);
    rag_file_unmap(&g->map);
    rag_free(g->path);
    rag_free(g);
}

const char *llm_gguf_path(const llm_gguf *g)
{
    return g->path;
}
void llm_gguf_release(const llm_gguf *g, const void *p, size_t n)
{
    if (g->map.mapped != 1 || !n) return; /* 1: mmap (base/file.h) */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1),
              hi = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
    if (page > 0 && hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

uint32_t llm_gguf_version(const llm_gguf *g)
{
    return g->version;
}
size_t llm_gguf_size(const llm_gguf *g)
{
    return g->size;
}
size_t llm_gguf_alignment(const llm_gguf *g)
{
    return g->alignment;
}
size_t llm_gguf_n_kv(const llm_gguf *g)
{
    return g->n_kv;
}
const char *llm_gguf_key(const llm_gguf *g, size_t i)
{
    return g->kvs[i].key;
}
llm_gguf_type llm_gguf_kv_type(const llm_gguf *g, size_t i)
{
    return g->kvs[i].type;
}
size_t llm_gguf_n_tensors(const llm_gguf *g)
{
    return g->n_tensors;
}
const llm_tensor_info *llm_gguf_tensor(const llm_gguf *g, size_t i)
{
    return &g->tensors[i];
}

int64_t llm_gguf_find(const llm_gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kvs[i].key, key)) return (int64_t)i;
    return -1;
}

const llm_tensor_info *llm_gguf_find_tensor(const llm_gguf *g, const char *name)
{
    if (!g->n_tensors) return NULL;
    size_t mask = g->index_cap - 1;
    for (size_t h = hash_name(name) & mask; g->tensor_index[h] >= 0; h = (h + 1) & mask)
        if (!strcmp(g->tensors[g->tensor_index[h]].name, name))
            return &g->tensors[g->tensor_index[h]];
    return NULL;
}

static const kv *lookup(const llm_gguf *g, const char *key, rag_err *err, int *rc)
{
    int64_t i = llm_gguf_find(g, key);
    if (i < 0) {
        *rc = rag_err_set(err, RAG_ERR_NOTFOUND, "%s: no key '%s'", g->path, key);
        return NULL;
    }
    *rc = 0;
    return &g->kvs[i];
}

static int wrong_type(const llm_gguf *g, const kv *k, const char *want, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_FORMAT, "%s: key '%s' is %s, expected %s", g->path, k->key,
                       llm_gguf_type_name(k->type), want);
}

static int is_int(llm_gguf_type t)
{
    return t == LLM_GGUF_U8 || t == LLM_GGUF_I8 || t == LLM_GGUF_U16 || t == LLM_GGUF_I16 ||
           t == LLM_GGUF_U32 || t == LLM_GGUF_I32 || t == LLM_GGUF_U64 || t == LLM_GGUF_I64;
}

static int is_signed(llm_gguf_type t)
{
    return t == LLM_GGUF_I8 || t == LLM_GGUF_I16 || t == LLM_GGUF_I32 || t == LLM_GGUF_I64;
}

int llm_gguf_get_u64(const llm_gguf *g, const char *key, uint64_t *out, rag_err *err)
{
    int rc;
    const kv *k = lookup(g, key, err, &rc);
    if (!k) return rc;
    if (!is_int(k->type) || (is_signed(k->type) && k->v.i < 0))
        return wrong_type(g, k, "a non-negative integer", err);
    *out = k->v.u;
    return 0;
}

int llm_gguf_get_u32(const llm_gguf *g, const char *key, uint32_t *out, rag_err *err)
{
    uint64_t v;
    int rc = llm_gguf_get_u64(g, key, &v, err);
    if (rc) return rc;
    if (v > UINT32_MAX)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: key '%s' = %llu does not fit 32 bits", g->path,
                           key, (unsigned long long)v);
    *out = (uint32_t)v;
    return 0;
}

int llm_gguf_get_i64(const llm_gguf *g, const char *key, int64_t *out, rag_err *err)
{
    int rc;
    const kv *k = lookup(g, key, err, &rc);
    if (!k) return rc;
    if (!is_int(k->type) || (k->type == LLM_GGUF_U64 && k->v.u > (uint64_t)INT64_MAX))
        return wrong_type(g, k, "an integer", err);
    *out = k->v.i;
    return 0;
}

int llm_gguf_get_f32(const llm_gguf *g, const char *key, float *out, rag_err *err)
{
    int rc;
    const kv *k = lookup(g, key, err, &rc);
    if (!k) return rc;
    if (k->type != LLM_GGUF_F32 && k->type != LLM_GGUF_F64) return wrong_type(g, k, "a float", err);
    *out = (float)k->v.f;
    return 0;
}

int llm_gguf_get_bool(const llm_gguf *g, const char *key, int *out, rag_err *err)
{
    int rc;
    const kv *k = lookup(g, key, err, &rc);
    if (!k) return rc;
    if (k->type != LLM_GGUF_BOOL) return wrong_type(g, k, "a bool", err);
    *out = k->v.u != 0;
    return 0;
}

int llm_gguf_get_str(const llm_gguf *g, const char *key, const char **s, size_t *len, rag_err *err)
{
    int rc;
    const kv *k = lookup(g, key, err, &rc);
    if (!k) return rc;
    if (k->type != LLM_GGUF_STRING) return wrong_type(g, k, "a string", err);
    *s = (const char *)g->base + k->value_pos + 8;
    *len = k->str_len;
    return 0;
}

int llm_gguf_get_arr(const llm_gguf *g, const char *key, llm_gguf_type *elem_type, uint64_t *n,
                     rag_err *err)
{
    int rc;
    const kv *k = lookup(g, key, err, &rc);
    if (!k) return rc;
    if (k->type != LLM_GGUF_ARRAY) return wrong_type(g, k, "an array", err);
    *elem_type = k->elem;
    *n = k->n;
    return 0;
}

int64_t llm_gguf_arr_int(const llm_gguf *g, int64_t i_kv, uint64_t i)
{
    const kv *k = &g->kvs[i_kv];
    size_t es = scalar_size(k->elem);
    uint64_t raw = le(g->base + k->data_pos + (size_t)i * es, (int)es);
    return is_signed(k->elem) ? sign_extend(raw, es) : (int64_t)raw;
}

double llm_gguf_arr_float(const llm_gguf *g, int64_t i_kv, uint64_t i)
{
    const kv *k = &g->kvs[i_kv];
    const uint8_t *p = g->base + k->data_pos;
    if (k->elem == LLM_GGUF_F32) {
        uint32_t b = (uint32_t)le(p + (size_t)i * 4, 4);
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    if (k->elem == LLM_GGUF_F64) {
        uint64_t b = le(p + (size_t)i * 8, 8);
        double d;
        memcpy(&d, &b, 8);
        return d;
    }
    return (double)llm_gguf_arr_int(g, i_kv, i);
}

const void *llm_gguf_arr_data(const llm_gguf *g, int64_t i_kv)
{
    return g->base + g->kvs[i_kv].data_pos;
}

void llm_gguf_kv_raw(const llm_gguf *g, size_t i, const void **p, size_t *n)
{
    *p = g->base + g->kvs[i].value_pos - 4;
    *n = g->kvs[i].end_pos - (g->kvs[i].value_pos - 4);
}

void llm_gguf_arr_str(const llm_gguf *g, int64_t i_kv, uint64_t i, const char **s, size_t *len)
{
    size_t at = g->kvs[i_kv].str_pos[i];
    *len = (size_t)le(g->base + at, 8);
    *s = (const char *)g->base + at + 8;
}
