/* ingest/pdf.c: PDF files, through poppler-glib in a child process.
 *
 * PDF parsers are large and handle hostile input: a bad file may make one
 * loop, eat memory or crash. So the parse runs in a forked child with
 * resource limits, and this process only reads what the child reports:
 *
 *   parent                                  child (fork, no exec)
 *   pipe(); fork()  ─────────────────────►  rlimits: CPU pdf_cpu_s, address
 *                                           space +pdf_mem, no core, no files
 *                                           fds: only the pipe (as fd 3)
 *                                           poppler_document_new_from_bytes
 *   poll() with a wall-clock deadline  ◄──  records, then _exit(0):
 *   parse records as they come              'T' title (may be empty)
 *   (payload total capped at max_text)      'P' text of one page, per page
 *   waitpid() always                        'E' message, then _exit(3)
 *                                           (_exit(4): encrypted)
 *
 * A record is one type byte, a 4-byte little-endian length, the payload.
 *
 * The parent never calls glib or poppler: all of that state exists in the
 * child only, which dies with it. The child inherits the document bytes
 * through fork (copy-on-write, nothing is copied) and ignores SIGPIPE so that
 * a parent that went away shows as EPIPE, not as a signal. There is no exec,
 * so the child runs on a copy of a possibly multi-threaded parent: it only
 * uses malloc (made fork-safe by glibc), plain system calls and libraries the
 * parent never touched (glib, poppler).
 *
 * pdf_mem is counted on top of the address space the child inherits (the
 * parent may have mapped a multi-GB model), read from /proc/self/statm.
 *
 * A file without "%PDF-" in its first 1 KiB is refused before any fork. A
 * build without RAG_HAVE_POPPLER answers RAG_ERR_UNSUPPORTED for the rest.
 *
 * Outcomes: killed by SIGXCPU (or SIGKILL after using its CPU time) => the
 * CPU limit; SIGABRT or a SIGKILL otherwise => out of memory (glib and
 * poppler's C++ abort when an allocation fails under RLIMIT_AS; the kernel's
 * OOM killer sends SIGKILL); no answer in pdf_timeout_s => killed, time
 * limit; exit 3 => corrupt PDF with poppler's message. A PDF whose pages hold
 * no text (scans) is an error of its own: OCR is not supported.
 *
 * Page text: paragraphs at blank lines, the lines of a paragraph joined with
 * spaces, a word hyphenated at a line end ("infor-" + "mation") joined when
 * the next line starts with a lowercase letter; a page always ends a
 * paragraph. */
#include "ingest/ing_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef RAG_HAVE_POPPLER
#include <poppler.h>
#endif

/* AddressSanitizer reserves terabytes of shadow memory up front: under
 * RLIMIT_AS the child could not even start. Sanitizer builds therefore leave
 * the address-space limit out (CPU and wall-clock limits still apply). */
#if defined(__SANITIZE_ADDRESS__)
#define PDF_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PDF_UNDER_ASAN 1
#endif
#endif
#ifndef PDF_UNDER_ASAN
#define PDF_UNDER_ASAN 0
#endif

enum { REC_TITLE = 'T', REC_PAGE = 'P', REC_ERROR = 'E' };
enum { EXIT_OK = 0, EXIT_BAD_PDF = 3, EXIT_ENCRYPTED = 4, EXIT_PIPE = 5 };
#define REC_HEADER 5
#define PIPE_FD 3

#ifdef RAG_HAVE_POPPLER

/* ---- child ----------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1; /* EPIPE: the parent stopped listening */
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void put_record(int fd, char type, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 0xFFFFFFFFu) n = 0xFFFFFFFFu;
    unsigned char h[REC_HEADER] = {(unsigned char)type, (unsigned char)n, (unsigned char)(n >> 8),
                                   (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
    if (write_all(fd, h, sizeof h) < 0 || write_all(fd, s, n) < 0) _exit(EXIT_PIPE);
}

/* Bytes of address space this process already has (it inherits the
 * parent's: libraries, maybe a mapped model), so that pdf_mem is what the
 * parser may add. 0 when unknown. */
static size_t current_vm_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return 0;
    buf[r] = 0;
    unsigned long long pages = strtoull(buf, NULL, 10);
    long psz = sysconf(_SC_PAGESIZE);
    return (size_t)pages * (size_t)(psz > 0 ? psz : 4096);
}

static void set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    setrlimit(res, &rl); /* best effort: the wall-clock deadline still holds */
}

