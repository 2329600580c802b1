/* store/vindex_manifest.c: the checksum and the manifest format of the
 * vector index files.
 *
 * What it does: a 64-bit checksum of a group file, computed while the file
 * is written and verified before FAISS reads it; the manifest's text,
 * written from the indexes in memory and parsed (as untrusted input: every
 * number is bounded) when the files are loaded. What it owns: the format,
 * a text file DB.vectors/manifest:
 *   rag-vectors 1                 magic and format version
 *   model <id>                    the embedding model the vectors are of
 *   dims <n>                      their dimensions
 *   seq <n>                       the last change-log sequence the files hold
 *   groups <n>                    then one line per group, sorted by id:
 *   group <id> <vectors> <bytes> <checksum, 16 hex digits> flat|large
 *   end
 * A manifest that does not parse whole is unusable (vindex_manifest_read
 * says why): the files it would name are rebuilt. What it calls:
 * base/file.c to read the file; nothing else (the writing, with its
 * locking and ordering, is vindex_files.c's). */
#include "store/vindex_int.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAGIC "rag-vectors"
#define MANIFEST_VERSION 1
#define MAX_GROUPS 1000000

/* ---- checksum ------------------------------------------------------------ */
/* A 64-bit checksum in the style of xxHash64 (four lanes of multiply-rotate
 * over 32-byte stripes, then an avalanche); not compatible with XXH64. It
 * detects torn, truncated, swapped and damaged files; it is not meant to
 * resist someone who can write the files (they can write the database too). */
#define H1 0x9E3779B185EBCA87ULL
#define H2 0xC2B2AE3D27D4EB4FULL
#define H3 0x165667B19E3779F9ULL

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t hround(uint64_t acc, uint64_t w)
{
    acc += w * H2;
    return rotl64(acc, 31) * H1;
}

void vindex_hash_init(fhash *h)
{
    memset(h, 0, sizeof *h);
    h->acc[0] = H1 + H2;
    h->acc[1] = H2;
    h->acc[2] = 0;
    h->acc[3] = (uint64_t)0 - H1;
}

static void fhash_stripe(fhash *h, const uint8_t *p)
{
    for (int l = 0; l < 4; l++) {
        uint64_t w;
        memcpy(&w, p + 8 * l, 8);
        h->acc[l] = hround(h->acc[l], w);
    }
}

void vindex_hash_update(fhash *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    h->total += n;
    if (h->nbuf) {
        size_t take = 32 - h->nbuf < n ? 32 - h->nbuf : n;
        memcpy(h->buf + h->nbuf, p, take);
        h->nbuf += take;
        p += take;
        n -= take;
        if (h->nbuf < 32) return;
        fhash_stripe(h, h->buf);
        h->nbuf = 0;
    }
    for (; n >= 32; p += 32, n -= 32)
        fhash_stripe(h, p);
    memcpy(h->buf, p, n);
    h->nbuf = n;
}

uint64_t vindex_hash_final(const fhash *h)
{
    uint64_t x =
        rotl64(h->acc[0], 1) + rotl64(h->acc[1], 7) + rotl64(h->acc[2], 12) + rotl64(h->acc[3], 18);
    x ^= h->total * H1;
    for (size_t i = 0; i < h->nbuf; i++)
        x = rotl64(x ^ (h->buf[i] * H3), 11) * H1;
    x ^= x >> 33;
    x *= H2;
    x ^= x >> 29;
    x *= H3;
    x ^= x >> 32;
    return x;
}

/* ---- manifest ------------------------------------------------------------ */

void vindex_manifest_free(manifest *m)
{
    rag_free(m->g);
    memset(m, 0, sizeof *m);
}

static int parse_i64(const char **p, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(*p, &end, 10);
    if (end == *p || errno || v < 0 || (*end != ' ' && *end != '\n')) return -1;
    *out = v;
    *p = end + (*end == ' ');
    return 0;
}

/* Line "<key> <int>\n" at *p. */
static int parse_kv(const char **p, const char *key, int64_t *out)
{
    size_t kl = strlen(key);
    if (strncmp(*p, key, kl) || (*p)[kl] != ' ') return -1;
    *p += kl + 1;
    if (parse_i64(p, out) || **p != '\n') return -1;
    (*p)++;
    return 0;
}

