/* llm/gguf_write.c: the GGUF writer (format in llm/gguf.c). Metadata values
 * are serialized when set; tensors are streamed from their borrowed data at
 * write time, each at an offset aligned to 32 bytes. */
#include "llm/gguf_write.h"
#include "base/buf.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 32

typedef struct wkv {
    char *key;
    rag_buf value; /* u32 type + value bytes */
} wkv;

typedef struct wtensor {
    char *name;
    llm_dtype type;
    int n_dims;
    int64_t ne[LLM_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wtensor;

struct llm_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

llm_gguf_writer *llm_gguf_writer_new(void)
{
    return rag_xcalloc(1, sizeof(llm_gguf_writer));
}

void llm_gguf_writer_free(llm_gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        rag_free(w->kv[i].key);
        rag_buf_free(&w->kv[i].value);
    }
    for (size_t i = 0; i < w->n_t; i++)
        rag_free(w->t[i].name);
    rag_free(w->kv);
    rag_free(w->t);
    rag_free(w);
}

static void put_le(rag_buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        rag_buf_putc(b, (char)(v >> (8 * i)));
}

static void put_str(rag_buf *b, const char *s, size_t n)
{
    put_le(b, n, 8);
    rag_buf_append(b, s, n);
}

/* The entry for key, emptied (replacing an earlier value). */
static rag_buf *entry(llm_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) {
            rag_buf_clear(&w->kv[i].value);
            return &w->kv[i].value;
        }
    w->kv = rag_xgrow(w->kv, &w->cap_kv, w->n_kv + 1, sizeof *w->kv);
    w->kv[w->n_kv] = (wkv){rag_xstrdup(key), {0}};
    return &w->kv[w->n_kv++].value;
}

void llm_gguf_set_u32(llm_gguf_writer *w, const char *key, uint32_t v)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_U32, 4);
    put_le(b, v, 4);
}

void llm_gguf_set_i32(llm_gguf_writer *w, const char *key, int32_t v)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_I32, 4);
    put_le(b, (uint32_t)v, 4);
}

void llm_gguf_set_u64(llm_gguf_writer *w, const char *key, uint64_t v)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_U64, 4);
    put_le(b, v, 8);
}

void llm_gguf_set_f32(llm_gguf_writer *w, const char *key, float v)
{
    rag_buf *b = entry(w, key);
    uint32_t u;
    memcpy(&u, &v, 4);
    put_le(b, LLM_GGUF_F32, 4);
    put_le(b, u, 4);
}

void llm_gguf_set_bool(llm_gguf_writer *w, const char *key, int v)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_BOOL, 4);
    put_le(b, v ? 1 : 0, 1);
}

void llm_gguf_set_str(llm_gguf_writer *w, const char *key, const char *s)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_STRING, 4);
    put_str(b, s, strlen(s));
}

static size_t elem_size(llm_gguf_type t)
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
    default:
        return 8;
    }
}

void llm_gguf_set_arr(llm_gguf_writer *w, const char *key, llm_gguf_type elem_type,
                      const void *data, uint64_t n)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_ARRAY, 4);
    put_le(b, elem_type, 4);
    put_le(b, n, 8);
    rag_buf_append(b, data, (size_t)n * elem_size(elem_type)); /* hosts are little-endian */
}

void llm_gguf_set_arr_str(llm_gguf_writer *w, const char *key, const char *const *s,
                          const size_t *len, uint64_t n)
{
    rag_buf *b = entry(w, key);
    put_le(b, LLM_GGUF_ARRAY, 4);
    put_le(b, LLM_GGUF_STRING, 4);
    put_le(b, n, 8);
    for (uint64_t i = 0; i < n; i++)
        put_str(b, s[i], len ? len[i] : strlen(s[i]));
}

void llm_gguf_copy_kv(llm_gguf_writer *w, const llm_gguf *g, size_t i)
{
    const void *p;
    size_t n;
    llm_gguf_kv_raw(g, i, &p, &n);
    rag_buf_append(entry(w, llm_gguf_key(g, i)), p, n);
}

void llm_gguf_add_tensor(llm_gguf_writer *w, const char *name, llm_dtype type, int n_dims,
                         const int64_t *ne, const void *data)
{
    w->t = rag_xgrow(w->t, &w->cap_t, w->n_t + 1, sizeof *w->t);
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = rag_xstrdup(name);
    t->type = type;
    t->n_dims = n_dims;
    int64_t rows = 1;
    for (int d = 0; d < LLM_MAX_DIMS; d++) {
        t->ne[d] = d < n_dims ? ne[d] : 1;
        if (d) rows *= t->ne[d];
    }
    t->data = data;
    t->nbytes = llm_row_bytes(type, t->ne[0]) * (size_t)rows;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int llm_gguf_write(llm_gguf_writer *w, const char *path, rag_err *err)
{
    /* the header with metadata and tensor infos */
    int has_align = 0;
    for (size_t i = 0; i < w->n_kv; i++)
        has_align |= !strcmp(w->kv[i].key, "general.alignment");
    if (!has_align) llm_gguf_set_u32(w, "general.alignment", ALIGN);
    rag_buf h = {0};
    put_le(&h, 0x46554747u, 4);
    put_le(&h, 3, 4);
    put_le(&h, w->n_t, 8);
    put_le(&h, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(&h, w->kv[i].key, strlen(w->kv[i].key));
        rag_buf_append(&h, w->kv[i].value.data, w->kv[i].value.len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put_le(&h, (uint64_t)t->n_dims, 4);
        for (int d = 0; d < t->n_dims; d++)
            put_le(&h, (uint64_t)t->ne[d], 8);
        put_le(&h, t->type, 4);
        put_le(&h, off, 8);
        off += t->nbytes;
        off = (off + ALIGN - 1) / ALIGN * ALIGN;
    }
    while (h.len % ALIGN)
        rag_buf_putc(&h, 0);

    char *tmp = rag_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;
    static const char zeros[ALIGN];
    if (fd < 0 || write_all(fd, h.data, h.len) < 0) goto io_fail;
    for (size_t i = 0; i < w->n_t; i++) {
        size_t pad = (ALIGN - w->t[i].nbytes % ALIGN) % ALIGN;
        if (write_all(fd, w->t[i].data, w->t[i].nbytes) < 0 || write_all(fd, zeros, pad) < 0)
            goto io_fail;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        goto io_fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) goto io_fail;
    goto out;
io_fail:
    rc = rag_err_sys(err, errno, "%s", path);
    if (fd >= 0) close(fd);
    unlink(tmp);
out:
    rag_free(tmp);
    rag_buf_free(&h);
    return rc;
}
