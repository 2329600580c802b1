/* ragd/api_docs.c: /v1/documents: list, show, upload, delete.
 *
 * Uploads go through the same pipeline as `rag ingest`: the bytes are kept
 * as a file under the uploads directory (DB.uploads/), which is then
 * ingested with the request's labels. The file's place decides whether an
 * upload is new or replaces one. Each label set (ACL group) has its own
 * places, named by a hash of its labels (SCOPE, 16 hex), so that one
 * role's ids and contents never meet another's: an id or a text that
 * another role holds answers exactly as a free one.
 *   with an "id":    DB.uploads/by-id/<SCOPE>/<id>/<filename>  (the same
 *                    id: the same document, replaced when the content or
 *                    the name changed)
 *   without:         DB.uploads/<SCOPE>/<sha256 of the content, 16 hex>/<filename>
 *                    (the same bytes under the same name: unchanged)
 * Uploads made before scopes (DB.uploads/by-id/<id>/..., DB.uploads/<hex>/...)
 * are still found there when the key may write them.
 *
 * Who may write what. A key with the ingest permission may give only labels
 * among its roles (default: all of them), and may replace or delete only a
 * document whose every label is among its roles: it can never take a
 * document away from a role it does not hold. Administrators may do
 * anything; their uploads without labels get acl.default_labels. */
#include "ragd/api_int.h"
#include "base/file.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cJSON *doc_json(const ragd_request *req, const store_doc *d)
{
    cJSON *o = cJSON_CreateObject();
    char id[RAG_ID_LEN + 1];
    rag_id_format(ragd_engine_ids(req->engine), RAG_ID_DOCUMENT, d->id, id);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", "document");
    if (d->ext_id)
        cJSON_AddStringToObject(o, "ext_id", d->ext_id);
    else
        cJSON_AddNullToObject(o, "ext_id");
    cJSON_AddStringToObject(o, "uri", d->uri);
    cJSON_AddStringToObject(o, "title", d->title);
    cJSON_AddStringToObject(o, "mime", d->mime);
    cJSON_AddStringToObject(o, "labels", d->labels);
    cJSON_AddNumberToObject(o, "chunks", (double)d->n_chunks);
    cJSON_AddNumberToObject(o, "size", (double)d->size);
    cJSON_AddNumberToObject(o, "ingested_at", (double)d->ingested_at);
    cJSON *meta = cJSON_Parse(d->metadata_json ? d->metadata_json : "{}");
    cJSON_AddItemToObject(o, "metadata", meta ? meta : cJSON_CreateObject());
    return o;
}

/* Every label of d among who's roles (or who is an administrator). */
static int may_write(const rag_principal *who, const store_doc *d)
{
    if (who->admin) return 1;
    rag_strv labels = {0};
    rag_strv_split(&labels, d->labels, ',');
    int ok = labels.n > 0;
    for (size_t i = 0; ok && i < labels.n; i++)
        ok = rag_strv_contains(&who->roles, labels.v[i]);
    rag_strv_free(&labels);
    return ok;
}

/* The document id of the path: an id the API showed (rag/ids.h). Any
 * other string is "no document" as well, with the same answer. */
static int parse_doc_id(ragd_request *req, ragd_response *resp, int64_t *id)
{
    if (rag_id_parse(ragd_engine_ids(req->engine), RAG_ID_DOCUMENT, req->path_id, id)) {
        ragd_error(resp, 404, NULL, "no document '%s'", req->path_id);
        return -1;
    }
    return 0;
}

/* ---- GET /v1/documents ------------------------------------------------------------ */

typedef struct listing {
    const ragd_request *req;
    cJSON *data;
    long offset, limit, seen;
} listing;

static int list_one(void *ctx, const store_doc *d)
{
    listing *l = ctx;
    if (l->seen >= l->offset && l->seen < l->offset + l->limit)
        cJSON_AddItemToArray(l->data, doc_json(l->req, d));
    l->seen++;
    return 0;
}

