/* ingest/pipeline.c: ing_run, the ingest pipeline.
 *
 * For each file (sorted by canonical path, duplicates dropped):
 *   1. size and mtime equal to the stored document (and same labels, same
 *      explicit id): unchanged, nothing is read;
 *   2. otherwise the file is read and hashed; the same hash means only the
 *      metadata is updated (mtime, and the ACL group when labels changed);
 *   3. otherwise it is extracted, normalised and chunked, and the document
 *      with all its chunks replaces the stored one.
 * Writes are grouped into transactions of whole documents (a batch closes
 * after BATCH_DOCS documents, BATCH_BYTES of text or BATCH_SECONDS), so a
 * killed run loses at most the open batch, never part of a document, and the
 * next run redoes it. A failing file writes nothing.
 *
 * With an embedding model, prepared documents wait in a queue until their
 * chunks fill an embedding batch (EMBED_BATCH_TOKENS): chunks of many small
 * documents then go through the encoder together, and each document is
 * written with its vectors in the same transaction as its chunks. Chunks
 * are sized with the model's tokenizer and never exceed its context.
 *
 * Threads (ingest.threads, --jobs): a pool reads, hashes, extracts and
 * chunks the files ahead of the one thread that decides (store lookups),
 * writes and reports, within a window bounded in files and bytes; the
 * writing thread takes the results in sorted file order, so the database
 * and the reports are the same whatever the thread count (see "one file"
 * below). Containers are walked, and PDF and images parsed, by the writing
 * thread while the pool is paused: their parsers run in forked children
 * (child.c), and a fork must not copy a lock another thread holds.
 * A run reading BULK_BYTES or more also hands SQLite's checkpoints (copying
 * the write-ahead log into the database) to a thread of the store's
 * (store_bg_checkpoint), off the writing thread; that thread only runs
 * SQLite, which no forked child uses. */
#include "ingest/ingest.h"
#include "ingest/crawl.h"
#include "ingest/ing_int.h"
#include "ingest/walk.h"
#include "base/file.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_DOCS 256
#define BATCH_BYTES (16u << 20)
#define BATCH_SECONDS 1.0
#define EMBED_BATCH_TOKENS 8192 /* chunk tokens queued before an embedding pass */
#define EMBED_BATCH_DOCS 256

void ing_default_params(ing_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_file_size = (size_t)256 << 20;
    ing_chunk_params c;
    ing_chunk_params_default(&c);
    p->chunk_tokens = c.target_tokens;
    p->overlap_tokens = c.overlap_tokens;
    p->crawl_delay = 1;
    p->max_pages = 1000;
    p->fetch_timeout = 30;
    p->max_redirects = 5;
}

/* A document extracted and chunked, waiting for its vectors. */
typedef struct pending {
    char *path, *uri;
    char hash[RAG_SHA256_HEX_LEN + 1];
    int64_t mtime_ns, size, group;
    int existed;
    ing_type type;
    ing_text text;
    ing_chunks chunks;
} pending;

typedef struct run {
    store *s;
    const ing_params *p;
    ing_report *rep;
    ing_limits limits;
    ing_chunk_params chunking;
    int64_t model_id; /* store id of the embedder's identity */
    pending *queue;
    size_t n_queue, cap_queue, queue_tokens;
    int64_t group;         /* ACL group for p->labels (when given) */
    int64_t default_group; /* ACL group for new documents without p->labels */
    int in_tx;
    size_t batch_docs;
    size_t batch_bytes;
    double batch_start;
} run;

static void notify(run *r, const char *path, ing_status st, const char *reason)
{
    switch (st) {
    case ING_ADDED:
        r->rep->added++;
        break;
    case ING_UPDATED:
        r->rep->updated++;
        break;
    case ING_UNCHANGED:
        r->rep->unchanged++;
        break;
    case ING_REMOVED:
        r->rep->removed++;
        break;
    case ING_SKIPPED:
        r->rep->skipped++;
        break;
    case ING_FAILED:
        r->rep->failed++;
        break;
    }
    if (r->p->on_file) r->p->on_file(r->p->ctx, path, st, reason);
}

static int batch_open(run *r, rag_err *err)
{
    if (r->in_tx) return 0;
    int rc = store_begin(r->s, err);
    if (rc) return rc;
    r->in_tx = 1;
    r->batch_docs = r->batch_bytes = 0;
    r->batch_start = rag_now_s();
    return 0;
}

static int batch_close(run *r, rag_err *err)
{
    if (!r->in_tx) return 0;
    r->in_tx = 0;
    int rc = store_commit(r->s, err);
    if (rc) store_rollback(r->s);
    return rc;
}

static int batch_account(run *r, size_t bytes, rag_err *err)
{
    r->batch_docs++;
    r->batch_bytes += bytes;
    if (r->batch_docs >= BATCH_DOCS || r->batch_bytes >= BATCH_BYTES ||
        rag_now_s() - r->batch_start >= BATCH_SECONDS)
        return batch_close(r, err);
    return 0;
}

/* HTML <title>, PDF and DOCX metadata titles are not part of the body text;
 * put the title in front as a heading so it is searchable and appears in
 * heading paths, unless the text already starts with it. */
static void title_into_text(ing_text *t)
{
    if (!t->title || t->title_in_text) return;
    size_t tl = strlen(t->title);
    if (t->n_blocks && t->blocks[0].len == tl &&
        !memcmp(t->text.data + t->blocks[0].start, t->title, tl))
        return;
    ing_text nt = {0};
    nt.mime = t->mime;
    nt.n_repaired = t->n_repaired;
    ing_text_add(&nt, ING_HEADING, 1, t->title, tl);
    for (size_t i = 0; i < t->n_blocks; i++) {
        const ing_block *b = &t->blocks[i];
        ing_text_add(&nt, b->kind, b->level, t->text.data + b->start, b->len);
    }
    nt.title = t->title;
    t->title = NULL;
    nt.title_in_text = 1;
    nt.meta = t->meta;
    t->meta = (rag_buf){0};
    ing_text_free(t);
    *t = nt;
}

static char *metadata_json(const ing_text *t, ing_type type)
{
    rag_buf b = {0};
    rag_buf_printf(&b, "{\"type\":\"%s\"", ing_type_name(type));
    if (t->n_repaired) rag_buf_printf(&b, ",\"encoding_repairs\":%zu", t->n_repaired);
    if (t->meta.len) {
        rag_buf_putc(&b, ',');
        rag_buf_append(&b, t->meta.data, t->meta.len);
    }
    rag_buf_putc(&b, '}');
    return rag_buf_steal(&b);
}

