/* store/vindex_files.c: the files of the vector indexes, beside the
 * database, and how they are written and read safely.
 *
 * What it does: writes the changed group files and then the manifest
 * (vindex_persist), and loads them back, checked, into memory
 * (vindex_load_files). What it owns: the directory DB.vectors/
 *   group-<id>.faiss  the index of one group (FAISS's own format)
 *   manifest          the text that names them (vindex_manifest.c)
 *   lock              flock(2) held by whoever writes files
 * What it calls: vindex_manifest.c (checksum, manifest), vindex_faiss.c
 * (the index to and from a stream), base/file.c (temporary file, fsync,
 * rename, fsync of the directory, atomic write of the manifest).
 *
 * Writers hold the lock, write each changed group file to a temporary name,
 * fsync, rename, fsync the directory, then the manifest
 * (rag_file_write_atomic), then delete what no manifest names (old group
 * files, temporaries of killed writers). Readers take no lock: they read the
 * manifest, then each group file, and use a file only if its size and
 * checksum are the manifest's; the checksum is verified before FAISS parses
 * a byte, so FAISS only ever reads what we wrote. A file that fails (missing,
 * other bytes: a crash between a group file and the manifest, a concurrent
 * writer, damage) is marked for a rebuild from SQLite, alone; the manifest
 * failing (missing, truncated, unknown version, another model or dims)
 * rebuilds all (vindex_sync.c decides). */
#include "store/vindex_int.h"
#include "base/file.h"
#include "base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUF (1u << 20)

/* ---- group files --------------------------------------------------------- */

/* Writes go through a stdio cookie so that FAISS's writer feeds the
 * checksum and the byte count on the way to the file descriptor. */
typedef struct wsink {
    int fd;
    int sys_errno;
    fhash h;
    int64_t bytes;
} wsink;

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    wsink *w = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(w->fd, buf + done, n - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            w->sys_errno = errno;
            return 0; /* stdio reports the stream as failed, FAISS throws */
        }
        done += (size_t)r;
    }
    vindex_hash_update(&w->h, buf, n);
    w->bytes += (int64_t)n;
    return (ssize_t)n;
}

/* group-<id>.faiss: temporary file, fsync, rename (base/file.h). The
 * caller fsyncs the directory once after all groups. */
static int group_write(vindex *vi, vgroup *g, rag_err *err)
{
    char *path = vindex_group_path(vi, g->id);
    char *tmp;
    int rc = 0;
    int fd = rag_file_tmp_open(path, &tmp, err);
    if (fd < 0) {
        rc = RAG_ERR_IO;
        goto out;
    }
    wsink w = {.fd = fd};
    vindex_hash_init(&w.h);
    cookie_io_functions_t io = {.write = sink_write};
    FILE *f = fopencookie(&w, "w", io);
    if (!f) {
        rc = rag_err_sys(err, errno, "%s", tmp);
        rag_file_tmp_discard(fd, tmp);
        goto out;
    }
    setvbuf(f, NULL, _IOFBF, IO_BUF);
    int frc = vindex_idx_write(g->idx, f);
    int crc = fclose(f); /* flushes; the descriptor stays ours */
    if (frc)
        rc = vindex_faiss_fail(err, w.sys_errno ? RAG_ERR_IO : RAG_ERR_INVALID, vi, g->id, "write");
    else if (crc || w.sys_errno)
        rc = rag_err_sys(err, w.sys_errno ? w.sys_errno : EIO, "%s", tmp);
    if (rc) {
        rag_file_tmp_discard(fd, tmp);
        goto out;
    }
    rc = rag_file_tmp_commit(fd, tmp, path, err);
    if (rc) goto out;
    g->file_hash = vindex_hash_final(&w.h);
    g->file_bytes = w.bytes;
    g->dirty = 0;
out:
    rag_free(tmp);
    rag_free(path);
    return rc;
}

/* Reads group-<id>.faiss when its size and checksum are the manifest's and
 * it is an inner-product IndexIDMap2 of dims with mg->count vectors. 0 and
 * g->idx filled, or 1 with *why when the file cannot be used. */
static int group_read(vindex *vi, vgroup *g, const mgroup *mg, const char **why)
{
    int rc;
    char *path = vindex_group_path(vi, g->id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    rag_free(path);
    if (fd < 0) {
        *why = errno == ENOENT ? "file missing" : "file unreadable";
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != mg->bytes) {
        *why = "file size differs from the manifest";
        close(fd);
        return 1;
    }
    /* Checksum first, on the same descriptor FAISS will read: FAISS never
     * parses bytes we did not write. */
    fhash h;
    vindex_hash_init(&h);
    char *buf = rag_xmalloc(IO_BUF);
    int64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, IO_BUF);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r < 0) total = -1;
            break;
        }
        vindex_hash_update(&h, buf, (size_t)r);
        total += r;
    }
    rag_free(buf);
    if (total != mg->bytes || vindex_hash_final(&h) != mg->hash) {
        *why = "checksum differs from the manifest (damaged, or written after it)";
        close(fd);
        return 1;
    }
    FILE *f = lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        *why = "file unreadable";
        close(fd);
        return 1;
    }
    rc = vindex_idx_read(vi, g, f, mg->count, why);
    if (!rc) {
        g->file_hash = mg->hash;
        g->file_bytes = mg->bytes;
        g->dirty = 0;
    }
    fclose(f);
    return rc;
}

