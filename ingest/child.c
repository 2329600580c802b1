/* ingest/child.c: running a parser in a forked child with resource limits
 * (the PDF parser, OCR), and reading the records it sends back.
 *
 * Parsers of PDF and image files are large and handle hostile input: a bad
 * file may make one loop, eat memory or crash. So the parse runs in a forked
 * child with resource limits, and this process only reads what the child
 * reports:
 *
 *   parent                                  child (fork, no exec)
 *   pipe(); fork()  ─────────────────────►  rlimits: CPU cpu_s, address
 *                                           space +mem, no core, no files
 *                                           fds: only the pipe (as fd 3)
 *                                           child_main(ctx): the parse
 *   poll() with a wall-clock deadline  ◄──  records (ing_child_put), then
 *   records handed to on_rec as they come   _exit(status of its choosing);
 *   (payload total capped at max_payload)   'E' message before a failure
 *   waitpid() always
 *
 * A record is one type byte, a 4-byte little-endian length, the payload.
 *
 * The parent never calls the parser's libraries: all of their state exists
 * in the child only, which dies with it. The child inherits the input bytes
 * through fork (copy-on-write, nothing is copied) and ignores SIGPIPE so
 * that a parent that went away shows as EPIPE, not as a signal. There is no
 * exec, so the child runs on a copy of a possibly multi-threaded parent: it
 * only uses malloc (made fork-safe by glibc), plain system calls and
 * libraries the parent never touched (poppler, leptonica, tesseract), or
 * touched only under ing_fork_lock (glib, through GMime): no fork happens
 * while a thread of the parent is inside glib, so the child never finds one
 * of glib's locks held by a thread it does not have. ICU is the exception
 * left: the parent's threads use it for words and sentences and tesseract
 * links it; ICU holds its global locks only while it loads data (once per
 * kind of data and process), and a child forked in that instant would wait
 * on one until its wall-clock limit ends it, a failure reported like any
 * other time limit, never a hang.
 *
 * mem is counted on top of the address space the child inherits (the
 * parent may have mapped a multi-GB model), read from /proc/self/statm.
 *
 * A child may raise its CPU and memory limits once, within the hard limits
 * set at the start (cpu_max_s, mem_max), with ing_child_raise (a PDF whose
 * pages need OCR): it tells the parent by a record, and the parent's
 * on_rec raises cl's limits (the wall clock included) alike.
 *
 * Outcomes decided here: no answer in timeout_s => killed, time limit;
 * killed by SIGXCPU (or SIGKILL after using its CPU time) => the CPU limit;
 * SIGABRT or a SIGKILL otherwise => out of memory (C++ and glib abort when
 * an allocation fails under RLIMIT_AS; the kernel's OOM killer sends
 * SIGKILL); another signal => the parser crashed. Exit statuses are the
 * caller's to read. */
#include "ingest/ing_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* AddressSanitizer reserves terabytes of shadow memory up front: under
 * RLIMIT_AS the child could not even start. Sanitizer builds therefore leave
 * the address-space limit out (CPU and wall-clock limits still apply). */
#if defined(__SANITIZE_ADDRESS__)
#define CHILD_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHILD_UNDER_ASAN 1
#endif
#endif
#ifndef CHILD_UNDER_ASAN
#define CHILD_UNDER_ASAN 0
#endif

#define REC_HEADER 5

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

void ing_child_put(char type, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 0xFFFFFFFFu) n = 0xFFFFFFFFu;
    unsigned char h[REC_HEADER] = {(unsigned char)type, (unsigned char)n, (unsigned char)(n >> 8),
                                   (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
    if (write_all(ING_CHILD_FD, h, sizeof h) < 0 || write_all(ING_CHILD_FD, s, n) < 0)
        _exit(ING_CHILD_EXIT_PIPE);
}

/* Bytes of address space this process already has (it inherits the
 * parent's: libraries, maybe a mapped model), so that mem is what the
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

static size_t child_vm_base; /* in the child: address space at the start */

void ing_child_raise(unsigned cpu_s, size_t mem)
{
    set_limit(RLIMIT_CPU, cpu_s, cpu_s + 1);
    if (!CHILD_UNDER_ASAN && mem) set_limit(RLIMIT_AS, child_vm_base + mem, child_vm_base + mem);
}

static void child_setup(int fd, const ing_child_limits *cl)
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
     * "Syntax Error" lines there, leptonica and tesseract their warnings),
     * the pipe as fd 3, nothing else */
    int hi = fcntl(fd, F_DUPFD, 10);
    if (hi < 0) _exit(ING_CHILD_EXIT_PIPE);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        if (rag_log_level() < RAG_LOG_DEBUG) dup2(nul, 2);
    }
    if (dup2(hi, ING_CHILD_FD) < 0) _exit(ING_CHILD_EXIT_PIPE);
    if (close_range(ING_CHILD_FD + 1, ~0U, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536) max = 65536;
        for (int i = ING_CHILD_FD + 1; i < max; i++)
            close(i);
    }

    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_FSIZE, 0, 0); /* the parser has no file to write */
    /* SIGXCPU at the soft limit, SIGKILL a second after the hard one; the
     * hard limits are what ing_child_raise may raise the soft ones to */
    unsigned cpu_hard = cl->cpu_max_s > cl->cpu_s ? cl->cpu_max_s : cl->cpu_s;
    size_t mem_hard = cl->mem_max > cl->mem ? cl->mem_max : cl->mem;
    set_limit(RLIMIT_CPU, cl->cpu_s, cpu_hard + 1);
    if (!CHILD_UNDER_ASAN && cl->mem) {
        child_vm_base = current_vm_bytes();
        set_limit(RLIMIT_AS, child_vm_base + cl->mem, child_vm_base + mem_hard);
    }
}