static void pending_free(pending *q)
{
    rag_free(q->path);
    rag_free(q->uri);
    ing_chunks_free(&q->chunks);
    ing_text_free(&q->text);
}

/* Writes one prepared document with its chunks (and vectors, `vecs` holding
 * one row of dims floats per chunk, or NULL). Returns 0, 1 (this document
 * failed: reported), or <0 (fatal). */
static int write_pending(run *r, pending *q, const float *vecs, int dims, rag_err *err)
{
    store_chunk_in *in = rag_xcalloc(q->chunks.n, sizeof *in);
    for (size_t i = 0; i < q->chunks.n; i++) {
        const ing_chunk *c = &q->chunks.v[i];
        in[i].text = q->text.text.data + c->byte_start;
        in[i].len = c->byte_end - c->byte_start;
        in[i].n_tokens = c->n_tokens;
        in[i].byte_start = c->byte_start;
        in[i].byte_end = c->byte_end;
        in[i].heading_path = c->heading_path;
        in[i].vector = vecs ? vecs + i * (size_t)dims : NULL;
    }
    char *meta = metadata_json(&q->text, q->type);
    store_doc_in d = {
        .uri = q->uri,
        .ext_id = r->p->ext_id,
        .title = q->text.title ? q->text.title : "",
        .mime = q->text.mime ? q->text.mime : "text/plain",
        .content_hash = q->hash,
        .metadata_json = meta,
        .mtime_ns = q->mtime_ns,
        .size = q->size,
        .acl_group = q->group,
    };
    int rc = batch_open(r, err);
    if (!rc) rc = store_doc_replace(r->s, &d, in, q->chunks.n, r->model_id, dims, NULL, err);
    if (!rc) {
        r->rep->chunks += q->chunks.n;
        r->rep->bytes += (uint64_t)q->size;
        rc = batch_account(r, q->text.text.len, err);
        if (!rc) notify(r, q->path, q->existed ? ING_UPDATED : ING_ADDED, NULL);
    } else if (rc == RAG_ERR_INVALID) {
        /* a constraint on this document only (e.g. its explicit id is taken) */
        char *why = rag_xasprintf("%s", err->msg);
        rag_err_clear(err);
        notify(r, q->path, ING_FAILED, why);
        rag_free(why);
        rc = 1;
    }
    rag_free(meta);
    rag_free(in);
    return rc;
}

/* Drops the queue after a fatal error. */
static void flush_drop(run *r)
{
    for (size_t i = 0; i < r->n_queue; i++)
        pending_free(&r->queue[i]);
    r->n_queue = 0;
}

/* Text tokens as the embedding model counts them (without prefix and special
 * tokens: the chunk target already leaves room for those). */
static size_t embed_count_tokens(void *ctx, const char *s, size_t n)
{
    size_t with = emb_count_tokens(ctx, s, n), overhead = emb_count_tokens(ctx, "", 0);
    return with > overhead ? with - overhead : 0;
}

/* Embeds the chunks of every queued document in one pass, then writes the
 * documents. */
static int flush_queue(run *r, rag_err *err)
{
    float *vecs = NULL;
    int dims = 0, rc = 0;
    if (r->p->embedder && r->n_queue) {
        size_t n = 0;
        for (size_t i = 0; i < r->n_queue; i++)
            n += r->queue[i].chunks.n;
        dims = emb_dims(r->p->embedder);
        char **texts = rag_xcalloc(n, sizeof *texts);
        uint8_t *cut = rag_xcalloc(n, 1);
        size_t k = 0;
        for (size_t i = 0; i < r->n_queue; i++)
            for (size_t j = 0; j < r->queue[i].chunks.n; j++, k++) {
                const ing_chunk *c = &r->queue[i].chunks.v[j];
                texts[k] = rag_xstrndup(r->queue[i].text.text.data + c->byte_start,
                                        c->byte_end - c->byte_start);
            }
        vecs = rag_xmalloc(n * (size_t)dims * sizeof *vecs);
        if (r->p->embed_fn)
            rc = r->p->embed_fn(r->p->embed_ctx, (const char *const *)texts, n, vecs, cut, err);
        else
            rc = emb_embed(r->p->embedder, (const char *const *)texts, n, EMB_DOCUMENT, 1, vecs,
                           cut, err);
        for (size_t i = 0; i < n; i++)
            rag_free(texts[i]);
        rag_free(texts);
        /* chunks are sized to fit, so a cut means the tokenizers disagree: say so */
        for (size_t i = 0, k2 = 0; !rc && i < r->n_queue; i++)
            for (size_t j = 0; j < r->queue[i].chunks.n; j++, k2++)
                if (cut[k2])
                    rag_log_warn("%s: chunk %zu was longer than the embedding model's context and "
                                 "was truncated",
                                 r->queue[i].path, j);
        rag_free(cut);
    }
    size_t off = 0;
    for (size_t i = 0; i < r->n_queue; i++) {
        if (!rc) {
            int w =
                write_pending(r, &r->queue[i], vecs ? vecs + off * (size_t)dims : NULL, dims, err);
            if (w < 0) rc = w;
        }
        off += r->queue[i].chunks.n;
        pending_free(&r->queue[i]);
    }
    r->n_queue = 0;
    r->queue_tokens = 0;
    rag_free(vecs);
    return rc;
}

/* Walks a container (archive, mailbox, email) and writes its members, then
 * its own record. Writing thread. Returns 0, 1 (failed: reported), <0 fatal. */
static int ingest_container(run *r, const ing_file *f, const rag_map *m, const char *hash,
                            int64_t group, int existed, ing_type type, unsigned depth,
                            rag_err *err);

/* Queues a prepared document; flushes when the queue is full. */
static int enqueue(run *r, const ing_file *f, const char *hash, int64_t group, int existed,
                   ing_type type, ing_text *t, ing_chunks *chunks, rag_err *err)
{
    r->queue = rag_xgrow(r->queue, &r->cap_queue, r->n_queue + 1, sizeof *r->queue);
    pending *q = &r->queue[r->n_queue++];
    *q = (pending){.path = rag_xstrdup(f->path),
                   .uri = rag_xstrdup(f->uri),
                   .mtime_ns = f->mtime_ns,
                   .size = (int64_t)f->size,
                   .group = group,
                   .existed = existed,
                   .type = type,
                   .text = *t,
                   .chunks = *chunks};
    memcpy(q->hash, hash, sizeof q->hash);
    for (size_t i = 0; i < chunks->n; i++)
        r->queue_tokens += chunks->v[i].n_tokens;
    if (!r->p->embedder || r->queue_tokens >= EMBED_BATCH_TOKENS || r->n_queue >= EMBED_BATCH_DOCS)
        return flush_queue(r, err);
    return 0;
}