/* ---- loading the files (vindex_int.h) ------------------------------------ */

int vindex_load_files(vindex *vi, const store_model *m, rag_strv *why, int *first_use, rag_err *err)
{
    if (first_use) *first_use = 0;
    vindex_reset(vi);
    vi->model_id = m->id;
    vi->dims = m->dims;
    manifest mf;
    const char *reason = NULL;
    int rc = vindex_manifest_read(vi, &mf, &reason, err);
    if (rc < 0) return rc;
    if (rc == 0) {
        if (first_use) *first_use = !strcmp(reason, "no manifest");
        if (why) {
            char *w = rag_xasprintf("%s/manifest: %s", vi->dir, reason);
            rag_strv_push(why, w);
            rag_free(w);
        }
        return 1;
    }
    if (mf.model_id != m->id || mf.dims != m->dims) {
        if (why) {
            char *w =
                rag_xasprintf("%s/manifest: built for model %lld (%d dims), the database "
                              "uses model %lld (%d dims)",
                              vi->dir, (long long)mf.model_id, mf.dims, (long long)m->id, m->dims);
            rag_strv_push(why, w);
            rag_free(w);
        }
        vindex_manifest_free(&mf);
        return 1;
    }
    vi->seq = mf.seq;
    for (size_t i = 0; i < mf.n_g; i++) {
        vgroup *g = vindex_group_get(vi, mf.g[i].id);
        if (group_read(vi, g, &mf.g[i], &reason)) {
            g->rebuild = 1;
            if (why) {
                char *w =
                    rag_xasprintf("%s/group-%lld.faiss: %s", vi->dir, (long long)g->id, reason);
                rag_strv_push(why, w);
                rag_free(w);
            }
        } else {
            vindex_set_ef_search(vi, g);
        }
    }
    vindex_manifest_free(&mf);
    vi->loaded = 1;
    return 0;
}

/* ---- persist ------------------------------------------------------------- */

/* Deletes files no manifest names: group files of groups that are gone and
 * temporaries of writers that were killed. Called under the lock. */
static void remove_stale(vindex *vi)
{
    DIR *d = opendir(vi->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        int stale = strstr(nm, ".tmp.") != NULL;
        long long id;
        char tail[16];
        if (!stale && sscanf(nm, "group-%lld.%15s", &id, tail) == 2 && !strcmp(tail, "faiss"))
            stale = vindex_group_find(vi, id) == NULL;
        if (stale) {
            char *p = rag_xasprintf("%s/%s", vi->dir, nm);
            unlink(p);
            rag_free(p);
        }
    }
    closedir(d);
}

int vindex_persist(vindex *vi, rag_err *err)
{
    int rc = rag_mkdir_p(vi->dir, err);
    if (rc) return rc;
    char *lock_path = rag_xasprintf("%s/lock", vi->dir);
    int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        rc = rag_err_sys(err, errno, "%s", lock_path);
        rag_free(lock_path);
        return rc;
    }
    while (flock(lfd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rc = rag_err_sys(err, errno, "%s: lock", lock_path);
            close(lfd);
            rag_free(lock_path);
            return rc;
        }
    }
    /* What is on disk now (another process may have written since we read):
     * a clean group is rewritten unless the manifest there names its bytes. */
    manifest on = {0};
    const char *why;
    int have = vindex_manifest_read(vi, &on, &why, NULL) == 1 && on.model_id == vi->model_id &&
               on.dims == vi->dims;
    int wrote = 0;
    for (size_t i = 0; !rc && i < vi->n_g; i++) {
        vgroup *g = vi->g[i];
        const mgroup *mg = have ? vindex_manifest_group(&on, g->id) : NULL;
        if (!g->dirty && mg && mg->hash == g->file_hash && mg->bytes == g->file_bytes) {
            char *p = vindex_group_path(vi, g->id);
            struct stat st;
            int same = stat(p, &st) == 0 && st.st_size == g->file_bytes;
            rag_free(p);
            if (same) continue;
        }
        rc = group_write(vi, g, err);
        wrote = 1;
    }
    if (!rc && wrote) rc = rag_fsync_dir(vi->dir, err);
    if (!rc) { /* the manifest last, unless it already says exactly this */
        char *text = vindex_manifest_text(vi), *mp = vindex_manifest_path(vi), *old = NULL;
        size_t old_len = 0;
        int same = !wrote &&
                   rag_file_read(mp, VINDEX_MANIFEST_MAX_BYTES, &old, &old_len, NULL) == 0 &&
                   old_len == strlen(text) && !memcmp(old, text, old_len);
        if (!same) rc = rag_file_write_atomic(mp, text, strlen(text), err);
        rag_free(old);
        rag_free(text);
        rag_free(mp);
    }
    if (!rc) remove_stale(vi);
    vindex_manifest_free(&on);
    flock(lfd, LOCK_UN);
    close(lfd);
    rag_free(lock_path);
    return rc;
}
