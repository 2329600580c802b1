/* tests/tools/httpfixture.c: a small HTTP/1.1 file server for the
 * integration tests of the HTTP client (model downloads with resume, retries,
 * timeouts and redirects; URL ingestion and crawling). It serves a directory
 * and misbehaves on request, so that each failure a client must survive can
 * be produced on demand and checked from the request log.
 *
 *   httpfixture --root DIR [--port 0] [--bind 127.0.0.1] [--log FILE]
 *               [--type EXT=MIME]... [--sha256-header NAME]
 *               [--drop-after BYTES [--drop-every]]
 *               [--fail-first N [--fail-status 500]] [--status PATH=CODE]...
 *               [--require-auth TOKEN] [--delay SECONDS] [--drip BYTES_PER_S]
 *               [--redirect PATH=URL]... [--post PATH=FILE]... [--post-log FILE]
 *
 * Once listening it prints exactly one line to stderr,
 * "httpfixture: listening on ADDR:PORT" (port 0 picks a free port; an IPv6
 * ADDR is bracketed), then serves until SIGTERM or SIGINT and exits 0. Bad
 * usage prints a message and exits 2; failing to listen exits 1.
 *
 * Each GET or HEAD request (anything else gets 405, but a POST to a --post
 * PATH) is answered by the first rule that applies, in this order:
 *   1. a path that decodes to a NUL byte or has a ".." segment: 403;
 *   2. --fail-first N: the first N requests overall, /robots.txt excepted, get
 *      --fail-status (500 by default);
 *   3. --require-auth TOKEN: without "Authorization: Bearer TOKEN": 401
 *      (/robots.txt excepted);
 *   4. --status PATH=CODE: that exact (decoded) path always gets CODE;
 *   5. --redirect PATH=URL: that exact path gets 302 with "Location: URL",
 *      URL passed verbatim (absolute or relative);
 *   6. the file ROOT/PATH; a directory serves its index.html; anything
 *      missing is 404. A POST to a --post PATH=FILE gets the file ROOT/FILE
 *      instead, whatever its body (a canned answer of an API: with --type
 *      sse=text/event-stream, a stream of events); --post-log FILE appends
 *      each such body to FILE, followed by a line break.
 * Status answers carry a short text/plain body ("404 Not Found"); 401 adds
 * "WWW-Authenticate: Bearer", 429 and 503 add "Retry-After: 1", 405 adds
 * "Allow: GET, HEAD". The query string is ignored.
 *
 * Files: Content-Type from the extension (.html/.htm, .md, .txt, .pdf, .json;
 * anything else application/octet-stream; --type EXT=MIME overrides or adds,
 * repeatable). Always "Accept-Ranges: bytes" and an ETag ("MTIME-SIZE" in
 * hex). "Range: bytes=START-", "bytes=START-END" and "bytes=-SUFFIX" give
 * 206 with Content-Range; a range starting at or past the end gives 416 with
 * the unsatisfied form "Content-Range: bytes *" "/SIZE" (one string, split
 * here so as not to end this comment); other Range values are ignored (200).
 * --sha256-header NAME adds NAME: "<hex sha256 of the whole file>", quoted as
 * Hugging Face quotes X-Linked-Etag; with NAME ETag it replaces the default
 * ETag. Digests are cached per file until its size or mtime changes.
 *
 * Faults:
 *   --drop-after BYTES  the first body of each file longer than BYTES is cut
 *                       after exactly BYTES bytes and the connection aborted,
 *                       so the client sees a short read against its
 *                       Content-Length; later requests for that file (a
 *                       resume) complete. --drop-every cuts every such body.
 *   --delay SECONDS     wait before sending any response's headers.
 *   --drip BYTES_PER_S  send file bodies at about that rate, in slices of a
 *                       tenth of a second.
 * Delays and drips run in the connection's own thread (one per connection),
 * so they never hold up other clients, and end early on shutdown.
 *
 * --log FILE appends one line per request, flushed at once and written before
 * the response is sent:
 *   METHOD PATH RANGE AUTH STATUS
 * PATH as sent (still percent-encoded), RANGE and AUTH the Range and
 * Authorization header values or "-". AUTH keeps its space ("Bearer tok"),
 * so STATUS is the last field rather than the fifth. A cut body still logs
 * its 200 or 206.
 *
 * Only libc, pthreads, libmicrohttpd and libcrypto (SHA-256): the tests build
 * it on its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 64
#define BLOCK_SIZE (32u << 10)
#define SLICE_S 0.1 /* sleeps are cut into slices this long to notice shutdown */