static int drop_members(run *r, const ing_file *f, rag_err *err);

/* What extraction made of one file's bytes: a document ready to queue, a
 * container to walk, or the reason it is neither. Made without the store,
 * so by any thread; used by the writing thread. */
typedef struct prepared {
    ing_status st; /* ING_ADDED: text and chunks hold the document (or, with
                    * `container`, nothing: the writer walks it); else
                    * ING_SKIPPED or ING_FAILED with `reason` */
    int container;
    char *reason;
    ing_type type;
    ing_text text;
    ing_chunks chunks;
} prepared;

static void prepared_free(prepared *pr)
{
    rag_free(pr->reason);
    ing_text_free(&pr->text);
    ing_chunks_free(&pr->chunks);
    memset(pr, 0, sizeof *pr);
}

/* Detects (unless `type` is known), extracts, normalises and chunks one
 * file's bytes. Reads only r's limits and chunking parameters (the
 * embedder's tokenizer is read-only): safe in the extraction threads. A
 * container is only recognised here: its walk writes as it goes. */
static void prepare_content(const run *r, const char *path, const uint8_t *data, size_t n,
                            ing_type type, prepared *out)
{
    memset(out, 0, sizeof *out);
    if (type == ING_TYPE_UNKNOWN) type = ing_detect(path, data, n);
    out->type = type;
    out->st = ING_ADDED;
    /* An empty file (or one of whitespace only) is no document, and no
     * failure either. What was stored from it before stays. */
    if (ing_is_blank(data, n)) {
        out->st = ING_SKIPPED;
        out->reason = rag_xstrdup("empty");
        return;
    }
    if (ing_type_is_container(type)) {
        out->container = 1;
        return;
    }
    rag_err ferr = {0};
    int rc = ing_extract(type, path, data, n, &r->limits, &out->text, &ferr);
    if (rc) {
        ing_text_free(&out->text);
        out->st = rc == RAG_ERR_UNSUPPORTED && (type == ING_TYPE_UNKNOWN || type == ING_TYPE_IMAGE)
                      ? ING_SKIPPED
                      : ING_FAILED;
        out->reason = rag_xstrdup(ferr.msg);
        return;
    }
    title_into_text(&out->text);
    ing_chunk_text(&out->text, &r->chunking, &out->chunks);
    if (out->chunks.n == 0) {
        ing_chunks_free(&out->chunks);
        ing_text_free(&out->text);
        out->st = ING_FAILED;
        out->reason = rag_xasprintf("%s: no text could be extracted", path);
    }
}

/* Writing thread: queues a prepared document (its text and chunks move into
 * the queue), walks a container (m: its bytes), or reports why there is
 * nothing. depth: 0 for a file or page, 1 for a member of it, ... Returns 0
 * (queued or written), 1 (skipped or failed: reported), <0 fatal. */
static int finish_prepared(run *r, const ing_file *f, const rag_map *m, const char *hash,
                           int64_t group, int existed, unsigned depth, prepared *pr, rag_err *err)
{
    int rc = 1;
    if (pr->st != ING_ADDED) {
        notify(r, f->path, pr->st, pr->reason);
    } else if (pr->container) {
        rc = ingest_container(r, f, m, hash, group, existed, pr->type, depth, err);
    } else {
        /* it may have been a container before: its members go */
        rc = existed ? drop_members(r, f, err) : 0;
        if (!rc) {
            rc = enqueue(r, f, hash, group, existed, pr->type, &pr->text, &pr->chunks, err);
            pr->text = (ing_text){0};
            pr->chunks = (ing_chunks){0};
        }
    }
    prepared_free(pr);
    return rc;
}

static int ingest_content_at(run *r, const ing_file *f, const rag_map *m, const char *hash,
                             int64_t group, int existed, ing_type type, unsigned depth,
                             rag_err *err)
{
    prepared pr;
    prepare_content(r, f->path, m->data, m->size, type, &pr);
    return finish_prepared(r, f, m, hash, group, existed, depth, &pr, err);
}

/* Extracts and chunks one page or file whose content is new or changed, and
 * queues it for writing. type: what the source says it is (a URL's
 * Content-Type), or ING_TYPE_UNKNOWN to detect it from the bytes and the
 * name. Returns 0 (queued or written), 1 (failed or skipped: reported), <0
 * fatal. */
static int ingest_content(run *r, const ing_file *f, const rag_map *m, const char *hash,
                          int64_t group, int existed, ing_type type, rag_err *err)
{
    return ingest_content_at(r, f, m, hash, group, existed, type, 0, err);
}

/* ---- containers ------------------------------------------------------------
 * An archive's members are documents at "container!/member". The container
 * itself is stored too, as a document without chunks (metadata
 * {"type":"archive","members":N}), written after its members: its size and
 * mtime say, on the next run, that nothing in it changed (it is then not
 * read at all). When it changed, the records of its members are read first
 * (one range of the uri index), then the walk compares each member's hash:
 * unchanged members are kept (their labels and mtime brought up to date),
 * changed ones replaced, and those no longer there deleted. A container that
 * fails as a whole (corrupt, over a limit for all of it) writes no record of
 * its own and deletes nothing: the next run reads it again. */

typedef struct old_member {
    char *uri;
    char hash[RAG_SHA256_HEX_LEN + 1];
    int64_t id, group, mtime_ns;
    int seen;
} old_member;

typedef struct old_members {
    old_member *v;
    size_t n, cap;
} old_members;

static int collect_old(void *ctx, const store_doc *d)
{
    old_members *o = ctx;
    o->v = rag_xgrow(o->v, &o->cap, o->n + 1, sizeof *o->v);
    old_member *m = &o->v[o->n++];
    *m = (old_member){
        .uri = rag_xstrdup(d->uri), .id = d->id, .group = d->acl_group, .mtime_ns = d->mtime_ns};
    snprintf(m->hash, sizeof m->hash, "%s", d->content_hash);
    return 0;
}

static void old_members_free(old_members *o)
{
    for (size_t i = 0; i < o->n; i++)
        rag_free(o->v[i].uri);
    rag_free(o->v);
}

/* The store lists by uri (memcmp order, as strcmp): a binary search. */
static old_member *old_find(old_members *o, const char *uri)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(o->v[mid].uri, uri);
        if (!c) return &o->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Marks the records under prefix seen: a nested container's members, kept
 * or dealt with by its own walk. */
