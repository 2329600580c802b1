/* base/config.h: the configuration table.
 *
 * A config file is INI-like text:
 *     # comment
 *     [section]
 *     key = value        -> "section.key"
 * Values are strings; typed getters parse them and report the file and line
 * of a bad value. Precedence is decided by the programs: command-line flags,
 * then environment variables, then the file, then built-in defaults. */
#ifndef RAG_BASE_CONFIG_H
#define RAG_BASE_CONFIG_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rag_config rag_config;

/* Loads `path`. A missing file is an empty configuration when `optional`. */
int rag_config_load(const char *path, int optional, rag_config **out, rag_err *err);
void rag_config_free(rag_config *c);

/* The value of key, or NULL. */
const char *rag_config_get(const rag_config *c, const char *key);
/* Where key was set ("FILE:LINE"), for messages; "" when unset. */
const char *rag_config_where(const rag_config *c, const char *key);

/* Typed getters: 0 and *out set (left alone when the key is unset), or
 * RAG_ERR_INVALID naming the file and line. Sizes accept K, M, G suffixes. */
int rag_config_get_size(const rag_config *c, const char *key, size_t *out, rag_err *err);
int rag_config_get_bool(const rag_config *c, const char *key, int *out, rag_err *err);

/* Reports keys not in `known` (NULL-terminated) as errors naming file:line. */
int rag_config_check_keys(const rag_config *c, const char *const *known, rag_err *err);

/* Parses "123", "64K", "256M", "1G" into bytes. Returns 0 or -1. */
int rag_parse_size(const char *s, size_t *out);

#endif
