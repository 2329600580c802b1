/* base/log.c: stderr logger; one line per call, written with a single write. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int log_level = -1;

static int level_from_env(void)
{
    const char *s = getenv("RAG_LOG");
    if (!s) return RAG_LOG_WARN;
    if (!strcmp(s, "error")) return RAG_LOG_ERROR;
    if (!strcmp(s, "info")) return RAG_LOG_INFO;
    if (!strcmp(s, "debug")) return RAG_LOG_DEBUG;
    return RAG_LOG_WARN;
}

void rag_log_set_level(int level)
{
    log_level = level;
}

int rag_log_level(void)
{
    if (log_level < 0) log_level = level_from_env();
    return log_level;
}

void rag_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > rag_log_level()) return;
    char line[1024];
    int n = snprintf(line, sizeof line, "rag: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
}
