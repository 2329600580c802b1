/* tests/tools/loadgen.c: an HTTP/1.1 load generator for the integration tests
 * of ragd. It holds N keep-alive connections (one thread each), sends the
 * same request back to back on each for a duration or an exact number of
 * requests, and prints one JSON object with counts and latency percentiles.
 *
 *   loadgen --host 127.0.0.1 --port PORT [--path /v1/search] [--method POST]
 *           [--body-file FILE | --body STRING] [--header "Name: value"]...
 *           [--connections 64] [--duration 30 | --requests N]
 *           [--timeout 10] [--expect 200]
 *
 * The integration scripts start ragd, run loadgen against it and judge the
 * JSON themselves (no errors, the expected statuses, p99 under a bound), so
 * loadgen exits 0 whenever it ran and 2 only on bad usage. It depends on
 * nothing but libc and pthreads so that the tests can build it on their own.
 *
 * Counting: "requests" = ok + errors + non_expected_status; "timeouts" and
 * malformed responses are part of "errors"; connect failures are counted
 * apart and cost no request. Latencies are kept for every complete response
 * (whatever its status) and the percentiles are exact (nearest rank). */
#include "base/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 16
#define HEAD_MAX (64u << 10)
#define BODY_MAX (64ull << 20)
#define BUF_CAP (HEAD_MAX + 4096)

enum { RD_OK = 0, RD_IO = -1, RD_TIMEOUT = -2, RD_BAD = -3, RD_EOF = -4 };

/* Configuration and the request bytes, built once and shared read-only. */
static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static char *g_req;
static size_t g_reqlen;
static int g_head_only;
static double g_timeout = 10, g_deadline; /* g_deadline 0: no duration */
static unsigned long g_nreq;
static int g_expect = 200;

typedef struct {
    int fd;
    char *buf;
    size_t pos, len;
    size_t rx; /* bytes of the current response received */
    double req_deadline;
    double *lat;
    size_t nlat, cap;
    unsigned long requests, ok, errors, nonexp, conn_errs, timeouts;
    unsigned long status[1000];
} worker;

static _Noreturn void usage_error(const char *opt, const char *why)
{
    fprintf(stderr, "loadgen: %s: %s\n", opt, why);
    exit(2);
}

static void close_conn(worker *w)
{
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    w->pos = w->len = 0;
}

/* SO_RCVTIMEO bounds each recv; req_deadline bounds the whole response, so
 * that a server dripping one byte at a time still times out. */
