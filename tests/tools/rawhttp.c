/* tests/tools/rawhttp.c: raw HTTP for the integration tests of ragd against
 * hostile clients: bytes no ordinary client sends, sent as slowly as asked,
 * and connections that send nothing at all.
 *
 * Both take --from ADDR: the source address (another loopback address, say).
 *
 *   rawhttp --port P [--host 127.0.0.1] [--trickle MS] [--wait S] < REQUEST
 *       sends the bytes of stdin as they are (one byte every MS milliseconds
 *       with --trickle), then reads until the server closes or S seconds
 *       (default 5) have passed since the start. Prints what came back, then
 *       a last line of its own: "rawhttp: closed|reset|open after MS ms, sent
 *       N of M bytes".
 *   rawhttp --port P [--host H] [--from ADDR] --idle N --hold S
 *       opens N connections that send nothing and holds them S seconds.
 *       Prints "rawhttp: opened K of N; closed by the server: C" once all K
 *       are open (the moment is marked by the file --ready FILE, when given)
 *       and the same line again at the end.
 *
 * Exits 0, or 2 on bad usage, 1 when it cannot connect at all. */
#include "base/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *from; /* the source address (--from), or NULL */

static int dial(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    if (from && (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
                 bind(fd, (struct sockaddr *)&src, sizeof src))) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what is waiting on fd into stdout (up to wait_ms); returns 1 at EOF,
 * 2 on a reset, 0 while open. */
static int drain(int fd, double wait_ms)
{
    char buf[65536];
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int r = poll(&pf, 1, wait_ms > 0 ? (int)wait_ms : 0);
    if (r <= 0) return 0;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return 1;
    if (n < 0) return errno == ECONNRESET ? 2 : 0;
    fwrite(buf, 1, (size_t)n, stdout);
    return 0;
}

static int send_mode(const char *host, int port, int trickle_ms, double wait_s)
{
    size_t cap = 1 << 16, len = 0;
    char *req = malloc(cap);
    size_t n;
    while ((n = fread(req + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) req = realloc(req, cap *= 2);
    }
    int fd = dial(host, port);
    if (fd < 0) {
        fprintf(stderr, "rawhttp: cannot connect to %s:%d\n", host, port);
        free(req);
        return 1;
    }
    double t0 = rag_now_ms(), end = t0 + wait_s * 1e3;
    size_t sent = 0;
    int state = 0;
    while (sent < len && !state && rag_now_ms() < end) {
        size_t piece = trickle_ms > 0 ? 1 : len - sent;
        ssize_t w = send(fd, req + sent, piece, MSG_NOSIGNAL);
        if (w < 0) {
            state = errno == ECONNRESET ? 2 : 1;
            break;
        }
        sent += (size_t)w;
        if (trickle_ms > 0) {
            double until = rag_now_ms() + trickle_ms;
            while (!state && rag_now_ms() < until)
                state = drain(fd, until - rag_now_ms());
        } else {
            state = drain(fd, 0);
        }
    }
    while (!state && rag_now_ms() < end)
        state = drain(fd, end - rag_now_ms());
    fflush(stdout);
    printf("\nrawhttp: %s after %.0f ms, sent %zu of %zu bytes\n",
           state == 1   ? "closed"
           : state == 2 ? "reset"
                        : "open",
           rag_now_ms() - t0, sent, len);
    close(fd);
    free(req);
    return 0;
}

static int idle_mode(const char *host, int port, int count, double hold_s, const char *ready)
{
    int *fds = calloc((size_t)count, sizeof *fds);
    struct pollfd *pf = calloc((size_t)count, sizeof *pf);
    int opened = 0, closed = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = dial(host, port);
        if (fds[i] >= 0) opened++;
    }
    if (!opened) {
        fprintf(stderr, "rawhttp: cannot connect to %s:%d\n", host, port);
        free(fds);
        free(pf);
        return 1;
    }
    double end = rag_now_ms() + hold_s * 1e3;
    int reported = 0;
    for (;;) {
        int m = 0;
        for (int i = 0; i < count; i++)
            if (fds[i] >= 0) pf[m++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        double left = end - rag_now_ms();
        int r = m ? poll(pf, (nfds_t)m, reported ? (left > 0 ? (int)left : 0) : 200) : 0;
        for (int j = 0; r > 0 && j < m; j++) {
            if (!pf[j].revents) continue;
            char buf[4096];
            ssize_t n = recv(pf[j].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) continue; /* an answer (408?): the close comes next */
            for (int i = 0; i < count; i++)
                if (fds[i] == pf[j].fd) fds[i] = -1;
            close(pf[j].fd);
            closed++;
        }
        if (!reported) {
            printf("rawhttp: opened %d of %d; closed by the server: %d\n", opened, count, closed);
            fflush(stdout);
            if (ready) {
                FILE *f = fopen(ready, "w");
                if (f) fclose(f);
            }
            reported = 1;
        }
        if (rag_now_ms() >= end || !m) break;
    }
    printf("rawhttp: opened %d of %d; closed by the server: %d\n", opened, count, closed);
    fflush(stdout);
    for (int i = 0; i < count; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
    free(pf);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *ready = NULL;
    int port = 0, trickle = 0, idle = 0;
    double wait_s = 5, hold_s = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--trickle"))
            trickle = atoi(v);
        else if (!strcmp(a, "--wait"))
            wait_s = atof(v);
        else if (!strcmp(a, "--idle"))
            idle = atoi(v);
        else if (!strcmp(a, "--hold"))
            hold_s = atof(v);
        else if (!strcmp(a, "--from"))
            from = v;
        else if (!strcmp(a, "--ready"))
            ready = v;
        else
            goto usage;
        i++;
    }
    if (port <= 0 || port > 65535 || idle < 0 || idle > 10000) goto usage;
    signal(SIGPIPE, SIG_IGN);
    return idle ? idle_mode(host, port, idle, hold_s, ready)
                : send_mode(host, port, trickle, wait_s);
usage:
    fprintf(stderr,
            "usage: rawhttp --port P [--host H] [--from ADDR] [--trickle MS] [--wait S] < REQUEST\n"
            "       rawhttp --port P [--host H] [--from ADDR] --idle N --hold S [--ready FILE]\n");
    return 2;
}