/* Parses the manifest text; -1 (with *why) when it is not a whole manifest
 * of this format. The file is untrusted: every number is bounded. */
static int manifest_parse(const char *text, manifest *m, const char **why)
{
    memset(m, 0, sizeof *m);
    const char *p = text;
    int64_t version, dims, n;
    size_t ml = strlen(MANIFEST_MAGIC);
    *why = "not a manifest of this format";
    if (strncmp(p, MANIFEST_MAGIC " ", ml + 1)) return -1;
    p += ml + 1;
    if (parse_i64(&p, &version) || *p != '\n') return -1;
    p++;
    if (version != MANIFEST_VERSION) {
        *why = "manifest of another format version";
        return -1;
    }
    *why = "truncated or damaged manifest";
    if (parse_kv(&p, "model", &m->model_id) || parse_kv(&p, "dims", &dims) ||
        parse_kv(&p, "seq", &m->seq) || parse_kv(&p, "groups", &n))
        return -1;
    if (dims < 1 || dims > VINDEX_MAX_DIMS || n > MAX_GROUPS) return -1;
    m->dims = (int)dims;
    m->g = rag_xcalloc(n ? (size_t)n : 1, sizeof *m->g);
    for (int64_t i = 0; i < n; i++) {
        mgroup *g = &m->g[i];
        if (strncmp(p, "group ", 6)) goto bad;
        p += 6;
        if (parse_i64(&p, &g->id) || parse_i64(&p, &g->count) || parse_i64(&p, &g->bytes)) goto bad;
        char *end;
        errno = 0;
        g->hash = strtoull(p, &end, 16);
        if (end - p != 16 || errno || *end != ' ') goto bad;
        p = end + 1;
        if (!strncmp(p, "flat\n", 5))
            g->flat = 1, p += 5;
        else if (!strncmp(p, "large\n", 6))
            g->flat = 0, p += 6;
        else
            goto bad;
        if (g->id <= 0 || (i && g->id <= m->g[i - 1].id)) goto bad; /* sorted, unique */
        m->n_g++;
    }
    if (strcmp(p, "end\n")) goto bad;
    return 0;
bad:
    vindex_manifest_free(m);
    return -1;
}

char *vindex_manifest_path(const vindex *vi)
{
    return rag_xasprintf("%s/manifest", vi->dir);
}

int vindex_manifest_read(const vindex *vi, manifest *m, const char **why, rag_err *err)
{
    char *path = vindex_manifest_path(vi), *text = NULL;
    size_t len = 0;
    rag_err e = {0};
    int rc = rag_file_read(path, VINDEX_MANIFEST_MAX_BYTES, &text, &len, &e);
    rag_free(path);
    if (rc) {
        if (e.sys_errno == ENOENT || e.sys_errno == ENOTDIR) {
            *why = "no manifest";
            return 0;
        }
        if (rc == RAG_ERR_LIMIT || rc == RAG_ERR_INVALID) {
            *why = "manifest too large or not a file";
            return 0;
        }
        if (err) *err = e;
        return rc;
    }
    rc = strlen(text) == len && manifest_parse(text, m, why) == 0;
    rag_free(text);
    return rc;
}

const mgroup *vindex_manifest_group(const manifest *m, int64_t id)
{
    size_t lo = 0, hi = m->n_g;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->g[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n_g && m->g[lo].id == id ? &m->g[lo] : NULL;
}

char *vindex_manifest_text(const vindex *vi)
{
    rag_buf b = {0};
    rag_buf_printf(&b, "%s %d\nmodel %lld\ndims %d\nseq %lld\ngroups %zu\n", MANIFEST_MAGIC,
                   MANIFEST_VERSION, (long long)vi->model_id, vi->dims, (long long)vi->seq,
                   vi->n_g);
    for (size_t i = 0; i < vi->n_g; i++) {
        const vgroup *g = vi->g[i];
        rag_buf_printf(&b, "group %lld %zu %lld %016" PRIx64 " %s\n", (long long)g->id, g->n_ids,
                       (long long)g->file_bytes, g->file_hash, g->flat ? "flat" : "large");
    }
    rag_buf_puts(&b, "end\n");
    return rag_buf_steal(&b);
}