static int query_long(ragd_request *req, ragd_response *resp, const char *name, long lo, long hi,
                      long *out)
{
    const char *v = ragd_request_arg(req, name);
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < lo || n > hi) {
        ragd_error(resp, 400, name, "%s: expected an integer from %ld to %ld", name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

void ragd_api_documents_list(ragd_request *req, ragd_response *resp)
{
    listing l = {req, NULL, 0, 100, 0};
    if (query_long(req, resp, "limit", 1, 1000, &l.limit) ||
        query_long(req, resp, "offset", 0, 1L << 40, &l.offset))
        return;
    resp->json = cJSON_CreateObject();
    cJSON_AddStringToObject(resp->json, "object", "list");
    l.data = cJSON_AddArrayToObject(resp->json, "data");
    store *s = ragd_engine_store_get(req->engine);
    rag_err err = {0};
    int rc = store_doc_each(s, &req->who, list_one, &l, &err);
    ragd_engine_store_put(req->engine, s);
    if (rc) {
        ragd_error_from(resp, &err);
        return;
    }
    cJSON_AddNumberToObject(resp->json, "total", (double)l.seen);
    cJSON_AddBoolToObject(resp->json, "has_more", l.offset + l.limit < l.seen);
}

/* ---- GET /v1/documents/{id} --------------------------------------------------------- */

/* The document of the path's {id}, when the key may see it: 1, with *id
 * and *d set (free d); 0 after answering (400, 404, or an error). An
 * invisible document is "not found", as one that does not exist. */
static int visible_document(ragd_request *req, ragd_response *resp, int64_t *id, store_doc *d)
{
    if (parse_doc_id(req, resp, id)) return 0;
    store *s = ragd_engine_store_get(req->engine);
    rag_err err = {0};
    int rc = store_doc_get(s, *id, &req->who, d, &err);
    ragd_engine_store_put(req->engine, s);
    if (rc < 0)
        ragd_error_from(resp, &err);
    else if (rc == 0)
        ragd_error(resp, 404, NULL, "no document '%s'", req->path_id);
    return rc > 0;
}

void ragd_api_documents_get(ragd_request *req, ragd_response *resp)
{
    int64_t id;
    store_doc d;
    if (!visible_document(req, resp, &id, &d)) return;
    resp->json = doc_json(req, &d);
    store_doc_free(&d);
}

/* ---- DELETE /v1/documents/{id} ------------------------------------------------------- */

/* Removes an uploaded file (and its directory when empty). */
static void remove_upload(const ragd_request *req, const char *uri)
{
    const char *dir = req->params->uploads_dir;
    size_t n = strlen(dir);
    if (strncmp(uri, dir, n) || uri[n] != '/') return; /* not an upload */
    unlink(uri);
    char *parent = rag_xstrdup(uri);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = 0;
        rmdir(parent);
    }
    rag_free(parent);
}

void ragd_api_documents_delete(ragd_request *req, ragd_response *resp)
{
    int64_t id;
    store_doc d;
    if (!visible_document(req, resp, &id, &d)) return;
    if (!may_write(&req->who, &d)) {
        ragd_error(resp, 403, NULL,
                   "document %s is also labelled for roles this key does not hold (%s)",
                   req->path_id, d.labels);
        store_doc_free(&d);
        return;
    }
    rag_err err = {0};
    int rc = ragd_engine_delete_document(req->engine, id, &req->who, &err);
    if (rc < 0)
        ragd_error_from(resp, &err);
    else if (rc == 0)
        ragd_error(resp, 404, NULL, "no document '%s'", req->path_id);
    else {
        remove_upload(req, d.uri);
        resp->json = cJSON_CreateObject();
        cJSON_AddStringToObject(resp->json, "id", req->path_id);
        cJSON_AddStringToObject(resp->json, "object", "document");
        cJSON_AddBoolToObject(resp->json, "deleted", 1);
    }
    store_doc_free(&d);
}

/* ---- POST /v1/documents ---------------------------------------------------------------- */

typedef struct upload {
    rag_buf content;
    const char *url; /* borrowed from the request's JSON */
    char *filename, *id;
    rag_buf labels; /* comma-separated */
    int has_labels, has_file;
    const char *problem;
} upload;

static void upload_free(upload *u)
{
    rag_buf_free(&u->content);
    rag_buf_free(&u->labels);
    rag_free(u->filename);
    rag_free(u->id);
}

static int form_field(void *ctx, const char *name, const char *filename, const char *data,
                      uint64_t off, size_t len)
{
    upload *u = ctx;
    if (!strcmp(name, "file") || !strcmp(name, "text")) {
        if (off == 0 && u->has_file) {
            u->problem = "give one file (or text) per upload";
            return 1;
        }
        if (off == 0 && filename && !u->filename) u->filename = rag_xstrdup(filename);
        rag_buf_append(&u->content, data, len);
        u->has_file = 1;
    } else if (!strcmp(name, "labels")) {
        rag_buf_append(&u->labels, data, len);
        u->has_labels = 1;
    } else if (!strcmp(name, "id") || !strcmp(name, "filename")) {
        char **f = !strcmp(name, "id") ? &u->id : &u->filename;
        size_t have = *f ? strlen(*f) : 0;
        if (have + len > 256) {
            u->problem = "id and filename: 256 bytes at most";
            return 1;
        }
        *f = rag_xrealloc(*f, have + len + 1);
        memcpy(*f + have, data, len);
        (*f)[have + len] = 0;
    }
    return 0; /* other fields are ignored */
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static int unbase64(const char *s, rag_buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (; *s; s++) {
        if (*s == '=' || *s == '\n' || *s == '\r' || *s == ' ') continue;
        int v = b64val((unsigned char)*s);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            rag_buf_putc(out, (char)(acc >> bits & 0xff));
        }
    }
    return 0;
}

/* Reads the upload from a JSON body or a form. Returns -1 after answering. */
static int read_upload(ragd_request *req, ragd_response *resp, upload *u)
{
    if (!req->json) {
        if (ragd_request_form(req, form_field, u) < 0 && !u->problem) {
            ragd_error(resp, 400, NULL,
                       "the body is neither JSON nor a multipart/form-data upload");
            return -1;
        }
        if (u->problem) {
            ragd_error(resp, 400, NULL, "%s", u->problem);
            return -1;
        }
        if (!u->has_file) {
            ragd_error(resp, 400, "file", "the form needs a 'file' (or 'text') field");
            return -1;
        }
        return 0;
    }
    const char *text = NULL, *b64 = NULL, *name = NULL, *id = NULL, *url = NULL;
    if (ragd_api_string(resp, req->json, "text", NULL, req->params->max_upload, 0, &text) ||
        ragd_api_string(resp, req->json, "content_base64", NULL, req->params->max_upload, 0,
                        &b64) ||
        ragd_api_string(resp, req->json, "url", NULL, 8192, 0, &url) ||
        ragd_api_string(resp, req->json, "filename", NULL, 256, 0, &name) ||
        ragd_api_string(resp, req->json, "id", NULL, 256, 0, &id))
        return -1;
    if ((text != NULL) + (b64 != NULL) + (url != NULL) != 1) {
        ragd_error(resp, 400, "text",
                   "give the document as 'text', 'content_base64' or 'url' (one of them)");
        return -1;
    }
    if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        ragd_error(resp, 400, "url", "url: only http and https URLs are fetched");
        return -1;
    }
    u->url = url;
    if (text)
        rag_buf_puts(&u->content, text);
    else if (b64 && unbase64(b64, &u->content)) {
        ragd_error(resp, 400, "content_base64", "content_base64: not base64");
        return -1;
    }
    u->has_file = 1;
    if (name) u->filename = rag_xstrdup(name);
    if (id) u->id = rag_xstrdup(id);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(req->json, "labels");
    if (cJSON_IsString(labels)) {
        rag_buf_puts(&u->labels, labels->valuestring);
        u->has_labels = 1;
    } else if (cJSON_IsArray(labels)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, labels)
        {
            if (!cJSON_IsString(e)) {
                ragd_error(resp, 400, "labels", "labels: expected strings");
                return -1;
            }
            if (u->labels.len) rag_buf_putc(&u->labels, ',');
            rag_buf_puts(&u->labels, e->valuestring);
        }
        u->has_labels = 1;
    } else if (labels && !cJSON_IsNull(labels)) {
        ragd_error(resp, 400, "labels",
                   "labels: expected an array of labels or a comma-separated string");
        return -1;
    }
    return 0;
}