static void old_seen_prefix(old_members *o, const char *prefix)
{
    size_t l = strlen(prefix);
    for (size_t i = 0; i < o->n; i++)
        if (!strncmp(o->v[i].uri, prefix, l)) o->v[i].seen = 1;
}

/* Moves the members of the container `uri` (all levels) to ACL group
 * `group` (labels changed, content not). */
static int regroup_members(run *r, const char *uri, int64_t group, rag_err *err)
{
    old_members o = {0};
    char *prefix = rag_xasprintf("%s!/", uri);
    int rc = store_doc_each_prefix(r->s, prefix, collect_old, &o, err);
    for (size_t i = 0; !rc && i < o.n; i++) {
        if (o.v[i].group == group) continue;
        rc = batch_open(r, err);
        if (!rc) rc = store_doc_touch(r->s, o.v[i].id, o.v[i].mtime_ns, group, err);
        if (!rc) rc = batch_account(r, 0, err);
    }
    rag_free(prefix);
    old_members_free(&o);
    return rc;
}

/* Deletes the members stored under f (a file that was a container and is
 * now a document of its own), reporting each as removed. */
static int drop_members(run *r, const ing_file *f, rag_err *err)
{
    old_members o = {0};
    char *prefix = rag_xasprintf("%s!/", f->uri);
    int rc = store_doc_each_prefix(r->s, prefix, collect_old, &o, err);
    rag_free(prefix);
    size_t ul = strlen(f->uri);
    for (size_t i = 0; !rc && i < o.n; i++) {
        rc = batch_open(r, err);
        if (!rc) rc = store_doc_delete(r->s, o.v[i].id, err);
        if (!rc) rc = batch_account(r, 0, err);
        if (!rc) {
            char *gone = rag_xasprintf("%s%s", f->path, o.v[i].uri + ul);
            notify(r, gone, ING_REMOVED, NULL);
            rag_free(gone);
        }
    }
    old_members_free(&o);
    return rc;
}

typedef struct cont_walk {
    run *r;
    const ing_file *f; /* the container: path, uri, mtime */
    int64_t group;
    unsigned depth; /* the container's (0: a file) */
    old_members *old;
    size_t n_members;
    int fatal; /* a store error stopped the walk (in err) */
    int cancelled;
} cont_walk;

static int member_cb(void *ctx, const ing_member *m, rag_err *err)
{
    cont_walk *w = ctx;
    run *r = w->r;
    if (r->p->cancel && *r->p->cancel) {
        w->cancelled = 1;
        return rag_err_set(err, RAG_ERR_INTERRUPTED, "cancelled");
    }
    w->n_members++;
    char *uri = rag_xasprintf("%s!/%s", w->f->uri, m->name);
    char *path = rag_xasprintf("%s!/%s", w->f->path, m->name);
    char *nested = rag_xasprintf("%s!/", uri);
    old_member *om = old_find(w->old, uri);
    if (om) om->seen = 1;
    int rc = 0;
    if (m->fail) {
        /* what was stored from it before stays, as for a failing file */
        old_seen_prefix(w->old, nested);
        notify(r, path, ING_FAILED, m->fail_msg);
        goto out;
    }
    char hash[RAG_SHA256_HEX_LEN + 1];
    rag_sha256_hex(m->data, m->n, hash);
    int64_t mtime = m->mtime_ns ? m->mtime_ns : w->f->mtime_ns;
    if (om && !strcmp(om->hash, hash)) {
        old_seen_prefix(w->old, nested); /* same bytes: same members */
        int regroup = om->group != w->group;
        if (regroup || om->mtime_ns != mtime) {
            rc = batch_open(r, err);
            if (!rc) rc = store_doc_touch(r->s, om->id, mtime, w->group, err);
            if (!rc) rc = batch_account(r, 0, err);
            if (!rc && regroup) rc = regroup_members(r, uri, w->group, err);
        }
        if (!rc) notify(r, path, regroup ? ING_UPDATED : ING_UNCHANGED, NULL);
        goto out;
    }
    ing_type type = m->type != ING_TYPE_UNKNOWN ? m->type : ing_detect(m->name, m->data, m->n);
    if (ing_type_is_container(type)) old_seen_prefix(w->old, nested); /* its own walk */
    ing_file mf = {.path = path, .uri = uri, .size = m->n, .mtime_ns = mtime};
    rag_map mm = {m->data, m->n, 0};
    rc = ingest_content_at(r, &mf, &mm, hash, w->group, om != NULL, type, w->depth + 1, err);
    if (rc > 0) rc = 0;
out:
    if (rc < 0 && rc != RAG_ERR_INTERRUPTED) w->fatal = 1;
    rag_free(uri);
    rag_free(path);
    rag_free(nested);
    return rc;
}

static const char *container_mime(const uint8_t *d, size_t n)
{
    if (n >= 4 && (!memcmp(d, "PK\3\4", 4) || !memcmp(d, "PK\5\6", 4))) return "application/zip";
    if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b) return "application/gzip";
    if (n >= 3 && !memcmp(d, "BZh", 3)) return "application/x-bzip2";
    if (n >= 6 && !memcmp(d,
                          "\xfd"
                          "7zXZ",
                          5))
        return "application/x-xz";
    if (n >= 4 && !memcmp(d, "\x28\xb5\x2f\xfd", 4)) return "application/zstd";
    if (n >= 6 && !memcmp(d, "7z\xbc\xaf\x27\x1c", 6)) return "application/x-7z-compressed";
    if (n >= 262 && !memcmp(d + 257, "ustar", 5)) return "application/x-tar";
    return "application/octet-stream";
}

