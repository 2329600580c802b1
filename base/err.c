/* base/err.c: filling rag_err. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int rag_err_set(rag_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->sys_errno = 0;
    }
    return code;
}

int rag_err_sys(rag_err *err, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
        err->code = RAG_ERR_IO;
        err->sys_errno = errnum;
    }
    return RAG_ERR_IO;
}

void rag_err_clear(rag_err *err)
{
    if (err) {
        err->code = 0;
        err->sys_errno = 0;
        err->msg[0] = 0;
    }
}

const char *rag_err_name(int code)
{
    switch (code) {
    case RAG_OK:
        return "ok";
    case RAG_ERR_NOMEM:
        return "out of memory";
    case RAG_ERR_IO:
        return "I/O error";
    case RAG_ERR_FORMAT:
        return "format error";
    case RAG_ERR_INVALID:
        return "invalid argument";
    case RAG_ERR_NOTFOUND:
        return "not found";
    case RAG_ERR_DB:
        return "database error";
    case RAG_ERR_LIMIT:
        return "limit exceeded";
    case RAG_ERR_UNSUPPORTED:
        return "unsupported";
    case RAG_ERR_BUSY:
        return "busy";
    case RAG_ERR_CORRUPT:
        return "corrupt data";
    case RAG_ERR_INTERRUPTED:
        return "interrupted";
    case RAG_ERR_NET:
        return "network error";
    case RAG_ERR_DENIED:
        return "refused";
    }
    return "unknown error";
}
