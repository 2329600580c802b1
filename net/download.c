/* net/download.c: model downloads that survive interruptions and never
 * leave a bad file (see net_download_run in net/net.h).
 *
 * States of DEST: absent, or complete and verified. DEST.part holds the
 * bytes so far; its size is where the next request resumes. A server that
 * answers a Range request with 200 (no range support) restarts the .part;
 * 416 (the range starts at or past the end) means the .part is already
 * whole or belongs to another file: it is checked against the hash, and
 * restarted when the check fails or no hash is known. */
#include "net/net.h"
#include "base/hash.h"
#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void net_download_init(net_download *d, const char *url, const char *dest)
{
    memset(d, 0, sizeof *d);
    d->url = url;
    d->dest = dest;
    d->max_resumes = 5;
    d->connect_timeout = 15;
    d->stall_timeout = 60;
}

typedef struct sink {
    const net_download *d;
    const char *part;
    FILE *f;
    uint64_t offset;  /* bytes in the .part before this transfer */
    uint64_t written; /* by this transfer */
    uint64_t total;   /* the file's size when known */
    int write_errno;
    int restarted;   /* the server ignored the range: the .part was emptied */
    char stated[65]; /* the hash the server states, when it states one */
} sink;

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int is_sha256(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The first body bytes decide how the .part is opened. */
static int open_part(sink *k, const net_response *resp)
{
    int resume = k->offset && resp->status == 206 && resp->range_start == (int64_t)k->offset;
    if (!resume) {
        k->restarted = k->offset > 0;
        k->offset = 0;
    }
    k->f = fopen(k->part, resume ? "ab" : "wb");
    if (!k->f) {
        k->write_errno = errno;
        return -1;
    }
    uint64_t len = resp->content_length;
    k->total = resp->linked_size ? resp->linked_size : len ? k->offset + len : 0;
    const char *h = is_sha256(resp->linked_etag) ? resp->linked_etag
                    : is_sha256(resp->etag)      ? resp->etag
                                                 : NULL;
    if (h) {
        memcpy(k->stated, h, 65);
        lower(k->stated);
    }
    return 0;
}

static int on_body(void *ctx, const net_response *resp, const char *data, size_t len)
{
    sink *k = ctx;
    if (!k->f && open_part(k, resp)) return 1;
    if (fwrite(data, 1, len, k->f) != len) {
        k->write_errno = errno ? errno : EIO;
        return 1;
    }
    k->written += len;
    if (k->d->on_progress) k->d->on_progress(k->d->ctx, k->offset + k->written, k->total);
    return 0;
}

static int close_part(sink *k)
{
    if (!k->f) return 0;
    int rc = fflush(k->f) || fsync(fileno(k->f)) ? errno : 0;
    if (fclose(k->f) && !rc) rc = errno;
    k->f = NULL;
    if (rc && !k->write_errno) k->write_errno = rc;
    return rc;
}

/* One transfer from the .part's end. 0 when the file is complete. */
static int transfer(const net_download *d, sink *k, net_download_result *r, rag_err *err)
{
    k->offset = file_size(k->part);
    k->written = 0;
    net_request rq;
    net_request_init(&rq, d->url);
    rq.what = "download";
    rq.bearer = d->bearer;
    rq.range_from = k->offset;
    rq.connect_timeout = d->connect_timeout;
    rq.stall_timeout = d->stall_timeout;
    rq.retries = 2;
    rq.on_body = on_body;
    rq.body_ctx = k;
    net_response resp;
    int rc = net_fetch(&rq, &resp, err);
    close_part(k);
    r->fetched += k->written;
    if (k->write_errno)
        rc = rag_err_sys(err, k->write_errno,
                         "writing %s (%llu bytes kept; run the same command to resume)", k->part,
                         (unsigned long long)file_size(k->part));
    else if (rc == RAG_ERR_NET && resp.status == 416 && k->offset) {
        if (!k->stated[0]) {
            const char *h = is_sha256(resp.linked_etag) ? resp.linked_etag
                            : is_sha256(resp.etag)      ? resp.etag
                                                        : NULL;
            if (h) memcpy(k->stated, h, 65), lower(k->stated);
        }
        /* the .part may be whole already: checked when a hash is known,
         * else it cannot be told from another file's bytes: start over */
        rc = d->sha256 || k->stated[0] ? 1 : 2;
        if (rc == 2) unlink(k->part);
    }
    net_response_free(&resp);
    return rc;
}

static int check_gguf(const char *path, rag_err *err)
{
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (got == 4 && !memcmp(magic, "GGUF", 4)) return 0;
    return rag_err_set(err, RAG_ERR_FORMAT,
                       "%s: not a GGUF file (it starts with '%.4s'); the download was removed",
                       path, got ? magic : "");
}

static int finish(const net_download *d, sink *k, net_download_result *r, rag_err *err)
{
    int rc = rag_sha256_file(k->part, r->sha256, err);
    if (rc) return rc;
    r->size = file_size(k->part);
    const char *want = d->sha256 ? d->sha256 : k->stated[0] ? k->stated : NULL;
    r->hash_from = d->sha256 ? "--sha256" : want ? "server" : NULL;
    if (want && strcasecmp(want, r->sha256)) {
        unlink(k->part);
        return rag_err_set(
            err, RAG_ERR_CORRUPT,
            "%s: SHA-256 mismatch: expected %s (%s), got %s; the download was removed", d->url,
            want, r->hash_from, r->sha256);
    }
    if (d->gguf && (rc = check_gguf(k->part, err))) {
        unlink(k->part);
        return rc;
    }
    if (rename(k->part, d->dest))
        return rag_err_sys(err, errno, "renaming %s to %s", k->part, d->dest);
    /* the rename is durable once the directory is */
    char *dir = rag_xstrdup(d->dest);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) fsync(fd), close(fd);
    rag_free(dir);
    return 0;
}

int net_download_run(const net_download *d, net_download_result *r, rag_err *err)
{
    memset(r, 0, sizeof *r);
    char *part = rag_xasprintf("%s.part", d->dest);
    sink k = {.d = d, .part = part};
    r->resumed_at = file_size(part);
    int rc, restarts = 0;
    for (;;) {
        rc = transfer(d, &k, r, err);
        if (rc == 2) {
            if (!restarts++) continue;
            rc = rag_err_set(err, RAG_ERR_NET, "download %s: the server refuses every range",
                             d->url);
            break;
        }
        if (rc == 1) { /* 416: check what we have */
            rc = finish(d, &k, r, err);
            if (rc == RAG_ERR_CORRUPT && !restarts++) continue; /* another file: start over */
            break;
        }
        if (rc == 0) {
            rc = finish(d, &k, r, err);
            break;
        }
        /* a dropped transfer that delivered bytes is resumed where it stopped */
        if (rc != RAG_ERR_NET || !k.written || r->reconnects >= d->max_resumes) break;
        r->reconnects++;
    }
    rag_free(part);
    return rc;
}