static int ingest_container(run *r, const ing_file *f, const rag_map *m, const char *hash,
                            int64_t group, int existed, ing_type type, unsigned depth, rag_err *err)
{
    if (depth + 1 > r->limits.max_depth) {
        char *why = rag_xasprintf("%s: a container nested deeper than the limit of %u levels "
                                  "(max_depth), not read",
                                  f->path, r->limits.max_depth);
        notify(r, f->path, ING_FAILED, why);
        rag_free(why);
        return 1;
    }
    old_members old = {0};
    char *prefix = rag_xasprintf("%s!/", f->uri);
    int rc = store_doc_each_prefix(r->s, prefix, collect_old, &old, err);
    rag_free(prefix);
    if (rc) {
        old_members_free(&old);
        return rc;
    }
    cont_walk w = {.r = r, .f = f, .group = group, .depth = depth, .old = &old};
    rag_err ferr = {0};
    rc = ing_members(type, f->path, m->data, m->size, &r->limits, member_cb, &w, &ferr);
    if (rc && w.fatal) {
        if (err) *err = ferr;
        old_members_free(&old);
        return rc;
    }
    if (rc) {
        if (!w.cancelled) notify(r, f->path, ING_FAILED, ferr.msg);
        old_members_free(&old);
        return 1;
    }
    /* members no longer there */
    size_t ul = strlen(f->uri);
    for (size_t i = 0; !rc && i < old.n; i++) {
        if (old.v[i].seen) continue;
        rc = batch_open(r, err);
        if (!rc) rc = store_doc_delete(r->s, old.v[i].id, err);
        if (!rc) rc = batch_account(r, 0, err);
        if (!rc) {
            char *gone = rag_xasprintf("%s%s", f->path, old.v[i].uri + ul);
            notify(r, gone, ING_REMOVED, NULL);
            rag_free(gone);
        }
    }
    old_members_free(&old);
    if (rc) return rc;
    /* the container's own record, queued after its members: an email's is
     * its message (headers and body), an archive's or a mailbox's holds no
     * text */
    if (type == ING_TYPE_EMAIL) {
        ing_text t = {0};
        rc = ing_extract(type, f->path, m->data, m->size, &r->limits, &t, &ferr);
        if (rc) {
            ing_text_free(&t);
            notify(r, f->path, ING_FAILED, ferr.msg);
            return 1;
        }
        title_into_text(&t);
        char count[32];
        snprintf(count, sizeof count, "%zu", w.n_members);
        if (w.n_members) ing_meta_json(&t, "attachments", count);
        ing_chunks chunks = {0};
        ing_chunk_text(&t, &r->chunking, &chunks);
        return enqueue(r, f, hash, group, existed, type, &t, &chunks, err);
    }
    ing_text t = {0};
    t.mime = type == ING_TYPE_MBOX ? "application/mbox" : container_mime(m->data, m->size);
    const char *base = strrchr(f->uri, '/');
    base = base ? base + 1 : f->uri;
    ing_text_set_title(&t, base, strlen(base));
    char count[32];
    snprintf(count, sizeof count, "%zu", w.n_members);
    ing_meta_json(&t, "members", count);
    ing_chunks none = {0};
    return enqueue(r, f, hash, group, existed, type, &t, &none, err);
}

/* ---- one file: decided by the writing thread, read by any ---------------
 *
 * A file goes through three steps. decide (writing thread, store lookups):
 * too large, unchanged (size and mtime as stored), or to be read. read (an
 * extraction thread, or the writing thread itself): map, hash, and unless
 * the hash is the stored one, extract and chunk (prepare_content). finish
 * (writing thread, in file order): touch, queue, walk a container, or
 * report. Reports and writes thus come in file order whatever the number of
 * threads, and the database ends the same. A container's members are read
 * and written by the writing thread during its walk (their records depend
 * on what the store holds under the container). */
typedef enum job_state { JOB_WAITING, JOB_TAKEN, JOB_READY } job_state;

typedef struct file_job {
    /* decide */
    int existed, same_id, to_read;
    store_doc old;
    int64_t group;
    /* read */
    job_state state;
    char *map_error; /* the file could not be read */
    char hash[RAG_SHA256_HEX_LEN + 1];
    int same_hash; /* content as stored: nothing extracted */
    prepared pr;
    rag_map m; /* kept mapped for a container's walk or the writer's parse */
    int mapped;
    int on_writer; /* a parser in a child process: the writer runs it, alone */
    ing_type type; /* detected, for on_writer */
} file_job;

/* Step 1. Returns 0 or <0 (fatal). */
static int job_decide(run *r, const ing_file *f, file_job *j, rag_err *err)
{
    memset(j, 0, sizeof *j);
    int existed = store_doc_get_by_uri(r->s, f->uri, &j->old, err);
    if (existed < 0) return existed;
    j->existed = existed;
    j->group = r->p->labels ? r->group : existed ? j->old.acl_group : r->default_group;
    j->same_id =
        !r->p->ext_id || (existed && j->old.ext_id && !strcmp(j->old.ext_id, r->p->ext_id));
    j->to_read = f->size <= r->p->max_file_size &&
                 !(existed && j->same_id && j->old.size == (int64_t)f->size &&
                   j->old.mtime_ns == f->mtime_ns);
    j->state = j->to_read ? JOB_WAITING : JOB_READY;
    return 0;
}

/* Step 2: the file's bytes. No store access: any thread. */
static void job_read(const run *r, const ing_file *f, file_job *j)
{
    rag_err ferr = {0};
    if (rag_file_map(f->path, r->p->max_file_size, &j->m, &ferr) != 0) {
        j->map_error = rag_xstrdup(ferr.msg);
        return;
    }
    rag_sha256_hex(j->m.data, j->m.size, j->hash);
    j->same_hash = j->existed && j->same_id && !strcmp(j->old.content_hash, j->hash);
    if (!j->same_hash) {
        j->type = ing_detect(f->path, j->m.data, j->m.size);
        /* PDF and images are parsed in a forked child (child.c), which the
         * writer runs while no extraction thread works: a fork copies no
         * thread, and a lock one of them held (iconv's, a library's) would
         * stay locked in the child for good. */
        j->on_writer = j->type == ING_TYPE_PDF || j->type == ING_TYPE_IMAGE;
        if (!j->on_writer) prepare_content(r, f->path, j->m.data, j->m.size, j->type, &j->pr);
    }
    if (j->pr.container || j->on_writer)
        j->mapped = 1;
    else
        rag_file_unmap(&j->m);
}

static void job_free(file_job *j)
{
    if (j->existed) store_doc_free(&j->old);
    if (j->mapped) rag_file_unmap(&j->m);
    rag_free(j->map_error);
    prepared_free(&j->pr);
    memset(j, 0, sizeof *j);
}

/* Step 3. Returns 0 or <0 (fatal). */
static int job_finish(run *r, const ing_file *f, file_job *j, rag_err *err)
{
    int rc = 0;
    if (f->size > r->p->max_file_size) {
        char *why = rag_xasprintf("%s: file is %llu bytes, over the limit of %zu (--max-size)",
                                  f->path, (unsigned long long)f->size, r->p->max_file_size);
        notify(r, f->path, ING_FAILED, why);
        rag_free(why);
    } else if (!j->to_read || j->same_hash) {
        /* unchanged content: at most its labels or mtime change */
        int moved = j->old.acl_group != j->group;
        if (moved || j->to_read) {
            rc = batch_open(r, err);
            if (!rc) rc = store_doc_touch(r->s, j->old.id, f->mtime_ns, j->group, err);
            if (!rc) rc = batch_account(r, 0, err);
            if (!rc && moved) rc = regroup_members(r, f->uri, j->group, err);
        }
        if (!rc) notify(r, f->path, moved ? ING_UPDATED : ING_UNCHANGED, NULL);
    } else if (j->map_error) {
        notify(r, f->path, ING_FAILED, j->map_error);
    } else {
        rc = finish_prepared(r, f, &j->m, j->hash, j->group, j->existed, 0, &j->pr, err);
        if (rc > 0) rc = 0;
    }
    return rc;
}