typedef struct {
    const char *key, *value; /* borrowed from argv */
    int code;
} rule;

typedef struct {
    rule r[MAX_RULES];
    int n;
} rules;

/* Configuration: set by parse_args, read-only once the daemon runs. */
static char g_root[PATH_MAX];
static FILE *g_log;
static rules g_types, g_statuses, g_redirects, g_posts;
static FILE *g_post_log;
static const char *g_sha_header, *g_auth; /* g_auth: "Bearer TOKEN" */
static long long g_drop_after = -1;       /* -1: never cut */
static int g_drop_every;
static unsigned long g_fail_first;
static int g_fail_status = 500;
static double g_delay, g_drip;

static atomic_int g_stop;        /* set once SIGTERM/SIGINT arrived */
static atomic_ulong g_nfailable; /* requests counted by --fail-first */

/* Shared state behind g_lock: the files already cut once, and the digests. */
typedef struct {
    char *path;
    off_t size;
    struct timespec mtime;
    char hex[65];
} digest;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char **g_dropped;
static size_t g_n_dropped;
static digest *g_digests;
static size_t g_n_digests;

/* One request as the handlers see it; every pointer is borrowed from MHD. */
typedef struct {
    struct MHD_Connection *conn;
    const char *method, *raw_path;
    const char *range, *auth; /* header values or NULL */
    int head;
} request;

/* The body of a file response, read on demand by MHD (owned by the
 * response: body_free closes it). */
typedef struct {
    int fd;
    off_t start;
    long long cut_at; /* bytes of body to send before aborting; -1: all */
} body;

static _Noreturn void usage_error(const char *opt, const char *why)
{
    fprintf(stderr, "httpfixture: %s: %s\n", opt, why);
    exit(2);
}

static double num_arg(const char *opt, const char *s, double lo, double hi, int integer)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi) || (integer && v != floor(v))) {
        char why[128];
        snprintf(why, sizeof why, "'%s' is not %s in [%g, %g]", s,
                 integer ? "an integer" : "a number", lo, hi);
        usage_error(opt, why);
    }
    return v;
}

/* Splits "KEY=VALUE" in place (at the first '=', or the last one when the
 * value is a status code, so that a path may hold '='). */
static void add_rule(rules *rs, const char *opt, char *arg, int last_eq, int code_value)
{
    char *eq = last_eq ? strrchr(arg, '=') : strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) usage_error(opt, "expected KEY=VALUE");
    if (rs->n == MAX_RULES) usage_error(opt, "too many");
    if (strpbrk(arg, "\r\n")) usage_error(opt, "no line breaks");
    *eq = '\0';
    rule *r = &rs->r[rs->n++];
    r->key = arg;
    r->value = eq + 1;
    if (code_value) r->code = (int)num_arg(opt, eq + 1, 100, 599, 1);
}

static const rule *find_rule(const rules *rs, const char *key, int nocase)
{
    for (int i = 0; i < rs->n; i++)
        if (!(nocase ? strcasecmp : strcmp)(rs->r[i].key, key)) return &rs->r[i];
    return NULL;
}

/* Sleeps for seconds; returns 0 if shutdown began meanwhile. */
static int pause_for(double seconds)
{
    while (seconds > 0 && !atomic_load(&g_stop)) {
        double s = seconds < SLICE_S ? seconds : SLICE_S;
        struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
        nanosleep(&ts, NULL);
        seconds -= s;
    }
    return !atomic_load(&g_stop);
}

