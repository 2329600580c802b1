/* base/file.c: file helpers. */
#include "base/file.h"
#include "base/buf.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int rag_file_map(const char *path, size_t max_size, rag_map *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rag_err_sys(err, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return rag_err_sys(err, e, "%s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return rag_err_set(err, RAG_ERR_INVALID, "%s: not a regular file", path);
    }
    if (max_size && (uint64_t)st.st_size > max_size) {
        close(fd);
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: file is %lld bytes, over the limit of %zu",
                           path, (long long)st.st_size, max_size);
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    if ((uint64_t)st.st_size <= RAG_MAP_READ_MAX) {
        uint8_t *d = rag_xmalloc((size_t)st.st_size + 1);
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, d + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                int e = errno;
                close(fd);
                rag_free(d);
                return rag_err_sys(err, e, "%s: read", path);
            }
            if (r == 0) break; /* the file shrank meanwhile: what is there */
            got += (size_t)r;
        }
        close(fd);
        d[got] = 0;
        out->data = got ? d : NULL;
        out->size = got;
        out->mapped = got ? 2 : 0;
        if (!got) rag_free(d);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return rag_err_sys(err, e, "%s: mmap", path);
    out->data = p;
    out->size = (size_t)st.st_size;
    out->mapped = 1;
    return 0;
}

void rag_file_unmap(rag_map *m)
{
    if (m->mapped == 1 && m->data) munmap((void *)m->data, m->size);
    if (m->mapped == 2) rag_free((void *)m->data);
    memset(m, 0, sizeof *m);
}

int rag_file_read(const char *path, size_t max_size, char **out, size_t *out_len, rag_err *err)
{
    rag_map m;
    int rc = rag_file_map(path, max_size, &m, err);
    if (rc) return rc;
    char *d = rag_xmalloc(m.size + 1);
    if (m.size) memcpy(d, m.data, m.size);
    d[m.size] = 0;
    if (out_len) *out_len = m.size;
    *out = d;
    rag_file_unmap(&m);
    return 0;
}

int rag_fsync_dir(const char *dir, rag_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);
    int e = errno;
    if (fd >= 0) close(fd);
    return rc < 0 ? rag_err_sys(err, e, "%s: fsync", dir) : 0;
}

int rag_file_tmp_open(const char *path, char **tmp, rag_err *err)
{
    *tmp = rag_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) rag_err_sys(err, errno, "%s", *tmp);
    return fd;
}

int rag_file_tmp_commit(int fd, const char *tmp, const char *path, rag_err *err)
{
    int rc = 0;
    if (fsync(fd) < 0) rc = rag_err_sys(err, errno, "%s: fsync", tmp);
    if (close(fd) < 0 && !rc) rc = rag_err_sys(err, errno, "%s", tmp);
    if (!rc && rename(tmp, path) < 0) rc = rag_err_sys(err, errno, "%s", path);
    if (rc) unlink(tmp);
    return rc;
}

void rag_file_tmp_discard(int fd, const char *tmp)
{
    if (fd >= 0) close(fd);
    unlink(tmp);
}

int rag_file_write_atomic(const char *path, const void *data, size_t len, rag_err *err)
{
    char *tmp;
    int fd = rag_file_tmp_open(path, &tmp, err);
    if (fd < 0) {
        rag_free(tmp);
        return RAG_ERR_IO;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            rag_file_tmp_discard(fd, tmp);
            rag_free(tmp);
            return rag_err_sys(err, e, "%s", path);
        }
        p += w;
        left -= (size_t)w;
    }
    int rc = rag_file_tmp_commit(fd, tmp, path, err);
    rag_free(tmp);
    if (rc) return rc;
    /* A failed fsync of the directory is not reported: the file is whole. */
    char *copy = rag_xstrdup(path);
    rag_fsync_dir(dirname(copy), NULL);
    rag_free(copy);
    return 0;
}

int rag_mkdir_p(const char *path, rag_err *err)
{
    char *p = rag_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rag_err_sys(err, errno, "%s", p);
            rag_free(p);
            return RAG_ERR_IO;
        }
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST) {
        rag_err_sys(err, errno, "%s", p);
        rag_free(p);
        return RAG_ERR_IO;
    }
    rag_free(p);
    return 0;
}