static int fill(worker *w)
{
    if (w->pos == w->len) w->pos = w->len = 0;
    ssize_t n;
    do
        n = recv(w->fd, w->buf + w->len, BUF_CAP - w->len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? RD_TIMEOUT : RD_IO;
    if (n == 0) return RD_EOF;
    w->len += (size_t)n;
    w->rx += (size_t)n;
    return rag_now_s() > w->req_deadline ? RD_TIMEOUT : RD_OK;
}

/* One line without its CRLF, NUL-terminated inside the buffer, valid until
 * the next read. Lines longer than max are malformed; max < BUF_CAP - 2, so
 * fill() always has room. */
static int read_line(worker *w, char **line, size_t max)
{
    for (;;) {
        char *s = w->buf + w->pos, *nl = memchr(s, '\n', w->len - w->pos);
        if (nl) {
            size_t n = (size_t)(nl - s);
            w->pos += n + 1;
            if (n && s[n - 1] == '\r') n--;
            s[n] = 0;
            *line = s;
            return n > max ? RD_BAD : (int)n;
        }
        if (w->len - w->pos > max + 2) return RD_BAD;
        if (w->pos) {
            memmove(w->buf, s, w->len - w->pos);
            w->len -= w->pos;
            w->pos = 0;
        }
        int r = fill(w);
        if (r) return r == RD_EOF && w->len ? RD_BAD : r;
    }
}

/* The body is counted and dropped: loadgen measures, it does not check. */
static int skip(worker *w, unsigned long long n)
{
    while (n) {
        if (w->pos == w->len) {
            int r = fill(w);
            if (r) return r == RD_EOF ? RD_BAD : r;
        }
        size_t k = w->len - w->pos;
        if (k > n) k = (size_t)n;
        w->pos += k;
        n -= k;
    }
    return RD_OK;
}

static int read_chunked(worker *w)
{
    unsigned long long total = 0;
    char *line, *end;
    for (;;) {
        int r = read_line(w, &line, 1024);
        if (r < 0) return r;
        errno = 0;
        unsigned long long n = strtoull(line, &end, 16);
        if (end == line || errno || (*end && *end != ';' && *end != ' ' && *end != '\t'))
            return RD_BAD;
        if (n > BODY_MAX || (total += n) > BODY_MAX) return RD_BAD;
        if (n == 0) break;
        if ((r = skip(w, n)) < 0) return r;
        if ((r = read_line(w, &line, 0)) < 0) return r; /* the CRLF after the data */
    }
    for (size_t seen = 0;;) { /* trailers, up to the empty line */
        int r = read_line(w, &line, HEAD_MAX);
        if (r <= 0) return r;
        if ((seen += (size_t)r) > HEAD_MAX) return RD_BAD;
    }
}

static int read_to_eof(worker *w)
{
    unsigned long long total = w->len - w->pos;
    w->pos = w->len;
    for (;;) {
        if (total > BODY_MAX) return RD_BAD;
        int r = fill(w);
        if (r == RD_EOF) return RD_OK;
        if (r) return r;
        total += w->len - w->pos;
        w->pos = w->len;
    }
}

/* Reads one whole response. *keep says whether the connection may carry
 * the next request. */
static int read_response(worker *w, int *status, int *keep)
{
    char *line;
    int r;
    size_t head = 0;
    for (;;) { /* 1xx interim responses are skipped: their headers end them */
        if ((r = read_line(w, &line, HEAD_MAX)) < 0) return r;
        head += (size_t)r;
        if (strncmp(line, "HTTP/1.", 7) || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
            line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
            line[11] > '9' || (line[12] && line[12] != ' '))
            return RD_BAD;
        *status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        *keep = line[7] == '1'; /* HTTP/1.0 closes unless it says keep-alive */
        int chunked = 0;
        long long clen = -1;
        for (;;) {
            if ((r = read_line(w, &line, HEAD_MAX)) < 0) return r;
            if ((head += (size_t)r + 2) > HEAD_MAX) return RD_BAD;
            if (r == 0) break;
            if (*line == ' ' || *line == '\t') continue; /* obsolete folding */
            char *v = strchr(line, ':');
            if (!v) return RD_BAD;
            *v++ = 0;
            v += strspn(v, " \t");
            if (!strcasecmp(line, "Content-Length")) {
                char *end;
                errno = 0;
                unsigned long long n = strtoull(v, &end, 10);
                if (end == v || *v == '-' || errno || *(end + strspn(end, " \t")) ||
                    (clen >= 0 && (unsigned long long)clen != n))
                    return RD_BAD;
                if (n > BODY_MAX) return RD_BAD;
                clen = (long long)n;
            } else if (!strcasecmp(line, "Transfer-Encoding")) {
                chunked = strcasestr(v, "chunked") != NULL;
            } else if (!strcasecmp(line, "Connection")) {
                if (strcasestr(v, "close"))
                    *keep = 0;
                else if (strcasestr(v, "keep-alive"))
                    *keep = 1;
            }
        }
        if (*status < 200) continue;
        if (g_head_only || *status == 204 || *status == 304) return RD_OK;
        if (chunked) return read_chunked(w); /* wins over Content-Length (RFC 9112) */
        if (clen >= 0) return skip(w, (unsigned long long)clen);
        *keep = 0;
        return read_to_eof(w);
    }
}

static int send_request(worker *w)
{
    size_t off = 0;
    while (off < g_reqlen) {
        ssize_t n = send(w->fd, g_req + off, g_reqlen - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? RD_TIMEOUT : RD_IO;
        off += (size_t)n;
    }
    return RD_OK;
}

/* Retries every 50 ms until the duration ends; with --requests alone there
 * is no end, so it gives up after --timeout seconds of failures instead of
 * hanging the test that called it. */
static int connect_retry(worker *w)
{
    double give_up = g_deadline ? g_deadline : rag_now_s() + g_timeout;
    struct timeval tv = {(time_t)g_timeout, (suseconds_t)((g_timeout - floor(g_timeout)) * 1e6)};
    int one = 1;
    while (rag_now_s() < give_up) {
        int fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) &&
            !setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) &&
            !setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) &&
            !connect(fd, (struct sockaddr *)&g_addr, g_addrlen)) {
            w->fd = fd;
            w->pos = w->len = 0;
            return 1;
        }
        if (fd >= 0) close(fd);
        w->conn_errs++;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return 0;
}