static void log_request(const request *rq, unsigned status)
{
    if (!g_log) return;
    /* One fprintf is atomic against other threads' on the same FILE. */
    fprintf(g_log, "%s %s %s %s %u\n", rq->method, rq->raw_path, rq->range ? rq->range : "-",
            rq->auth ? rq->auth : "-", status);
    fflush(g_log);
}

/* Logs, waits --delay, queues and releases the response. */
static enum MHD_Result reply(const request *rq, unsigned status, struct MHD_Response *resp)
{
    log_request(rq, status);
    enum MHD_Result ret = MHD_NO;
    if (pause_for(g_delay)) ret = MHD_queue_response(rq->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A status with a short text body and the headers a client needs to act on
 * it, or NULL when out of memory. */
static struct MHD_Response *status_response(unsigned status)
{
    char text[128];
    const char *reason = MHD_get_reason_phrase_for(status);
    int n = snprintf(text, sizeof text, "%u %s\n", status, *reason ? reason : "Status");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_COPY);
    if (!resp) return NULL;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    if (status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (status == 429 || status == 503) MHD_add_response_header(resp, "Retry-After", "1");
    if (status == 405) MHD_add_response_header(resp, "Allow", "GET, HEAD");
    return resp;
}

/* status_response plus the header (name, value) when name is not NULL. */
static enum MHD_Result reply_status(const request *rq, unsigned status, const char *name,
                                    const char *value)
{
    struct MHD_Response *resp = status_response(status);
    if (!resp) return MHD_NO;
    if (name) MHD_add_response_header(resp, name, value);
    return reply(rq, status, resp);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes path into out (as large as path); returns 0 if the result
 * would reach outside the root: a NUL byte or a ".." segment. MHD's own
 * decoding is turned off (keep_escapes) because it would silently end the
 * string at "%00". */
static int decode_path(const char *path, char *out)
{
    size_t n = 0;
    for (const char *p = path; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
            if (!(out[n++] = (char)(hi << 4 | lo))) return 0;
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    for (const char *s = out; (s = strstr(s, "..")); s += 2)
        if ((s == out || s[-1] == '/') && (!s[2] || s[2] == '/')) return 0;
    return out[0] == '/';
}

static size_t keep_escapes(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    return strlen(s);
}

static const char *content_type(const char *file)
{
    static const char *const builtin[][2] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"md", "text/markdown"},
        {"txt", "text/plain; charset=utf-8"},
        {"pdf", "application/pdf"},
        {"json", "application/json"},
    };
    const char *slash = strrchr(file, '/'), *dot = strrchr(file, '.');
    if (!dot || (slash && dot < slash)) return "application/octet-stream";
    const rule *r = find_rule(&g_types, dot + 1, 1);
    if (r) return r->value;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (!strcasecmp(builtin[i][0], dot + 1)) return builtin[i][1];
    return "application/octet-stream";
}

static int sha256_fd(int fd, char hex[65])
{
    unsigned char buf[64 << 10], md[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    ssize_t n;
    for (off_t pos = 0; ok && (n = pread(fd, buf, sizeof buf, pos)) != 0; pos += n)
        ok = n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n);
    ok = ok && EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return ok;
}

/* The digest of the open file, from the cache when the file is unchanged.
 * Hashing holds the lock: fixtures are small and this keeps the cache
 * simple. */
static int file_digest(const char *path, int fd, const struct stat *st, char hex[65])
{
    int ok = 0;
    pthread_mutex_lock(&g_lock);
    digest *d = NULL;
    for (size_t i = 0; i < g_n_digests && !d; i++)
        if (!strcmp(g_digests[i].path, path)) d = &g_digests[i];
    if (d && d->size == st->st_size && d->mtime.tv_sec == st->st_mtim.tv_sec &&
        d->mtime.tv_nsec == st->st_mtim.tv_nsec) {
        memcpy(hex, d->hex, 65);
        ok = 1;
    } else if (sha256_fd(fd, hex)) {
        if (!d) {
            digest *grown = realloc(g_digests, (g_n_digests + 1) * sizeof *grown);
            char *copy = strdup(path);
            if (grown) g_digests = grown;
            if (grown && copy)
                d = &g_digests[g_n_digests++], d->path = copy;
            else
                free(copy);
        }
        if (d) d->size = st->st_size, d->mtime = st->st_mtim, memcpy(d->hex, hex, 65);
        ok = 1;
    }
    pthread_mutex_unlock(&g_lock);
    return ok;
}

/* Whether this body is to be cut: always with --drop-every, else only the
 * first time for each file. */
static int claim_drop(const char *path)
{
    if (g_drop_every) return 1;
    int claim = 1;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n_dropped && claim; i++)
        claim = strcmp(g_dropped[i], path) != 0;
    if (claim) {
        char **grown = realloc(g_dropped, (g_n_dropped + 1) * sizeof *grown);
        char *copy = strdup(path);
        if (grown) g_dropped = grown;
        if (grown && copy)
            g_dropped[g_n_dropped++] = copy;
        else
            free(copy);
    }
    pthread_mutex_unlock(&g_lock);
    return claim;
}

/* Parses a single byte range against size. Returns 206 with [*start, *start
 * + *len), 416 when unsatisfiable, or 200 to ignore the header (absent,
 * malformed, several ranges). */
static unsigned parse_range(const char *h, off_t size, off_t *start, off_t *len)
{
    *start = 0, *len = size;
    if (!h || strncmp(h, "bytes=", 6) || strchr(h, ',')) return 200;
    const char *p = h + 6;
    char *end;
    long long first = -1, last = -1;
    if (*p >= '0' && *p <= '9') first = strtoll(p, &end, 10), p = end;
    if (*p++ != '-') return 200;
    if (*p >= '0' && *p <= '9') last = strtoll(p, &end, 10), p = end;
    if (*p || (first < 0 && last < 0) || (first >= 0 && last >= 0 && last < first)) return 200;
    if (first < 0) { /* suffix: the last `last` bytes */
        if (last == 0 || size == 0) return 416;
        first = last < size ? size - last : 0;
        last = size - 1;
    }
    if (first >= size) return 416;
    if (last < 0 || last >= size) last = size - 1;
    *start = (off_t)first, *len = (off_t)(last - first + 1);
    return 206;
}

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    body *b = cls;
    size_t n = max;
    if (b->cut_at >= 0) {
        if (pos >= (uint64_t)b->cut_at) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n > (uint64_t)b->cut_at - pos) n = (size_t)((uint64_t)b->cut_at - pos);
    }
    if (g_drip > 0) {
        size_t slice = g_drip * SLICE_S >= 1 ? (size_t)(g_drip * SLICE_S) : 1;
        if (n > slice) n = slice;
        if (!pause_for((double)n / g_drip)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    ssize_t got = pread(b->fd, buf, n, b->start + (off_t)pos);
    /* A file that shrank under us cannot fill its Content-Length. */
    return got > 0 ? got : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void body_free(void *cls)
{
    body *b = cls;
    close(b->fd);
    free(b);
}

/* Opens file and fstats it; O_NONBLOCK so that a FIFO under the root
 * cannot hang the open (it is then refused for not being a regular file). */
static int open_stat(const char *file, struct stat *st)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && fstat(fd, st)) close(fd), fd = -1;
    return fd;
}