/* A file name safe to create: the last path component, other characters
 * than [A-Za-z0-9._ -] replaced, no leading dot, 1-128 bytes. */
static char *safe_name(const char *name, const char *fallback)
{
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name;
    if (!base || !*base) base = fallback;
    char *out = rag_xstrndup(base, 128);
    for (char *p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ' '))
            *p = '_';
    }
    if (out[0] == '.') out[0] = '_';
    return out;
}

static int valid_ext_id(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return id[0] != '.';
}

typedef struct outcome {
    ing_status st;
    char reason[256];
} outcome;

static void on_file(void *ctx, const char *path, ing_status st, const char *reason)
{
    (void)path;
    outcome *o = ctx;
    o->st = st;
    snprintf(o->reason, sizeof o->reason, "%s", reason ? reason : "");
}

static const char *status_name(ing_status st)
{
    switch (st) {
    case ING_ADDED:
        return "added";
    case ING_UPDATED:
        return "updated";
    case ING_UNCHANGED:
        return "unchanged";
    default:
        return "failed";
    }
}

/* The labels of the upload: asked for (within the key's roles), else the
 * key's roles, else (administrators) acl.default_labels. Returns -1 after
 * answering. */
static int upload_labels(ragd_request *req, ragd_response *resp, const upload *u, rag_strv *out)
{
    rag_err err = {0};
    if (u->has_labels) {
        if (rag_labels_parse(rag_buf_str(&u->labels), "labels", out, &err)) {
            ragd_error(resp, 400, "labels", "%s", err.msg);
            return -1;
        }
        for (size_t i = 0; !req->who.admin && i < out->n; i++)
            if (!rag_strv_contains(&req->who.roles, out->v[i])) {
                ragd_error(resp, 403, "labels", "labels: '%s' is not among the roles of this key",
                           out->v[i]);
                return -1;
            }
        if (!out->n && !req->who.admin) {
            ragd_error(
                resp, 400, "labels",
                "labels: at least one (a document without labels is for administrators only)");
            return -1;
        }
        return 0;
    }
    const rag_strv *from = req->who.admin ? req->params->default_labels : &req->who.roles;
    for (size_t i = 0; from && i < from->n; i++)
        rag_strv_push(out, from->v[i]);
    return 0;
}