/* ---- parent ------------------------------------------------------------------ */

typedef struct reader {
    rag_buf raw;    /* bytes received and not yet parsed */
    size_t payload; /* payload bytes received in total */
} reader;

/* Consumes the complete records in r->raw. Returns 0, or 1 when the text is
 * over the limit. */
static int parse_records(reader *r, size_t max_payload, ing_child_rec_fn on_rec, void *rec_ctx,
                         ing_child_result *res)
{
    size_t pos = 0;
    while (r->raw.len - pos >= REC_HEADER) {
        const unsigned char *h = (const unsigned char *)r->raw.data + pos;
        size_t len = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 | (size_t)h[4] << 24;
        if (len > max_payload || r->payload + len > max_payload) return 1;
        if (r->raw.len - pos - REC_HEADER < len) break; /* wait for the rest */
        const char *p = r->raw.data + pos + REC_HEADER;
        if (h[0] == ING_CHILD_REC_ERROR)
            snprintf(res->error, sizeof res->error, "%.*s", (int)len, p);
        else
            on_rec(rec_ctx, (char)h[0], p, len);
        r->payload += len;
        pos += REC_HEADER + len;
    }
    memmove(r->raw.data, r->raw.data + pos, r->raw.len - pos);
    r->raw.len -= pos;
    return 0;
}

static pthread_mutex_t fork_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

void ing_fork_lock(void)
{
    pthread_mutex_lock(&fork_mu);
}

void ing_fork_unlock(void)
{
    pthread_mutex_unlock(&fork_mu);
}

int ing_child_run(const char *name, const char *what, ing_child_limits *cl, size_t max_payload,
                  ing_child_main_fn child_main, void *child_ctx, ing_child_rec_fn on_rec,
                  void *rec_ctx, ing_child_result *res, rag_err *err)
{
    memset(res, 0, sizeof *res);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return rag_err_sys(err, errno, "%s: pipe", name);
    ing_fork_lock();
    pid_t pid = fork();
    if (pid != 0) ing_fork_unlock(); /* the child never takes it again */
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return rag_err_sys(err, e, "%s: fork for the %s", name, what);
    }
    if (pid == 0) {
        close(fds[0]);
        child_setup(fds[1], cl);
        child_main(child_ctx);
        _exit(0); /* not reached: child_main exits */
    }
    close(fds[1]);

    reader r = {0};
    long long start = (long long)rag_now_ms(), deadline = start;
    int timed_out = 0, too_big = 0, read_errno = 0;
    char buf[65536];
    for (;;) {
        deadline = start + (long long)cl->timeout_s * 1000; /* on_rec may raise it */
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
        if (parse_records(&r, max_payload, on_rec, rec_ctx, res)) {
            too_big = 1;
            break;
        }
    }
    if (timed_out || too_big || read_errno) kill(pid, SIGKILL);
    close(fds[0]);
    rag_buf_free(&r.raw);

    /* Reap the child. After EOF it exits at once; a child that closed the
     * pipe but lingers is killed at the deadline. */
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid) {
            res->reaped = 1;
            res->status = status;
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
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s timed out after %u s", name, what,
                           cl->timeout_s);
    if (too_big)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                           name, max_payload);
    if (read_errno) return rag_err_sys(err, read_errno, "%s: reading from the %s", name, what);
    if (res->reaped && WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGXCPU || (sig == SIGKILL && cpu + 0.5 >= cl->cpu_s))
            return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s stopped at the CPU time limit of %u s",
                               name, what, cl->cpu_s);
        if (sig == SIGABRT || sig == SIGKILL) {
            if (cl->mem >= (size_t)1 << 20)
                return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s ran out of memory (limit %zu MiB)",
                                   name, what, cl->mem >> 20);
            return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s ran out of memory (limit %zu bytes)",
                               name, what, cl->mem);
        }
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: %s crashed on this file (signal %d: %s)", name,
                           what, sig, strsignal(sig));
    }
    return 0;
}