/* Opens the regular file ROOT/PATH, or ROOT/PATH/index.html when PATH is a
 * directory, filling file (its name) and *st. Returns the fd, or -1 with
 * *status the answer to give (403 or 404). */
static int open_file(const char *path, char file[PATH_MAX], struct stat *st, unsigned *status)
{
    size_t n = (size_t)snprintf(file, PATH_MAX, "%s%s", g_root, path);
    int fd = n < PATH_MAX ? open_stat(file, st) : -1;
    if (fd >= 0 && S_ISDIR(st->st_mode)) {
        close(fd);
        const char *sep = file[n - 1] == '/' ? "" : "/";
        size_t m = (size_t)snprintf(file + n, PATH_MAX - n, "%sindex.html", sep);
        fd = m < PATH_MAX - n ? open_stat(file, st) : -1;
    }
    *status = fd < 0 && errno == EACCES ? 403 : 404;
    if (fd >= 0 && !S_ISREG(st->st_mode)) close(fd), fd = -1;
    return fd;
}

/* Headers every file response carries, the 416 included (the body's
 * Content-Type aside, which a 416 does not share). */
static void add_file_headers(struct MHD_Response *resp, const struct stat *st, const char *sha_hex)
{
    char etag[80];
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (sha_hex) {
        snprintf(etag, sizeof etag, "\"%s\"", sha_hex);
        MHD_add_response_header(resp, g_sha_header, etag);
    }
    if (!sha_hex || strcasecmp(g_sha_header, "ETag")) {
        snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st->st_mtim.tv_sec,
                 (unsigned long long)st->st_size);
        MHD_add_response_header(resp, "ETag", etag);
    }
}