static int do_request(worker *w, int *status, int *keep)
{
    w->rx = 0;
    int r = send_request(w);
    return r ? r : read_response(w, status, keep);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    int served = 0; /* responses on the current connection */
    for (unsigned long sent = 0; !g_nreq || sent < g_nreq; sent++) {
        if (g_deadline && rag_now_s() >= g_deadline) break;
        if (w->fd < 0) {
            if (!connect_retry(w)) break;
            served = 0;
        }
        int status = 0, keep = 0;
        double t0 = rag_now_s();
        w->req_deadline = t0 + g_timeout;
        int r = do_request(w, &status, &keep);
        /* A server may close an idle keep-alive connection just as we reuse
         * it; nothing of the response came back, so send it again once on a
         * fresh connection (the latency includes the reconnect). */
        if (r != RD_OK && r != RD_TIMEOUT && w->rx == 0 && served) {
            close_conn(w);
            if (!connect_retry(w)) break;
            served = 0;
            r = do_request(w, &status, &keep);
        }
        w->requests++;
        if (r != RD_OK) {
            w->errors++;
            if (r == RD_TIMEOUT) w->timeouts++;
            close_conn(w);
            continue;
        }
        double ms = (rag_now_s() - t0) * 1e3;
        if (w->nlat == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            if (!(w->lat = realloc(w->lat, w->cap * sizeof *w->lat))) {
                fprintf(stderr, "loadgen: out of memory\n");
                exit(1);
            }
        }
        w->lat[w->nlat++] = ms;
        w->status[status]++;
        if (status == g_expect)
            w->ok++;
        else
            w->nonexp++;
        served++;
        if (!keep) close_conn(w);
    }
    close_conn(w);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    if (!n) return 0;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[rank ? rank - 1 : 0];
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

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long sz;
    if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
        !(p = malloc((size_t)sz + 1)) || fread(p, 1, (size_t)sz, f) != (size_t)sz)
        usage_error("--body-file", f ? "cannot read the file" : strerror(errno));
    fclose(f);
    *n = (size_t)sz;
    return p;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = "/v1/search", *method = "POST";
    const char *headers[MAX_HEADERS], *body = NULL;
    size_t nheaders = 0, bodylen = 0;
    int port = 0, conns = 64, has_body_file = 0;
    double duration = 0;
    static const struct option opts[] = {{"host", 1, 0, 'H'},
                                         {"port", 1, 0, 'p'},
                                         {"path", 1, 0, 'P'},
                                         {"method", 1, 0, 'm'},
                                         {"body-file", 1, 0, 'f'},
                                         {"body", 1, 0, 'b'},
                                         {"header", 1, 0, 'h'},
                                         {"connections", 1, 0, 'c'},
                                         {"duration", 1, 0, 'd'},
                                         {"requests", 1, 0, 'n'},
                                         {"timeout", 1, 0, 't'},
                                         {"expect", 1, 0, 'e'},
                                         {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            port = (int)num_arg("--port", optarg, 1, 65535, 1);
            break;
        case 'P':
            if (*(path = optarg) != '/') usage_error("--path", "must start with '/'");
            break;
        case 'm':
            method = optarg;
            break;
        case 'f':
        case 'b':
            if (body) usage_error(c == 'f' ? "--body-file" : "--body", "only one body");
            if (c == 'f')
                body = read_file(optarg, &bodylen), has_body_file = 1;
            else
                body = optarg, bodylen = strlen(optarg);
            break;
        case 'h':
            if (nheaders == MAX_HEADERS) usage_error("--header", "at most 16");
            if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n"))
                usage_error("--header", "expected \"Name: value\"");
            headers[nheaders++] = optarg;
            break;
        case 'c':
            conns = (int)num_arg("--connections", optarg, 1, 10000, 1);
            break;
        case 'd':
            duration = num_arg("--duration", optarg, 0.001, 1e6, 0);
            break;
        case 'n':
            g_nreq = (unsigned long)num_arg("--requests", optarg, 1, 1e12, 1);
            break;
        case 't':
            g_timeout = num_arg("--timeout", optarg, 0.001, 1e6, 0);
            break;
        case 'e':
            g_expect = (int)num_arg("--expect", optarg, 100, 999, 1);
            break;
        default:
            usage_error(argv[optind - 1], "unknown option or missing value");
        }
    }
    if (optind < argc) usage_error(argv[optind], "unexpected argument");
    if (!port) usage_error("--port", "required");
    if (!duration && !g_nreq) duration = 30;
    g_head_only = !strcasecmp(method, "HEAD");

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai) usage_error("--host", gai_strerror(gai));
    memcpy(&g_addr, ai->ai_addr, ai->ai_addrlen);
    g_addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    int has_ctype = 0;
    size_t cap = 512 + strlen(path) + strlen(method) + strlen(host) + bodylen;
    for (size_t i = 0; i < nheaders; i++) {
        cap += strlen(headers[i]) + 2;
        has_ctype |= !strncasecmp(headers[i], "Content-Type:", 13);
    }
    g_req = malloc(cap);
    if (!g_req) return 1;
    int n = snprintf(g_req, cap,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n"
                     "User-Agent: ragd-loadgen\r\n",
                     method, path, host, port);
    if (body && !has_ctype)
        n += snprintf(g_req + n, cap - (size_t)n, "Content-Type: application/json\r\n");
    if (body || (strcasecmp(method, "GET") && !g_head_only))
        n += snprintf(g_req + n, cap - (size_t)n, "Content-Length: %zu\r\n", bodylen);
    for (size_t i = 0; i < nheaders; i++)
        n += snprintf(g_req + n, cap - (size_t)n, "%s\r\n", headers[i]);
    n += snprintf(g_req + n, cap - (size_t)n, "\r\n");
    if (bodylen) memcpy(g_req + n, body, bodylen);
    g_reqlen = (size_t)n + bodylen;
    if (has_body_file) free((char *)body);

    signal(SIGPIPE, SIG_IGN);
    worker *ws = calloc((size_t)conns, sizeof *ws);
    pthread_t *tids = calloc((size_t)conns, sizeof *tids);
    if (!ws || !tids) return 1;
    double start = rag_now_s();
    if (duration) g_deadline = start + duration;
    int started = 0;
    for (; started < conns; started++) {
        ws[started].fd = -1;
        if (!(ws[started].buf = malloc(BUF_CAP)) ||
            pthread_create(&tids[started], NULL, run_worker, &ws[started])) {
            fprintf(stderr, "loadgen: cannot start connection thread %d\n", started);
            free(ws[started].buf);
            break;
        }
    }
    worker sum = {.fd = -1};
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
        worker *w = &ws[i];
        sum.requests += w->requests, sum.ok += w->ok, sum.errors += w->errors;
        sum.nonexp += w->nonexp, sum.conn_errs += w->conn_errs, sum.timeouts += w->timeouts;
        for (int s = 0; s < 1000; s++)
            sum.status[s] += w->status[s];
        sum.nlat += w->nlat;
    }
    double elapsed = rag_now_s() - start;
    double *lat = malloc((sum.nlat ? sum.nlat : 1) * sizeof *lat);
    if (!lat) return 1;
    for (size_t i = 0, k = 0; i < (size_t)started; k += ws[i].nlat, i++) {
        if (ws[i].nlat) memcpy(lat + k, ws[i].lat, ws[i].nlat * sizeof *lat);
        free(ws[i].lat);
        free(ws[i].buf);
    }
    qsort(lat, sum.nlat, sizeof *lat, cmp_double);

    printf("{\"connections\":%d,\"duration_s\":%.2f,\"requests\":%lu,\"ok\":%lu,\"errors\":%lu,"
           "\"non_expected_status\":%lu,\"connect_errors\":%lu,\"timeouts\":%lu,\"rps\":%.1f,"
           "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"status_counts\":{",
           conns, elapsed, sum.requests, sum.ok, sum.errors, sum.nonexp, sum.conn_errs,
           sum.timeouts, elapsed > 0 ? sum.requests / elapsed : 0.0, pct(lat, sum.nlat, 50),
           pct(lat, sum.nlat, 90), pct(lat, sum.nlat, 99), sum.nlat ? lat[sum.nlat - 1] : 0.0);
    for (int s = 0, first = 1; s < 1000; s++)
        if (sum.status[s]) printf("%s\"%d\":%lu", first ? "" : ",", s, sum.status[s]), first = 0;
    printf("}}\n");
    free(lat);
    free(ws);
    free(tids);
    free(g_req);
    return 0;
}
