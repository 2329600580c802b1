/* base/err.h: the one error model of the project.
 *
 * Functions return 0 on success or a negative RAG_ERR_* code. Those that can
 * fail in interesting ways also fill a caller-owned rag_err with a message that
 * names the file, field or offset involved. Library code never prints and never
 * exits; the programs decide what to show. */
#ifndef RAG_BASE_ERR_H
#define RAG_BASE_ERR_H

enum {
    RAG_OK = 0,
    RAG_ERR_NOMEM = -1,        /* allocation failed */
    RAG_ERR_IO = -2,           /* a system call failed; sys_errno says which errno */
    RAG_ERR_FORMAT = -3,       /* input bytes are malformed (file, field, offset in msg) */
    RAG_ERR_INVALID = -4,      /* a caller passed a bad argument or option */
    RAG_ERR_NOTFOUND = -5,     /* the named thing does not exist */
    RAG_ERR_DB = -6,           /* SQLite reported an error */
    RAG_ERR_LIMIT = -7,        /* an input exceeds a configured limit */
    RAG_ERR_UNSUPPORTED = -8,  /* recognised but not supported by this build */
    RAG_ERR_BUSY = -9,         /* a resource is locked by another process */
    RAG_ERR_CORRUPT = -10,     /* stored data failed a consistency check */
    RAG_ERR_INTERRUPTED = -11, /* stopped by a signal or a cancellation */
    RAG_ERR_NET = -12,         /* a network transfer failed (connect, timeout, HTTP status) */
    RAG_ERR_DENIED = -13,      /* refused by policy (a private address, robots.txt, 401/403) */
};

typedef struct rag_err {
    int code;      /* RAG_ERR_* */
    int sys_errno; /* errno when code == RAG_ERR_IO, else 0 */
    char msg[256]; /* human-readable, names the file/field/offset */
} rag_err;

/* Fills *err (when not NULL) and returns code, so callers can write
 * `return rag_err_set(err, RAG_ERR_FORMAT, "%s: bad header", path);`. */
int rag_err_set(rag_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like rag_err_set with code RAG_ERR_IO, appending strerror(errnum). */
int rag_err_sys(rag_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void rag_err_clear(rag_err *err);

/* Short name of a code ("format error", "I/O error", ...). */
const char *rag_err_name(int code);

#endif