/* The scope of a label set: 16 hex digits of the SHA-256 of its labels. */
static void label_scope(const rag_strv *labels, char scope[RAG_SHA256_HEX_LEN + 1])
{
    char *joined = rag_strv_join(labels, ",");
    char *tagged = rag_xasprintf("labels:%s", joined);
    rag_sha256_hex(tagged, strlen(tagged), scope);
    scope[16] = 0;
    rag_free(tagged);
    rag_free(joined);
}

/* The directory of an upload: by id or by content, within the scope of its
 * labels; and the same without the scope (uploads of earlier versions). */
static void upload_dirs(const ragd_request *req, const upload *u, const rag_strv *labels,
                        char **scoped, char **legacy)
{
    char scope[RAG_SHA256_HEX_LEN + 1], hex[RAG_SHA256_HEX_LEN + 1];
    label_scope(labels, scope);
    const char *dir = req->params->uploads_dir;
    if (u->id) {
        *scoped = rag_xasprintf("%s/by-id/%s/%s", dir, scope, u->id);
        *legacy = rag_xasprintf("%s/by-id/%s", dir, u->id);
    } else {
        rag_sha256_hex(u->content.data ? u->content.data : "", u->content.len, hex);
        hex[16] = 0;
        *scoped = rag_xasprintf("%s/%s/%s", dir, scope, hex);
        *legacy = rag_xasprintf("%s/%s", dir, hex);
    }
}

/* After an upload by id stored `kept` in dir: the documents of other files
 * there (the same id under an earlier name) are replaced by it. */
static void drop_other_names(ragd_request *req, const char *dir, const char *kept)
{
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *e;
    rag_strv others = {0};
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.') continue;
        char *path = rag_xasprintf("%s/%s", dir, e->d_name);
        if (strcmp(path, kept)) rag_strv_push(&others, path);
        rag_free(path);
    }
    closedir(dh);
    for (size_t i = 0; i < others.n; i++) {
        store_doc d;
        rag_err err = {0};
        store *s = ragd_engine_store_get(req->engine);
        int rc = store_doc_get_by_uri(s, others.v[i], &d, &err);
        ragd_engine_store_put(req->engine, s);
        if (rc == 1 && may_write(&req->who, &d) &&
            ragd_engine_delete_document(req->engine, d.id, &req->who, &err) > 0)
            unlink(others.v[i]);
        if (rc == 1) store_doc_free(&d);
    }
    rag_strv_free(&others);
}

/* Answers with the stored document of uri and how the upload went. */
static void answer_stored(ragd_request *req, ragd_response *resp, const char *uri, ing_status st)
{
    store_doc d;
    rag_err err = {0};
    store *s = ragd_engine_store_get(req->engine);
    int rc = store_doc_get_by_uri(s, uri, &d, &err);
    ragd_engine_store_put(req->engine, s);
    if (rc != 1) {
        if (rc == 0) rag_err_set(&err, RAG_ERR_NOTFOUND, "%s: stored, but not found again", uri);
        ragd_error_from(resp, &err);
        return;
    }
    resp->status = st == ING_ADDED ? 201 : 200;
    resp->json = doc_json(req, &d);
    cJSON_AddStringToObject(resp->json, "status", status_name(st));
    store_doc_free(&d);
}