/* 416 for a range that starts past the end of the file. */
static enum MHD_Result reply_unsatisfiable(const request *rq, const struct stat *st,
                                           const char *sha_hex)
{
    char crange[48];
    struct MHD_Response *resp = status_response(416);
    if (!resp) return MHD_NO;
    add_file_headers(resp, st, sha_hex);
    snprintf(crange, sizeof crange, "bytes */%lld", (long long)st->st_size);
    MHD_add_response_header(resp, "Content-Range", crange);
    return reply(rq, 416, resp);
}

static enum MHD_Result serve_file(const request *rq, const char *path)
{
    char file[PATH_MAX], hex[65], crange[96];
    struct stat st;
    unsigned status;
    int fd = open_file(path, file, &st, &status);
    if (fd < 0) return reply_status(rq, status, NULL, NULL);
    const char *sha_hex = g_sha_header ? hex : NULL;
    if (sha_hex && !file_digest(file, fd, &st, hex)) {
        close(fd);
        return reply_status(rq, 500, NULL, NULL);
    }
    off_t start, len;
    status = parse_range(rq->range, st.st_size, &start, &len);
    body *b = status == 416 ? NULL : malloc(sizeof *b);
    if (!b) {
        close(fd);
        return status == 416 ? reply_unsatisfiable(rq, &st, sha_hex) : MHD_NO;
    }
    *b = (body){fd, start, -1};
    if (g_drop_after >= 0 && !rq->head && len > g_drop_after && claim_drop(file))
        b->cut_at = g_drop_after;
    struct MHD_Response *resp =
        MHD_create_response_from_callback((uint64_t)len, BLOCK_SIZE, body_read, b, body_free);
    if (!resp) {
        body_free(b);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type(file));
    add_file_headers(resp, &st, sha_hex);
    if (status == 206) {
        snprintf(crange, sizeof crange, "bytes %lld-%lld/%lld", (long long)start,
                 (long long)(start + len - 1), (long long)st.st_size);
        MHD_add_response_header(resp, "Content-Range", crange);
    }
    return reply(rq, status, resp);
}

/* Rules 2-6 of the opening comment, for a path already checked by rule 1. */
static enum MHD_Result route(const request *rq, const char *path)
{
    int robots = !strcmp(path, "/robots.txt");
    if (!robots && g_fail_first && atomic_fetch_add(&g_nfailable, 1) < g_fail_first)
        return reply_status(rq, (unsigned)g_fail_status, NULL, NULL);
    if (!robots && g_auth && (!rq->auth || strcmp(rq->auth, g_auth)))
        return reply_status(rq, 401, NULL, NULL);
    const rule *r = find_rule(&g_statuses, path, 0);
    if (r) return reply_status(rq, (unsigned)r->code, NULL, NULL);
    if ((r = find_rule(&g_redirects, path, 0))) return reply_status(rq, 302, "Location", r->value);
    return serve_file(rq, path);
}