/* ---- the extraction threads -----------------------------------------------
 * They take waiting jobs in file order, within a window ahead of the
 * writing thread, bounded in jobs and in bytes, so memory stays bounded
 * whatever the tree. One thread means none: the writing thread reads each
 * file itself when it comes to it. */
#define POOL_MAX_THREADS 64
#define POOL_WINDOW_PER_THREAD 8
#define POOL_WINDOW_BYTES ((uint64_t)256 << 20)

typedef struct pool {
    const run *r;
    const ing_files *files;
    file_job *jobs; /* ring of `window` jobs: job i is jobs[i % window] */
    size_t window;
    size_t decided; /* jobs [done, decided) are decided, in the ring */
    size_t done;    /* jobs before this one are finished */
    size_t next;    /* the next job a thread may take */
    uint64_t bytes; /* sizes of the decided, unfinished files */
    int stop;
    int paused; /* the writer works alone (pool_pause): take no job */
    int active; /* threads reading a job */
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    pthread_t threads[POOL_MAX_THREADS];
    int n_threads;
} pool;

static file_job *pool_job(pool *pl, size_t i)
{
    return &pl->jobs[i % pl->window];
}

static void *pool_thread(void *arg)
{
    pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        /* jobs before `done` are finished and their slots reused */
        if (pl->next < pl->done) pl->next = pl->done;
        while (!pl->stop && pl->next < pl->decided && pool_job(pl, pl->next)->state != JOB_WAITING)
            pl->next++;
        if (pl->stop) break;
        if (pl->paused || pl->next >= pl->decided) {
            pthread_cond_wait(&pl->work, &pl->mu);
            continue;
        }
        size_t i = pl->next++;
        file_job *j = pool_job(pl, i);
        j->state = JOB_TAKEN;
        pl->active++;
        pthread_mutex_unlock(&pl->mu);
        job_read(pl->r, &pl->files->v[i], j);
        pthread_mutex_lock(&pl->mu);
        j->state = JOB_READY;
        pl->active--;
        pthread_cond_broadcast(&pl->ready);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* AddressSanitizer's allocator (GCC 12's, and clang's before 17) takes no
 * lock around fork(), as glibc's malloc does: a PDF or OCR child forked
 * while another thread is inside it waits on that lock until its
 * wall-clock limit. Under ASan the writing thread therefore reads every
 * file itself (make test exercises the pool; make asan the rest). */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_FORK_SAFE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_FORK_SAFE 0
#endif
#endif
#ifndef POOL_FORK_SAFE
#define POOL_FORK_SAFE 1
#endif

/* Runs reading at least this much hand SQLite's checkpoints to a thread. */
#define BULK_BYTES (4u << 20)

/* Extraction threads for p->threads (0: one per CPU, at most 8). */
static int pool_threads(const ing_params *p)
{
    if (!POOL_FORK_SAFE) return 1;
    long n = p->threads;
    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1) n = 1;
        if (n > 8) n = 8;
    }
    return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n;
}

static void pool_start(pool *pl, const run *r, const ing_files *files)
{
    memset(pl, 0, sizeof *pl);
    pl->r = r;
    pl->files = files;
    int t = pool_threads(r->p);
    pl->window = (size_t)(t > 1 ? t : 1) * POOL_WINDOW_PER_THREAD;
    pl->jobs = rag_xcalloc(pl->window, sizeof *pl->jobs);
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->work, NULL);
    pthread_cond_init(&pl->ready, NULL);
    for (int i = 0; t > 1 && i < t; i++)
        if (pthread_create(&pl->threads[pl->n_threads], NULL, pool_thread, pl) == 0)
            pl->n_threads++;
}

/* Decides the jobs ahead of job `done` that fit in the window. Writing thread. */
static int pool_fill(pool *pl, run *r, rag_err *err)
{
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        size_t i = pl->decided;
        int room = i < pl->files->n && i - pl->done < pl->window &&
                   (i == pl->done || pl->bytes < POOL_WINDOW_BYTES);
        pthread_mutex_unlock(&pl->mu);
        if (!room) return 0;
        file_job j;
        int rc = job_decide(r, &pl->files->v[i], &j, err);
        if (rc) return rc;
        pthread_mutex_lock(&pl->mu);
        *pool_job(pl, i) = j;
        pl->decided++;
        pl->bytes += pl->files->v[i].size;
        pthread_cond_signal(&pl->work);
        pthread_mutex_unlock(&pl->mu);
    }
}