/* The document a URL upload goes to: the URL itself, unless a document the
 * key may not even see holds it. Refusing then (as for one the key sees but
 * may not replace: 409) would tell the key what other roles hold, so the
 * upload goes to `URL#rag-scope=SCOPE` instead (SCOPE: its label set, as file
 * uploads are kept per label set), found again there by the next upload of
 * the same URL with the same labels. 1 with *uri (to free) and *d (to free)
 * when a document is there, 0 with *uri when none is, -1 on error. */
static int url_document(ragd_request *req, const upload *u, const rag_strv *labels, char **uri,
                        store_doc *d, rag_err *err)
{
    store *s = ragd_engine_store_get(req->engine);
    *uri = rag_xstrdup(u->url);
    int rc = store_doc_get_by_uri(s, *uri, d, err);
    if (rc == 1 && !store_doc_visible(&req->who, d)) {
        store_doc_free(d);
        char scope[RAG_SHA256_HEX_LEN + 1];
        label_scope(labels, scope);
        rag_free(*uri);
        *uri = rag_xasprintf("%s%crag-scope=%s", u->url, strchr(u->url, '#') ? '&' : '#', scope);
        rc = store_doc_get_by_uri(s, *uri, d, err);
    }
    ragd_engine_store_put(req->engine, s);
    return rc;
}

/* {"url": ...}: fetched first (no lock held: a slow site delays only this
 * request), through the address policy, then ingested with the URL as its
 * source (see url_document). */
static void upload_url(ragd_request *req, ragd_response *resp, const upload *u,
                       const rag_strv *labels)
{
    store_doc d;
    rag_err err = {0};
    char *uri = NULL;
    int rc = url_document(req, u, labels, &uri, &d, &err);
    if (rc < 0) {
        ragd_error_from(resp, &err);
        rag_free(uri);
        return;
    }
    int refused = rc == 1 && !may_write(&req->who, &d);
    if (rc == 1) store_doc_free(&d);
    if (refused) {
        ragd_error(resp, 409, "url",
                   "this upload would replace a document of roles this key does not hold");
        rag_free(uri);
        return;
    }
    ing_params ip;
    ing_default_params(&ip);
    ip.labels = labels;
    ip.ext_id = u->id;
    ip.max_file_size = req->params->max_upload;
    ip.net_policy = &req->params->fetch_policy;
    if (req->params->fetch_timeout > 0) ip.fetch_timeout = req->params->fetch_timeout;
    if (req->params->chunk_tokens) ip.chunk_tokens = req->params->chunk_tokens;
    if (req->params->overlap_tokens) ip.overlap_tokens = req->params->overlap_tokens;
    ip.ocr_mode = req->params->ocr_mode;
    ip.ocr_languages = req->params->ocr_languages;
    ip.ocr_cpu_s = req->params->ocr_cpu_s;
    rag_buf body = {0};
    char *ctype = NULL;
    double t0 = rag_now_s();
    rc = ing_fetch_page(u->url, &ip, &body, &ctype, &err);
    ragd_meter_stage(req->meter, "fetch", rag_now_s() - t0);
    if (rc) {
        /* the fetch failed: the peer's fault (502), a refusal (403), too big (413) */
        ragd_error(resp,
                   rc == RAG_ERR_DENIED     ? 403
                   : rc == RAG_ERR_LIMIT    ? 413
                   : rc == RAG_ERR_NOTFOUND ? 422
                                            : 502,
                   "url", "%s", err.msg);
        rag_free(uri);
        return;
    }
    outcome o = {ING_FAILED, ""};
    ip.on_file = on_file;
    ip.ctx = &o;
    ing_report rep;
    t0 = rag_now_s();
    rc = ragd_engine_ingest_page(req->engine, uri, &body, ctype, &ip, &rep, &err);
    ragd_meter_stage(req->meter, "ingest", rag_now_s() - t0);
    rag_buf_free(&body);
    rag_free(ctype);
    if (rc)
        ragd_error_from(resp, &err);
    else if (o.st == ING_FAILED || o.st == ING_SKIPPED)
        ragd_error(resp, o.st == ING_SKIPPED && strcmp(o.reason, "empty") ? 415 : 422, "url", "%s",
                   o.reason[0] ? o.reason : "not a document this server can read");
    else
        answer_stored(req, resp, uri, o.st);
    rag_free(uri);
}