/* The body of a POST to a --post PATH, read so far. */
typedef struct {
    char *data;
    size_t len;
} post_body;

/* A request's context: this for requests whose body is discarded, else a
 * post_body. */
static int g_no_body;

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    if (*ctx && *ctx != &g_no_body) {
        post_body *b = *ctx;
        free(b->data);
        free(b);
    }
    *ctx = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **ctx)
{
    (void)cls, (void)version;
    /* MHD calls once after the headers, then for each piece of the body, then
     * once more. Answering before that last call makes it close the
     * connection, so wait for it (keep-alive is part of what clients are
     * tested on) and discard any body (a --post one is kept for --post-log). */
    const rule *post = !strcmp(method, "POST") ? find_rule(&g_posts, url, 0) : NULL;
    if (!*ctx) {
        *ctx = post ? calloc(1, sizeof(post_body)) : (void *)&g_no_body;
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        post_body *b = post ? *ctx : NULL;
        char *more = b ? realloc(b->data, b->len + *upload_data_size) : NULL;
        if (more) {
            memcpy(more + b->len, upload_data, *upload_data_size);
            b->data = more;
            b->len += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    request rq = {
        .conn = conn,
        .method = method,
        .raw_path = url,
        .range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range"),
        .auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
        .head = !strcmp(method, "HEAD"),
    };
    if (post) {
        post_body *b = *ctx;
        if (g_post_log) {
            pthread_mutex_lock(&g_lock);
            fwrite(b->data ? b->data : "", 1, b->len, g_post_log);
            fputc('\n', g_post_log);
            fflush(g_post_log);
            pthread_mutex_unlock(&g_lock);
        }
        char file[PATH_MAX];
        snprintf(file, sizeof file, "/%s", post->value);
        return route(&rq, file);
    }
    if (!rq.head && strcmp(method, "GET")) return reply_status(&rq, 405, NULL, NULL);
    char *path = malloc(strlen(url) + 1);
    if (!path) return MHD_NO;
    enum MHD_Result ret =
        decode_path(url, path) ? route(&rq, path) : reply_status(&rq, 403, NULL, NULL);
    free(path);
    return ret;
}

static void parse_args(int argc, char **argv, const char **bind, int *port)
{
    static const struct option opts[] = {
        {"root", 1, 0, 'r'},        {"port", 1, 0, 'p'},       {"bind", 1, 0, 'b'},
        {"log", 1, 0, 'l'},         {"type", 1, 0, 't'},       {"sha256-header", 1, 0, 's'},
        {"drop-after", 1, 0, 'D'},  {"drop-every", 0, 0, 'E'}, {"fail-first", 1, 0, 'f'},
        {"fail-status", 1, 0, 'F'}, {"status", 1, 0, 'S'},     {"require-auth", 1, 0, 'a'},
        {"delay", 1, 0, 'd'},       {"drip", 1, 0, 'R'},       {"redirect", 1, 0, 'L'},
        {"post", 1, 0, 'P'},        {"post-log", 1, 0, 'O'},   {0, 0, 0, 0}};
    static char auth[512];
    const char *root = NULL;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 'p':
            *port = (int)num_arg("--port", optarg, 0, 65535, 1);
            break;
        case 'b':
            *bind = optarg;
            break;
        case 'l':
            if (g_log) usage_error("--log", "only one");
            if (!(g_log = fopen(optarg, "a"))) usage_error("--log", strerror(errno));
            break;
        case 't':
            if (*optarg == '.') optarg++;
            add_rule(&g_types, "--type", optarg, 0, 0);
            break;
        case 's':
            if (!*optarg || strpbrk(optarg, ": \t\r\n")) usage_error("--sha256-header", "bad name");
            g_sha_header = optarg;
            break;
        case 'D':
            g_drop_after = (long long)num_arg("--drop-after", optarg, 0, 1e15, 1);
            break;
        case 'E':
            g_drop_every = 1;
            break;
        case 'f':
            g_fail_first = (unsigned long)num_arg("--fail-first", optarg, 0, 1e9, 1);
            break;
        case 'F':
            g_fail_status = (int)num_arg("--fail-status", optarg, 100, 599, 1);
            break;
        case 'S':
            if (*optarg != '/') usage_error("--status", "PATH must start with '/'");
            add_rule(&g_statuses, "--status", optarg, 1, 1);
            break;
        case 'a':
            if (!*optarg || strpbrk(optarg, " \r\n") ||
                snprintf(auth, sizeof auth, "Bearer %s", optarg) >= (int)sizeof auth)
                usage_error("--require-auth", "bad token");
            g_auth = auth;
            break;
        case 'd':
            g_delay = num_arg("--delay", optarg, 0, 86400, 0);
            break;
        case 'R':
            g_drip = num_arg("--drip", optarg, 1, 1e12, 0);
            break;
        case 'L':
            if (*optarg != '/') usage_error("--redirect", "PATH must start with '/'");
            add_rule(&g_redirects, "--redirect", optarg, 0, 0);
            break;
        case 'P':
            if (*optarg != '/') usage_error("--post", "PATH must start with '/'");
            add_rule(&g_posts, "--post", optarg, 0, 0);
            break;
        case 'O':
            if (g_post_log) usage_error("--post-log", "only one");
            if (!(g_post_log = fopen(optarg, "a"))) usage_error("--post-log", strerror(errno));
            break;
        default:
            usage_error(argv[optind - 1], "unknown option or missing value");
        }
    }
    if (optind < argc) usage_error(argv[optind], "unexpected argument");
    if (!root) usage_error("--root", "required");
    if (g_drop_every && g_drop_after < 0) usage_error("--drop-every", "needs --drop-after");
    struct stat st;
    if (!realpath(root, g_root) || stat(g_root, &st) || !S_ISDIR(st.st_mode))
        usage_error("--root", "not a directory");
    if (!strcmp(g_root, "/")) g_root[0] = '\0'; /* paths already start with '/' */
}

