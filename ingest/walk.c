/* ingest/walk.c: turns the paths of an ingest run into a sorted file list.
 *
 * Rules (also in the README):
 *   - a path named on the command line is always taken (hidden or not);
 *   - inside directories, names starting with '.' are skipped unless
 *     include_hidden (this keeps .git and editor droppings out);
 *   - symbolic links to files are followed; links to directories are not
 *     (they can form cycles and usually point outside the tree);
 *   - exclude globs prune files and whole directories; include globs, when
 *     given, select the files (directories are always entered);
 *   - entries are visited in byte order of their names, so runs are
 *     reproducible. */
#include "ingest/walk.h"
#include "base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ing_glob_match(const char *pattern, const char *relpath)
{
    if (!strchr(pattern, '/')) {
        const char *base = strrchr(relpath, '/');
        return fnmatch(pattern, base ? base + 1 : relpath, FNM_PERIOD) == 0;
    }
    while (*pattern == '/')
        pattern++;
    return fnmatch(pattern, relpath, 0) == 0;
}

static int any_match(const rag_strv *globs, const char *rel)
{
    for (size_t i = 0; globs && i < globs->n; i++)
        if (ing_glob_match(globs->v[i], rel)) return 1;
    return 0;
}

static void report(const ing_params *p, const char *path, const char *reason, size_t *n_failed)
{
    (*n_failed)++;
    if (p->on_file) p->on_file(p->ctx, path, ING_FAILED, reason);
}

static void add_file(ing_files *out, const char *path, const struct stat *st, const ing_params *p,
                     size_t *n_failed)
{
    char *real = realpath(path, NULL);
    if (!real) {
        char *why = rag_xasprintf("cannot resolve path: %s", strerror(errno));
        report(p, path, why, n_failed);
        rag_free(why);
        return;
    }
    out->v = rag_xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
    ing_file *f = &out->v[out->n++];
    f->path = rag_xstrdup(path);
    f->uri = rag_xstrdup(real);
    free(real); /* from libc */
    f->size = (uint64_t)st->st_size;
    f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir: path to open; rel: path relative to the root ("" at the root). */
static void walk_dir(const char *dir, const char *rel, const ing_params *p, ing_files *out,
                     size_t *n_failed, int depth)
{
    if (depth > 64) {
        report(p, dir, "directory tree deeper than 64 levels: not entered", n_failed);
        return;
    }
    DIR *d = opendir(dir);
    if (!d) {
        char *why = rag_xasprintf("cannot open directory: %s", strerror(errno));
        report(p, dir, why, n_failed);
        rag_free(why);
        return;
    }
    rag_strv names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (e->d_name[0] == '.' && !p->include_hidden) continue;
        rag_strv_push(&names, e->d_name);
    }
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_name); /* v is NULL when empty */
    for (size_t i = 0; i < names.n; i++) {
        char *path = rag_xasprintf("%s/%s", dir, names.v[i]);
        char *r = *rel ? rag_xasprintf("%s/%s", rel, names.v[i]) : rag_xstrdup(names.v[i]);
        struct stat lst, st;
        if (lstat(path, &lst) < 0) {
            char *why = rag_xasprintf("cannot stat: %s", strerror(errno));
            report(p, path, why, n_failed);
            rag_free(why);
        } else if (any_match(p->exclude, r)) {
            /* excluded: nothing to do */
        } else if (S_ISDIR(lst.st_mode)) {
            walk_dir(path, r, p, out, n_failed, depth + 1);
        } else if (S_ISLNK(lst.st_mode)) {
            if (stat(path, &st) < 0) {
                char *why = rag_xasprintf("broken symbolic link: %s", strerror(errno));
                report(p, path, why, n_failed);
                rag_free(why);
            } else if (S_ISREG(st.st_mode) &&
                       (!p->include || !p->include->n || any_match(p->include, r))) {
                add_file(out, path, &st, p, n_failed);
            }
        } else if (S_ISREG(lst.st_mode)) {
            if (!p->include || !p->include->n || any_match(p->include, r))
                add_file(out, path, &lst, p, n_failed);
        }
        /* sockets, FIFOs, devices: not documents, silently left out */
        rag_free(path);
        rag_free(r);
    }
    rag_strv_free(&names);
}

void ing_walk(const char *const *paths, size_t n_paths, const ing_params *p, ing_files *out,
              size_t *n_failed)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n_paths; i++) {
        /* trailing slashes would double up in joined paths */
        char *path = rag_xstrdup(paths[i]);
        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/')
            path[--len] = 0;
        struct stat st;
        if (stat(path, &st) < 0) {
            char *why = rag_xasprintf("%s", strerror(errno));
            report(p, path, why, n_failed);
            rag_free(why);
        } else {
            char *real = realpath(path, NULL);
            if (real) {
                rag_strv_push(&out->roots, real);
                free(real);
            }
            if (S_ISDIR(st.st_mode))
                walk_dir(path, "", p, out, n_failed, 0);
            else if (S_ISREG(st.st_mode))
                add_file(out, path, &st, p, n_failed);
            else
                report(p, path, "not a regular file or directory", n_failed);
        }
        rag_free(path);
    }
}

void ing_files_free(ing_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        rag_free(f->v[i].path);
        rag_free(f->v[i].uri);
    }
    rag_free(f->v);
    rag_strv_free(&f->roots);
    memset(f, 0, sizeof *f);
}

void ing_list(const char *const *paths, size_t n_paths, const ing_params *p, rag_strv *uris,
              size_t *n_failed)
{
    ing_files f = {0};
    ing_walk(paths, n_paths, p, &f, n_failed);
    for (size_t i = 0; i < f.n; i++)
        rag_strv_push(uris, f.v[i].uri);
    ing_files_free(&f);
}
