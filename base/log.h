/* base/log.h: leveled logging to stderr.
 *
 * The level comes from RAG_LOG (error, warn, info, debug; default warn) or
 * rag_log_set_level(). Library code logs diagnostics here; results for the
 * user are the programs' business. */
#ifndef RAG_BASE_LOG_H
#define RAG_BASE_LOG_H

enum { RAG_LOG_ERROR = 0, RAG_LOG_WARN = 1, RAG_LOG_INFO = 2, RAG_LOG_DEBUG = 3 };

void rag_log_set_level(int level);
int rag_log_level(void);
void rag_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rag_log_error(...) rag_log(RAG_LOG_ERROR, __VA_ARGS__)
#define rag_log_warn(...) rag_log(RAG_LOG_WARN, __VA_ARGS__)
#define rag_log_info(...) rag_log(RAG_LOG_INFO, __VA_ARGS__)
#define rag_log_debug(...) rag_log(RAG_LOG_DEBUG, __VA_ARGS__)

#endif