static void child_setup(int fd, const ing_limits *lim)
{
    /* default dispositions for what the parent may have handled or blocked */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGXCPU, SIGALRM, SIGUSR1, SIGUSR2, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
    signal(SIGPIPE, SIG_IGN);

    /* fds: 0 and 1 to /dev/null, 2 too unless debugging (poppler prints
     * "Syntax Error" lines there), the pipe as fd 3, nothing else */
    int hi = fcntl(fd, F_DUPFD, 10);
    if (hi < 0) _exit(EXIT_PIPE);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        if (rag_log_level() < RAG_LOG_DEBUG) dup2(nul, 2);
    }
    if (dup2(hi, PIPE_FD) < 0) _exit(EXIT_PIPE);
    if (close_range(PIPE_FD + 1, ~0U, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536) max = 65536;
        for (int i = PIPE_FD + 1; i < max; i++)
            close(i);
    }

    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_FSIZE, 0, 0);                             /* the parser has no file to write */
    set_limit(RLIMIT_CPU, lim->pdf_cpu_s, lim->pdf_cpu_s + 1); /* SIGXCPU, then SIGKILL */
    if (!PDF_UNDER_ASAN && lim->pdf_mem) {
        size_t base = current_vm_bytes();
        set_limit(RLIMIT_AS, base + lim->pdf_mem, base + lim->pdf_mem);
    }
}

__attribute__((noreturn)) static void child_main(int fd, const uint8_t *data, size_t n,
                                                 const ing_limits *lim)
{
    child_setup(fd, lim);
    GBytes *bytes = g_bytes_new_static(data, n);
    GError *gerr = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    if (!doc) {
        int encrypted =
            gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED;
        put_record(PIPE_FD, REC_ERROR, gerr && gerr->message ? gerr->message : "cannot be opened");
        _exit(encrypted ? EXIT_ENCRYPTED : EXIT_BAD_PDF);
    }
    gchar *title = poppler_document_get_title(doc);
    put_record(PIPE_FD, REC_TITLE, title);
    g_free(title);
    int pages = poppler_document_get_n_pages(doc);
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text = page ? poppler_page_get_text(page) : NULL;
        put_record(PIPE_FD, REC_PAGE, text);
        g_free(text);
        if (page) g_object_unref(page);
    }
    /* no clean-up: the process ends here and the parent reads EOF */
    _exit(EXIT_OK);
}

/* ---- parent: page text ------------------------------------------------------ */

static int is_blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f') return 0;
    return 1;
}

static void add_paragraph(ing_text *out, const char *s, size_t n)
{
    rag_buf para = {0};
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t a = i, b = e;
        while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
            b--;
        if (b > a) {
            if (para.len) {
                size_t l = para.len;
                int hyphen = l >= 2 && para.data[l - 1] == '-' &&
                             ((para.data[l - 2] >= 'a' && para.data[l - 2] <= 'z') ||
                              (para.data[l - 2] >= 'A' && para.data[l - 2] <= 'Z')) &&
                             s[a] >= 'a' && s[a] <= 'z';
                if (hyphen)
                    para.len--; /* "infor-" + "mation" */
                else
                    rag_buf_putc(&para, ' ');
            }
            rag_buf_append(&para, s + a, b - a);
        }
        i = e + 1;
    }
    if (para.len) ing_text_add(out, ING_PARA, 0, para.data, para.len);
    rag_buf_free(&para);
}

static void add_page(ing_text *out, const char *s, size_t n)
{
    size_t i = 0, para = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        if (is_blank_line(s + i, e - i)) {
            if (i > para) add_paragraph(out, s + para, i - para);
            para = e + 1;
        }
        i = e + 1;
    }
    if (para < n) add_paragraph(out, s + para, n - para);
}

/* ---- parent: running the child -------------------------------------------- */

typedef struct reader {
    rag_buf raw;     /* bytes received and not yet parsed */
    size_t payload;  /* payload bytes received in total */
    char error[200]; /* the child's error record */
    int got_title;
} reader;

/* Consumes the complete records in r->raw. Returns 0, or 1 when the text is
 * over the limit. */
static int parse_records(reader *r, ing_text *out, size_t max_text)
{
    size_t pos = 0;
    while (r->raw.len - pos >= REC_HEADER) {
        const unsigned char *h = (const unsigned char *)r->raw.data + pos;
        size_t len = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 | (size_t)h[4] << 24;
        if (len > max_text || r->payload + len > max_text) return 1;
        if (r->raw.len - pos - REC_HEADER < len) break; /* wait for the rest */
        const char *p = r->raw.data + pos + REC_HEADER;
        if (h[0] == REC_TITLE && !r->got_title) {
            r->got_title = 1;
            if (len) {
                ing_text_set_title(out, p, len);
                out->title_in_text = 0;
            }
        } else if (h[0] == REC_PAGE) {
            add_page(out, p, len);
        } else if (h[0] == REC_ERROR) {
            snprintf(r->error, sizeof r->error, "%.*s", (int)len, p);
        }
        r->payload += len;
        pos += REC_HEADER + len;
    }
    memmove(r->raw.data, r->raw.data + pos, r->raw.len - pos);
    r->raw.len -= pos;
    return 0;
}