void ragd_api_documents_post(ragd_request *req, ragd_response *resp)
{
    upload u = {0};
    rag_strv labels = {0};
    char *dir = NULL, *path = NULL, *name = NULL;
    store_doc d;
    int have_doc = 0;
    rag_err err = {0};
    if (read_upload(req, resp, &u) || upload_labels(req, resp, &u, &labels)) goto out;
    if (u.id && !valid_ext_id(u.id)) {
        ragd_error(resp, 400, "id",
                   "id: 1-128 characters of [A-Za-z0-9._-], not starting with '.'");
        goto out;
    }
    if (u.url) {
        upload_url(req, resp, &u, &labels);
        goto out;
    }
    name = safe_name(u.filename, "document.txt");
    char *legacy = NULL;
    upload_dirs(req, &u, &labels, &dir, &legacy);
    /* an upload of an earlier version, when this key may replace it */
    char *legacy_path = rag_xasprintf("%s/%s", legacy, name);
    store *s = ragd_engine_store_get(req->engine);
    int rc = store_doc_get_by_uri(s, legacy_path, &d, &err);
    if (rc == 1 && may_write(&req->who, &d)) {
        rag_free(dir);
        dir = legacy;
        legacy = NULL;
        path = legacy_path;
        legacy_path = NULL;
        have_doc = 1;
    } else {
        if (rc == 1) store_doc_free(&d);
        path = rag_xasprintf("%s/%s", dir, name);
        rc = rc < 0 ? rc : store_doc_get_by_uri(s, path, &d, &err);
        have_doc = rc == 1;
    }
    ragd_engine_store_put(req->engine, s);
    rag_free(legacy);
    rag_free(legacy_path);
    if (rc < 0) {
        ragd_error_from(resp, &err);
        goto out;
    }
    if (have_doc && !may_write(&req->who, &d)) {
        /* in this label set's own place: only an administrator's relabelling
         * puts a document there that the key may not replace */
        ragd_error(resp, 409, NULL,
                   "this upload would replace a document of roles this key does not hold");
        goto out;
    }
    if (rag_mkdir_p(dir, &err) ||
        rag_file_write_atomic(path, u.content.data ? u.content.data : "", u.content.len, &err)) {
        ragd_error_from(resp, &err);
        goto out;
    }
    ing_params ip;
    ing_default_params(&ip);
    ip.labels = &labels;
    ip.ext_id = u.id;
    ip.max_file_size = req->params->max_upload;
    if (req->params->chunk_tokens) ip.chunk_tokens = req->params->chunk_tokens;
    if (req->params->overlap_tokens) ip.overlap_tokens = req->params->overlap_tokens;
    ip.ocr_mode = req->params->ocr_mode;
    ip.ocr_languages = req->params->ocr_languages;
    ip.ocr_cpu_s = req->params->ocr_cpu_s;
    outcome o = {ING_FAILED, ""};
    ip.on_file = on_file;
    ip.ctx = &o;
    ing_report rep;
    double t0 = rag_now_s();
    rc = ragd_engine_ingest_file(req->engine, path, &ip, &rep, &err);
    ragd_meter_stage(req->meter, "ingest", rag_now_s() - t0);
    if (rc) {
        if (!have_doc) unlink(path);
        ragd_error_from(resp, &err);
        goto out;
    }
    if (o.st == ING_FAILED || o.st == ING_SKIPPED) {
        if (!have_doc) remove_upload(req, path);
        if (strstr(o.reason, "constraint failed")) {
            /* the database refused it: its words stay in the log */
            rag_log_warn("upload %s: %s", path, o.reason);
            ragd_error(resp, 500, NULL, "%s: the upload could not be stored", name);
        } else {
            ragd_error(resp, o.st == ING_SKIPPED && strcmp(o.reason, "empty") ? 415 : 422, "file",
                       "%s: %s", name,
                       o.reason[0] ? o.reason : "not a document this server can read");
        }
        goto out;
    }
    if (u.id) drop_other_names(req, dir, path);
    answer_stored(req, resp, path, o.st);
out:
    if (have_doc) store_doc_free(&d);
    rag_free(dir);
    rag_free(path);
    rag_free(name);
    rag_strv_free(&labels);
    upload_free(&u);
}