/* Starts the daemon on bind:port only. */
static struct MHD_Daemon *start_daemon(const char *bind, int port)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO;
    const struct sockaddr *sa = (const struct sockaddr *)&v4;
    if (inet_pton(AF_INET6, bind, &v6.sin6_addr) == 1)
        sa = (const struct sockaddr *)&v6, flags |= MHD_USE_IPv6;
    else if (inet_pton(AF_INET, bind, &v4.sin_addr) != 1)
        usage_error("--bind", "not an IPv4 or IPv6 address");
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
}

static void free_state(void)
{
    for (size_t i = 0; i < g_n_dropped; i++)
        free(g_dropped[i]);
    for (size_t i = 0; i < g_n_digests; i++)
        free(g_digests[i].path);
    free(g_dropped);
    free(g_digests);
    if (g_log) fclose(g_log);
    if (g_post_log) fclose(g_post_log);
}

int main(int argc, char **argv)
{
    const char *bind = "127.0.0.1";
    int port = 0;
    parse_args(argc, argv, &bind, &port);

    /* Blocked before MHD starts its threads, so that they inherit the mask
     * and only sigwait below sees the signals. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = start_daemon(bind, port);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        fprintf(stderr, "httpfixture: cannot listen on %s port %d\n", bind, port);
        return 1;
    }
    int v6 = strchr(bind, ':') != NULL;
    fprintf(stderr, "httpfixture: listening on %s%s%s:%u\n", v6 ? "[" : "", bind, v6 ? "]" : "",
            (unsigned)info->port);

    int sig;
    sigwait(&stop, &sig);
    atomic_store(&g_stop, 1);
    MHD_stop_daemon(d);
    free_state();
    return 0;
}