static int extract_in_child(const char *name, const uint8_t *data, size_t n, const ing_limits *lim,
                            ing_text *out, rag_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return rag_err_sys(err, errno, "%s: pipe", name);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return rag_err_sys(err, e, "%s: fork for the PDF parser", name);
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], data, n, lim);
    }
    close(fds[1]);

    reader r = {0};
    long long deadline = (long long)rag_now_ms() + (long long)lim->pdf_timeout_s * 1000;
    int timed_out = 0, too_big = 0, read_errno = 0;
    char buf[65536];
    for (;;) {
        long long left = deadline - (long long)rag_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) {
            read_errno = errno;
            break;
        }
        if (pr == 0) continue; /* the deadline is checked at the top */
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got < 0) {
            read_errno = errno;
            break;
        }
        if (got == 0) break; /* the child closed its end: it is done */
        rag_buf_append(&r.raw, buf, (size_t)got);
        if (parse_records(&r, out, lim->max_text)) {
            too_big = 1;
            break;
        }
    }
    if (timed_out || too_big || read_errno) kill(pid, SIGKILL);
    close(fds[0]);
    rag_buf_free(&r.raw);

    /* Reap the child. After EOF it exits at once; a child that closed the
     * pipe but lingers is killed at the deadline. */
    int status = 0, reaped = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid) {
            reaped = 1;
            break;
        }
        if (w < 0 && errno != EINTR) break; /* ECHILD: someone ignores SIGCHLD */
        if ((long long)rag_now_ms() > deadline && !timed_out) {
            timed_out = 1;
            kill(pid, SIGKILL);
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }

    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (timed_out)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: PDF parser timed out after %u s", name,
                           lim->pdf_timeout_s);
    if (too_big)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                           name, lim->max_text);
    if (read_errno) return rag_err_sys(err, read_errno, "%s: reading from the PDF parser", name);
    if (reaped && WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGXCPU || (sig == SIGKILL && cpu + 0.5 >= lim->pdf_cpu_s))
            return rag_err_set(err, RAG_ERR_LIMIT,
                               "%s: PDF parser stopped at the CPU time limit of %u s", name,
                               lim->pdf_cpu_s);
        if (sig == SIGABRT || sig == SIGKILL) {
            if (lim->pdf_mem >= (size_t)1 << 20)
                return rag_err_set(err, RAG_ERR_LIMIT,
                                   "%s: PDF parser ran out of memory (limit %zu MiB)", name,
                                   lim->pdf_mem >> 20);
            return rag_err_set(err, RAG_ERR_LIMIT,
                               "%s: PDF parser ran out of memory (limit %zu bytes)", name,
                               lim->pdf_mem);
        }
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: PDF parser crashed on this file (signal %d: %s)", name, sig,
                           strsignal(sig));
    }
    if (reaped && WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code == EXIT_BAD_PDF)
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt PDF: %s", name,
                               r.error[0] ? r.error : "poppler cannot read it");
        if (code == EXIT_ENCRYPTED)
            return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                               "%s: the PDF is encrypted (it needs a password)", name);
        if (code != EXIT_OK)
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: PDF parser failed (exit status %d)", name,
                               code);
    } else if (!reaped && !r.got_title) {
        /* the status was lost (someone else reaped the child): go by what
         * it wrote */
        if (r.error[0])
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt PDF: %s", name, r.error);
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: PDF parser ended without a result", name);
    }
    if (out->n_blocks == 0)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: the PDF has no text layer (scanned? OCR is not supported)", name);
    return 0;
}

#else /* !RAG_HAVE_POPPLER */

static int extract_in_child(const char *name, const uint8_t *data, size_t n, const ing_limits *lim,
                            ing_text *out, rag_err *err)
{
    (void)data, (void)n, (void)lim, (void)out;
    return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                       "%s: PDF support was not built (install libpoppler-glib-dev and rebuild)",
                       name);
}

#endif

int ing_extract_pdf(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "application/pdf";
    /* No header: not worth a parser (a file named .pdf that is not one),
     * and the answer does not depend on poppler being built in. */
    size_t hl = n < 1029 ? n : 1029;
    if (!hl || !memmem(data, hl, "%PDF-", 5))
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: corrupt PDF: no %%PDF- header in the first 1024 bytes", name);
    return extract_in_child(name, data, n, lim, out, err);
}
