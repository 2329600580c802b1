/* base/file.h: file helpers: bounded whole-file reads, read-only maps,
 * atomic writes, fsync of directories and directory creation. */
#ifndef RAG_BASE_FILE_H
#define RAG_BASE_FILE_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rag_map {
    const uint8_t *data; /* NULL when size == 0 */
    size_t size;
    int mapped; /* 1: munmap on release, 2: rag_free on release, 0: nothing */
} rag_map;

/* Maps `path` read-only. Files larger than max_size fail with RAG_ERR_LIMIT
 * (max_size 0: no limit); non-regular files fail with RAG_ERR_INVALID.
 * Files up to RAG_MAP_READ_MAX bytes are read into memory instead: in a
 * process with several threads every munmap interrupts the CPUs running
 * the others to flush their TLBs, which costs more than copying a small
 * file (ingest maps every file it reads). */
#define RAG_MAP_READ_MAX (1u << 20)
int rag_file_map(const char *path, size_t max_size, rag_map *out, rag_err *err);
void rag_file_unmap(rag_map *m);

/* Reads a whole (small) file into a NUL-terminated buffer (free with rag_free). */
int rag_file_read(const char *path, size_t max_size, char **out, size_t *out_len, rag_err *err);

/* Writes `len` bytes to `path` atomically: a temporary file in the same
 * directory, fsync, rename over `path`, fsync of the directory. A crash leaves
 * either the old or the new contents, never a mix. */
int rag_file_write_atomic(const char *path, const void *data, size_t len, rag_err *err);

/* The steps of rag_file_write_atomic, for writers that stream their bytes.
 * rag_file_tmp_open creates `path`.tmp.<pid> (mode 0600) for writing and
 * returns its descriptor, its name in *tmp (free with rag_free); -1 with err
 * set on failure. rag_file_tmp_commit fsyncs and closes fd and renames tmp
 * over `path`; on failure it removes tmp. rag_file_tmp_discard closes fd and
 * removes tmp. Neither fsyncs the directory: call rag_fsync_dir once after
 * the renames into it. */
int rag_file_tmp_open(const char *path, char **tmp, rag_err *err);
int rag_file_tmp_commit(int fd, const char *tmp, const char *path, rag_err *err);
void rag_file_tmp_discard(int fd, const char *tmp);

/* fsync of a directory, so that the renames into it survive a crash.
 * Failures read "<dir>: fsync: <why>". */
int rag_fsync_dir(const char *dir, rag_err *err);

/* mkdir -p with mode 0700 for the directories it creates. */
int rag_mkdir_p(const char *path, rag_err *err);

#endif
