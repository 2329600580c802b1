/* ingest/walk.h: finding the files of an ingest run (private to ingest/). */
#ifndef RAG_INGEST_WALK_H
#define RAG_INGEST_WALK_H

#include "ingest/ingest.h"

typedef struct ing_file {
    char *path; /* as found (root + relative part) */
    char *uri;  /* canonical absolute path */
    uint64_t size;
    int64_t mtime_ns;
} ing_file;

typedef struct ing_files {
    ing_file *v;
    size_t n, cap;
    rag_strv roots; /* canonical absolute paths of the directories and files given */
} ing_files;

/* Walks `paths`: directories recursively (sorted, hidden entries and symlinked
 * directories left out unless asked, exclude globs prune), files as given.
 * Paths that cannot be walked are reported through p->on_file as ING_FAILED
 * and counted in *n_failed. */
void ing_walk(const char *const *paths, size_t n_paths, const ing_params *p, ing_files *out,
              size_t *n_failed);
void ing_files_free(ing_files *f);

/* Glob matching as the CLI documents it: a pattern without '/' matches the
 * file (or directory) name; a pattern with '/' matches the path relative to
 * the walked root, where '*' also crosses '/' (so '**' works as expected). */
int ing_glob_match(const char *pattern, const char *relpath);

#endif