/* Job `done`, read: by a thread (waited for) or here when none took it. */
static file_job *pool_take(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    file_job *j = pool_job(pl, pl->done);
    if (j->state == JOB_WAITING) {
        j->state = JOB_TAKEN;
        pthread_mutex_unlock(&pl->mu);
        job_read(pl->r, &pl->files->v[pl->done], j);
        pthread_mutex_lock(&pl->mu);
        j->state = JOB_READY;
    }
    while (j->state != JOB_READY)
        pthread_cond_wait(&pl->ready, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
    return j;
}

/* The writer alone: waits until no thread reads a job, and keeps them from
 * taking one until pool_resume. Around every fork (child.c) of the writer:
 * parsing a PDF or image, walking a container (its members may be either). */
static void pool_pause(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->paused = 1;
    while (pl->active > 0)
        pthread_cond_wait(&pl->ready, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
}

static void pool_resume(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->paused = 0;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
}

static void pool_release(pool *pl, file_job *j)
{
    job_free(j);
    pthread_mutex_lock(&pl->mu);
    pl->bytes -= pl->files->v[pl->done].size;
    pl->done++;
    pthread_mutex_unlock(&pl->mu);
}

/* Stops the threads (after the job each is reading) and frees what is left. */
static void pool_stop(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = 1;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < pl->n_threads; i++)
        pthread_join(pl->threads[i], NULL);
    for (size_t i = pl->done; i < pl->decided; i++)
        job_free(pool_job(pl, i));
    rag_free(pl->jobs);
    pthread_cond_destroy(&pl->ready);
    pthread_cond_destroy(&pl->work);
    pthread_mutex_destroy(&pl->mu);
}

/* A page fetched by URL (ingest/crawl.c): stored like a file whose source
 * is the URL. Unchanged content (same hash) is not extracted again. */
typedef struct page_run {
    run *r;
    ing_progress *prog;
    double t0;
} page_run;

static int ingest_page(void *ctx, const ing_page *pg, rag_err *err)
{
    page_run *pr = ctx;
    run *r = pr->r;
    int rc = 0;
    pr->prog->files_total++;
    pr->prog->current = pg->url;
    if (!pg->body) {
        notify(r, pg->url, pg->skipped ? ING_SKIPPED : ING_FAILED, pg->why);
        goto done;
    }
    store_doc old;
    int existed = store_doc_get_by_uri(r->s, pg->url, &old, err);
    if (existed < 0) return existed;
    int64_t group = r->p->labels ? r->group : existed ? old.acl_group : r->default_group;
    int same_id = !r->p->ext_id || (existed && old.ext_id && !strcmp(old.ext_id, r->p->ext_id));
    char hash[RAG_SHA256_HEX_LEN + 1];
    rag_sha256_hex(pg->body->data, pg->body->len, hash);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (existed && same_id && !strcmp(old.content_hash, hash)) {
        rc = batch_open(r, err);
        if (!rc) rc = store_doc_touch(r->s, old.id, now_ns, group, err);
        if (!rc) rc = batch_account(r, 0, err);
        if (!rc) notify(r, pg->url, old.acl_group != group ? ING_UPDATED : ING_UNCHANGED, NULL);
    } else {
        ing_file f = {.path = (char *)pg->url,
                      .uri = (char *)pg->url,
                      .size = pg->body->len,
                      .mtime_ns = now_ns};
        rag_map m = {(const uint8_t *)pg->body->data, pg->body->len, 0};
        rc = ingest_content(r, &f, &m, hash, group, existed, pg->type, err);
        if (rc > 0) rc = 0;
    }
    if (existed) store_doc_free(&old);
done:
    pr->prog->files_done++;
    pr->prog->bytes_done += pg->body ? pg->body->len : 0;
    r->rep->bytes_seen += pg->body ? pg->body->len : 0;
    pr->prog->seconds = rag_now_s() - pr->t0;
    if (r->p->on_progress) r->p->on_progress(r->p->ctx, pr->prog);
    return rc;
}

typedef struct prune_ctx {
    const ing_files *files;
    rag_strv gone; /* "id\turi" of documents to remove */
} prune_ctx;

static int under_root(const char *uri, const rag_strv *roots)
{
    for (size_t i = 0; i < roots->n; i++) {
        size_t l = strlen(roots->v[i]);
        if (!strncmp(uri, roots->v[i], l) && (uri[l] == 0 || uri[l] == '/' || l == 1)) return 1;
    }
    return 0;
}

/* A member's uri "/x/a.zip!/dir/b.md": 1 when a container part of it
 * ("/x/a.zip"; a directory may be named "x!", so each "!/" is tried) is a
 * file that exists. Pruning a container so removes its members too. */
static int container_exists(const char *uri)
{
    for (const char *p = strstr(uri, "!/"); p; p = strstr(p + 2, "!/")) {
        char *part = rag_xstrndup(uri, (size_t)(p - uri));
        struct stat st;
        int ok = stat(part, &st) == 0 && S_ISREG(st.st_mode);
        rag_free(part);
        if (ok) return 1;
    }
    return 0;
}

static int prune_visit(void *ctx, const store_doc *d)
{
    prune_ctx *pc = ctx;
    if (d->uri[0] != '/' || !under_root(d->uri, &pc->files->roots)) return 0;
    struct stat st;
    if (stat(d->uri, &st) < 0 && (errno == ENOENT || errno == ENOTDIR) &&
        !container_exists(d->uri)) {
        char *line = rag_xasprintf("%lld\t%s", (long long)d->id, d->uri);
        rag_strv_push(&pc->gone, line);
        rag_free(line);
    }
    return 0;
}

static int prune(run *r, const ing_files *files, rag_err *err)
{
    prune_ctx pc = {files, {0}};
    int rc = store_doc_each(r->s, NULL, prune_visit, &pc, err);
    for (size_t i = 0; !rc && i < pc.gone.n; i++) {
        char *tab = strchr(pc.gone.v[i], '\t');
        int64_t id = strtoll(pc.gone.v[i], NULL, 10);
        rc = batch_open(r, err);
        if (!rc) rc = store_doc_delete(r->s, id, err);
        if (!rc) rc = batch_account(r, 0, err);
        if (!rc) notify(r, tab + 1, ING_REMOVED, NULL);
    }
    rag_strv_free(&pc.gone);
    return rc;
}

static int cmp_uri(const void *a, const void *b)
{
    return strcmp(((const ing_file *)a)->uri, ((const ing_file *)b)->uri);
}

static void dedupe(ing_files *f)
{
    if (f->n < 2) return;
    qsort(f->v, f->n, sizeof *f->v, cmp_uri);
    size_t w = 1;
    for (size_t i = 1; i < f->n; i++) {
        if (!strcmp(f->v[i].uri, f->v[w - 1].uri)) {
            rag_free(f->v[i].path);
            rag_free(f->v[i].uri);
        } else {
            f->v[w++] = f->v[i];
        }
    }
    f->n = w;
}

/* What every run does first: ACL groups, the model check, chunk sizes. */
static int run_begin(run *r, store *s, const ing_params *p, ing_report *report, rag_err *err)
{
    memset(report, 0, sizeof *report);
    *r = (run){.s = s, .p = p, .rep = report};
    ing_limits_default(&r->limits);
    r->limits.max_member = p->max_file_size;
    r->limits.ocr_mode = p->ocr_mode;
    r->limits.ocr_languages = p->ocr_languages;
    if (p->ocr_cpu_s) r->limits.ocr_cpu_s = p->ocr_cpu_s;
    ing_chunk_params_default(&r->chunking);
    r->chunking.target_tokens = p->chunk_tokens;
    r->chunking.overlap_tokens = p->overlap_tokens;
    if (r->chunking.min_tokens > r->chunking.target_tokens / 2)
        r->chunking.min_tokens = r->chunking.target_tokens / 2;

    rag_strv none = {0};
    int rc = store_acl_group(s, p->labels ? p->labels : &none, &r->group, err);
    if (!rc)
        rc = store_acl_group(s, p->default_labels ? p->default_labels : &none, &r->default_group,
                             err);
    if (rc) return rc;

    if (p->embedder) {
        rc = ing_model_check(s, p->embedder, &r->model_id, err);
        if (rc) return rc;
        /* chunks measured with the model's tokenizer, within its context
         * once its prefix and special tokens are added */
        r->chunking.count = embed_count_tokens;
        r->chunking.count_ctx = p->embedder;
        size_t overhead = emb_count_tokens(p->embedder, "", 0);
        size_t room = (size_t)emb_max_tokens(p->embedder) > overhead
                          ? (size_t)emb_max_tokens(p->embedder) - overhead
                          : 1;
        if (r->chunking.target_tokens > room) r->chunking.target_tokens = room;
        if (r->chunking.overlap_tokens >= r->chunking.target_tokens)
            r->chunking.overlap_tokens = r->chunking.target_tokens / 4;
        if (r->chunking.min_tokens > r->chunking.target_tokens / 2)
            r->chunking.min_tokens = r->chunking.target_tokens / 2;
    }
    return 0;
}

/* One document whose bytes are here: a page of a known type, or (detect)
 * bytes typed from their content and their source's name as a file is. */
static int run_one(store *s, const char *url, const rag_buf *body, const char *content_type,
                   int detect, const ing_params *p, ing_report *report, rag_err *err)
{
    run r;
    double t0 = rag_now_s();
    int rc = run_begin(&r, s, p, report, err);
    if (rc) return rc;
    ing_progress prog = {0};
    page_run pr = {&r, &prog, t0};
    ing_page pg = {.url = url,
                   .body = body,
                   .final_url = url,
                   .type = detect ? ING_TYPE_UNKNOWN : ing_type_of_mime(content_type)};
    if (pg.type == ING_TYPE_UNKNOWN && !detect) {
        pg.body = NULL;
        pg.skipped = 1;
        pg.why = "not a document type rag reads (HTML, Markdown, text, PDF, DOCX, archives: zip, "
                 "tar, 7z; gzip, bzip2, xz, zstd)";
    }
    rc = ingest_page(&pr, &pg, err);
    if (!rc)
        rc = flush_queue(&r, err);
    else
        flush_drop(&r);
    if (!rc) rc = batch_close(&r, err);
    if (rc) store_rollback(s);
    rag_free(r.queue);
    report->seconds = rag_now_s() - t0;
    return rc;
}

int ing_run_page(store *s, const char *url, const rag_buf *body, const char *content_type,
                 const ing_params *p, ing_report *report, rag_err *err)
{
    return run_one(s, url, body, content_type, 0, p, report, err);
}

int ing_run_bytes(store *s, const char *uri, const rag_buf *body, const ing_params *p,
                  ing_report *report, rag_err *err)
{
    return run_one(s, uri, body, NULL, 1, p, report, err);
}

int ing_run(store *s, const char *const *paths, size_t n_paths, const ing_params *p,
            ing_report *report, rag_err *err)
{
    run r;
    double t0 = rag_now_s();
    int rc = run_begin(&r, s, p, report, err);
    if (rc) return rc;

    /* http(s) URLs are fetched after the files */
    const char **local = rag_xcalloc(n_paths ? n_paths : 1, sizeof *local),
               **urls = rag_xcalloc(n_paths ? n_paths : 1, sizeof *urls);
    size_t n_local = 0, n_urls = 0;
    for (size_t i = 0; i < n_paths; i++) {
        if (ing_is_url(paths[i]))
            urls[n_urls++] = paths[i];
        else
            local[n_local++] = paths[i];
    }
    ing_files files;
    size_t walk_failed = 0;
    ing_walk(local, n_local, p, &files, &walk_failed);
    rag_free(local);
    report->failed += walk_failed;
    dedupe(&files);
    if (p->ext_id && (files.n + n_urls > 1 || (n_urls && p->crawl_depth > 0))) {
        ing_files_free(&files);
        rag_free(urls);
        return rag_err_set(err, RAG_ERR_INVALID,
                           "--id names one document, but %zu files or URLs were given%s",
                           files.n + n_urls, n_urls && p->crawl_depth > 0 ? " (and a crawl)" : "");
    }
    ing_progress prog = {.files_total = files.n};
    for (size_t i = 0; i < files.n; i++)
        prog.bytes_total += files.v[i].size;

    /* a bulk run: SQLite's checkpoints beside the writer (store_bg_checkpoint;
     * a thread like the pool's, so not under AddressSanitizer either) */
    int bulk = POOL_FORK_SAFE && prog.bytes_total >= BULK_BYTES;
    if (bulk) {
        rag_err cerr = {0};
        if (store_bg_checkpoint(s, STORE_BG_LOG_PAGES, &cerr)) {
            rag_log_warn("ingest: %s: checkpoints stay with the writer", cerr.msg);
            bulk = 0;
        }
    }
    pool pl;
    pool_start(&pl, &r, &files);
    for (size_t i = 0; i < files.n && !rc; i++) {
        if (p->cancel && *p->cancel) {
            report->cancelled = 1;
            break;
        }
        prog.current = files.v[i].path;
        rc = pool_fill(&pl, &r, err);
        if (rc) break;
        file_job *j = pool_take(&pl);
        int alone = j->on_writer || j->pr.container;
        if (alone) pool_pause(&pl);
        if (j->on_writer)
            prepare_content(&r, files.v[i].path, j->m.data, j->m.size, j->type, &j->pr);
        rc = job_finish(&r, &files.v[i], j, err);
        if (alone) pool_resume(&pl);
        pool_release(&pl, j);
        prog.files_done++;
        prog.bytes_done += files.v[i].size;
        report->bytes_seen += files.v[i].size;
        prog.seconds = rag_now_s() - t0;
        if (p->on_progress) p->on_progress(p->ctx, &prog);
    }
    pool_stop(&pl);
    if (!rc && n_urls && !(p->cancel && *p->cancel)) {
        page_run pr = {&r, &prog, t0};
        rc = ing_crawl(urls, n_urls, p, ingest_page, &pr, err);
        if (p->cancel && *p->cancel) report->cancelled = 1;
    }
    rag_free(urls);
    if (!rc)
        rc = flush_queue(&r, err);
    else
        flush_drop(&r);
    if (!rc && p->prune && !report->cancelled) rc = prune(&r, &files, err);
    if (!rc) rc = batch_close(&r, err);
    if (rc) store_rollback(s);
    if (bulk) store_bg_checkpoint(s, 0, NULL);
    ing_files_free(&files);
    rag_free(r.queue);
    report->seconds = rag_now_s() - t0;
    return rc;
}
