/* ingest/archive.c: archives and compressed files, read with libarchive.
 *
 * ing_archive_members walks a zip, tar (plain or compressed), 7z, rar, cpio
 * or ISO image from memory and hands each regular file to the caller with
 * its bytes; directories, links and device files are passed over. Names are
 * normalised: UTF-8 (invalid bytes and control characters become '_'), no
 * leading '/', no empty, "." or ".." parts, so "../../etc/x" is "etc/x" and
 * a member's uri stays inside its container's.
 *
 * A compressed file that holds no archive (README.gz) is read by
 * libarchive's "raw" format: as a document (ing_decompress, from
 * ing_extract) or, when what it holds is itself a container (x.zip.gz), as
 * a container of one member named without the suffix.
 *
 * Limits (ing_limits) against compression bombs, checked while the bytes
 * come out of the decompressor, so nothing over a limit is ever held:
 *   max_member        bytes of one member: that member fails, the walk goes on
 *   max_member_ratio  uncompressed/compressed of a member once it is over
 *                     1 MiB: that member fails (the compressed size is what
 *                     the reader consumed meanwhile, +64 KiB of read-ahead)
 *   max_container     bytes of all members: the container fails
 *   max_members       regular files: the container fails
 * Every message names the container, the member and the limit. */
#include "ingest/ing_int.h"

#include "base/mem.h"
#include "base/utf8.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <strings.h>

#define READ_BLOCK 65536              /* bytes handed to libarchive per read */
#define RATIO_FLOOR ((size_t)1 << 20) /* the ratio is checked above this size */
#define MAX_RETRIES 64                /* ARCHIVE_RETRY answers in a row */

/* ---- compression --------------------------------------------------------- */

int ing_is_compressed(const uint8_t *d, size_t n)
{
    if (n >= 2 && d[0] == 0x1f && (d[1] == 0x8b || d[1] == 0x9d)) return 1; /* gzip, compress */
    if (n >= 10 && !memcmp(d, "BZh", 3) && d[3] >= '1' && d[3] <= '9' &&
        (!memcmp(d + 4, "\x31\x41\x59\x26\x53\x59", 6) ||
         !memcmp(d + 4, "\x17\x72\x45\x38\x50\x90", 6)))
        return 1; /* bzip2 */
    if (n >= 6 && !memcmp(d,
                          "\xfd"
                          "7zXZ\0",
                          6))
        return 1;                                              /* xz */
    if (n >= 4 && !memcmp(d, "\x28\xb5\x2f\xfd", 4)) return 1; /* zstd */
    if (n >= 4 && !memcmp(d, "\x04\x22\x4d\x18", 4)) return 1; /* lz4 */
    return 0;
}

/* path without its compression suffix: "a/README.gz" -> "a/README",
 * "x.tgz" -> "x.tar"; NULL for NULL. */
static char *strip_suffix(const char *path)
{
    if (!path) return NULL;
    static const struct {
        const char *suf, *repl;
    } s[] = {{".gz", ""},      {".gzip", ""},    {".bz2", ""},      {".bz", ""},
             {".xz", ""},      {".zst", ""},     {".zstd", ""},     {".lz4", ""},
             {".Z", ""},       {".tgz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"},
             {".txz", ".tar"}, {".tzst", ".tar"}};
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        size_t l = strlen(s[i].suf);
        if (n > l && !strcasecmp(path + n - l, s[i].suf) && path[n - l - 1] != '/')
            return rag_xasprintf("%.*s%s", (int)(n - l), path, s[i].repl);
    }
    return rag_xstrdup(path);
}

static struct archive *open_raw(const uint8_t *data, size_t n)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    archive_read_support_format_empty(a);
    if (archive_read_open_memory2(a, data, n, READ_BLOCK) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* Reads the current entry's data into out (cleared first). `whole`: the
 * compressed size when the entry is the whole input (raw), else 0 (measured
 * from the reader's position). *total counts the container's bytes.
 * Returns 0; 1 when this member fails (err set, the walk may go on); -1
 * when the container fails (err set). */
static int read_member(struct archive *a, const char *cname, const char *mname, size_t whole,
                       const ing_limits *lim, size_t *total, rag_buf *out, rag_err *err)
{
    /* messages name "container!/member", or the compressed file alone */
    const char *sep = mname ? "!/" : "";
    if (!mname) mname = "";
    rag_buf_clear(out);
    int64_t c0 = archive_filter_bytes(a, -1);
    for (;;) {
        rag_buf_reserve(out, READ_BLOCK);
        la_ssize_t k = archive_read_data(a, out->data + out->len, READ_BLOCK);
        if (k == 0) break;
        if (k < 0) {
            const char *why = archive_error_string(a);
            rag_err_set(err, RAG_ERR_FORMAT, "%s%s%s: corrupt data at byte %zu: %s", cname, sep,
                        mname, out->len, why ? why : "read error");
            return k == ARCHIVE_FATAL ? -1 : 1;
        }
        out->len += (size_t)k;
        *total += (size_t)k;
        if (out->len > lim->max_member)
            return rag_err_set(err, RAG_ERR_LIMIT,
                               "%s%s%s: over the limit of %zu bytes uncompressed "
                               "(max_member, --max-size)",
                               cname, sep, mname, lim->max_member),
                   1;
        if (*total > lim->max_container)
            return rag_err_set(err, RAG_ERR_LIMIT,
                               "%s: its members hold over %zu bytes uncompressed (max_container), "
                               "stopped in %s",
                               cname, lim->max_container, mname),
                   -1;
        if (out->len > RATIO_FLOOR && lim->max_member_ratio) {
            int64_t c = whole ? (int64_t)whole : archive_filter_bytes(a, -1) - c0;
            uint64_t comp = (uint64_t)(c > 0 ? c : 0) + (whole ? 0 : READ_BLOCK);
            if ((uint64_t)out->len > comp * lim->max_member_ratio)
                return rag_err_set(err, RAG_ERR_LIMIT,
                                   "%s%s%s: compression ratio over the limit of %u "
                                   "(max_member_ratio): %zu bytes out of about %llu, a "
                                   "compression bomb?",
                                   cname, sep, mname, lim->max_member_ratio, out->len,
                                   (unsigned long long)comp),
                       1;
        }
    }
    return 0;
}

int ing_decompress(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                   rag_buf *out, char **inner_name, const char **filter, rag_err *err)
{
    *inner_name = NULL;
    *filter = NULL;
    if (!ing_is_compressed(data, n)) return 0;
    const char *name = path ? path : "(input)";
    struct archive *a = open_raw(data, n);
    if (!a) return rag_err_set(err, RAG_ERR_FORMAT, "%s: not readable as compressed data", name);
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    int rc = 0;
    if (archive_filter_count(a) < 2) {
        archive_read_free(a);
        return 0;
    }
    static char fname[32];
    const char *fn = archive_filter_name(a, 0);
    snprintf(fname, sizeof fname, "%s", fn ? fn : "compressed");
    *filter = fname;
    if (r == ARCHIVE_EOF) { /* empty content */
        archive_read_free(a);
        *inner_name = strip_suffix(path);
        return 1;
    }
    if (r < ARCHIVE_WARN) {
        const char *why = archive_error_string(a);
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s data: %s", name, fname,
                         why ? why : "unreadable header");
        archive_read_free(a);
        return rc;
    }
    char *inner = strip_suffix(path);
    size_t total = 0;
    ing_limits l = *lim;
    l.max_container = (size_t)-1;
    rag_err rerr = {0};
    r = read_member(a, name, NULL, n, &l, &total, out, &rerr);
    archive_read_free(a);
    if (r) {
        rag_free(inner);
        if (err) *err = rerr;
        return rerr.code ? rerr.code : RAG_ERR_FORMAT;
    }
    *inner_name = inner;
    return 1;
}

int ing_decompress_head(const uint8_t *data, size_t n, size_t max, rag_buf *out, rag_err *err)
{
    struct archive *a = open_raw(data, n);
    if (!a) return rag_err_set(err, RAG_ERR_FORMAT, "not readable as compressed data");
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    int rc = 0;
    if (r == ARCHIVE_EOF) goto out;
    if (r < ARCHIVE_WARN) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "corrupt compressed data");
        goto out;
    }
    while (out->len < max) {
        rag_buf_reserve(out, max - out->len);
        la_ssize_t k = archive_read_data(a, out->data + out->len, max - out->len);
        if (k == 0) break;
        if (k < 0) {
            rc = out->len ? 0 : rag_err_set(err, RAG_ERR_FORMAT, "corrupt compressed data");
            break;
        }
        out->len += (size_t)k;
    }
out:
    archive_read_free(a);
    return rc;
}

/* ---- archives ------------------------------------------------------------ */

static int is_archive_format(int fmt)
{
    switch (fmt & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_TAR:
    case ARCHIVE_FORMAT_ZIP:
    case ARCHIVE_FORMAT_7ZIP:
    case ARCHIVE_FORMAT_CPIO:
    case ARCHIVE_FORMAT_ISO9660:
    case ARCHIVE_FORMAT_RAR:
    case ARCHIVE_FORMAT_RAR_V5:
    case ARCHIVE_FORMAT_CAB:
    case ARCHIVE_FORMAT_LHA:
    case ARCHIVE_FORMAT_XAR:
        return 1;
    }
    return 0;
}

int ing_is_archive(const uint8_t *data, size_t n)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    int yes = 0;
    if (archive_read_open_memory2(a, data, n, READ_BLOCK) == ARCHIVE_OK) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        yes = (r == ARCHIVE_OK || r == ARCHIVE_WARN) && is_archive_format(archive_format(a));
    }
    archive_read_free(a);
    return yes;
}

/* The member's name, normalised (see the top); NULL when nothing is left. */
static char *normalise_name(const char *raw)
{
    if (!raw) return NULL;
    rag_buf b = {0};
    const uint8_t *s = (const uint8_t *)raw;
    size_t n = strlen(raw);
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == '/')
            i++;
        size_t st = i;
        while (i < n && s[i] != '/')
            i++;
        size_t l = i - st;
        if (l == 0 || (l == 1 && s[st] == '.') || (l == 2 && s[st] == '.' && s[st + 1] == '.'))
            continue;
        if (b.len) rag_buf_putc(&b, '/');
        for (size_t j = st; j < i;) {
            int32_t cp;
            size_t k = rag_utf8_decode(s + j, i - j, &cp);
            if (!k || cp < 0x20 || cp == 0x7f) {
                rag_buf_putc(&b, '_');
                j += k ? k : 1;
            } else {
                rag_buf_append(&b, s + j, k);
                j += k;
            }
        }
    }
    if (!b.len) {
        rag_buf_free(&b);
        return NULL;
    }
    return rag_buf_steal(&b);
}

int ing_archive_members(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                        ing_member_fn fn, void *ctx, rag_err *err)
{
    ing_limits defaults;
    if (!lim) {
        ing_limits_default(&defaults);
        lim = &defaults;
    }
    const char *cname = path ? path : "(input)";
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    archive_read_support_format_raw(a);
    if (archive_read_open_memory2(a, data, n, READ_BLOCK) != ARCHIVE_OK) {
        const char *why = archive_error_string(a);
        int rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: not a readable archive: %s", cname,
                             why ? why : "unknown format");
        archive_read_free(a);
        return rc;
    }
    rag_buf buf = {0};
    rag_err merr;
    size_t total = 0, n_members = 0, n_entries = 0;
    int rc = 0, retries = 0;
    char *last = NULL;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r == ARCHIVE_RETRY && ++retries < MAX_RETRIES) continue;
        if (r < ARCHIVE_WARN) {
            const char *why = archive_error_string(a);
            if (last)
                rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt archive after member %s: %s",
                                 cname, last, why ? why : "unreadable header");
            else
                rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt or unknown archive: %s", cname,
                                 why ? why : "unreadable header");
            break;
        }
        retries = 0;
        n_entries++;
        int raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
        if (!raw && (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))) continue;
        if (raw && archive_filter_count(a) < 2) {
            rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: not an archive libarchive reads", cname);
            break;
        }
        char *name;
        if (raw) {
            char *inner = strip_suffix(path);
            const char *base = inner ? strrchr(inner, '/') : NULL;
            name = rag_xstrdup(base ? base + 1 : inner && *inner ? inner : "data");
            rag_free(inner);
        } else {
            const char *pn = archive_entry_pathname_utf8(e);
            name = normalise_name(pn ? pn : archive_entry_pathname(e));
        }
        if (!name) name = rag_xasprintf("member-%zu", n_entries);
        rag_free(last);
        last = name;
        if (++n_members > lim->max_members) {
            rc = rag_err_set(err, RAG_ERR_LIMIT,
                             "%s: more than %zu members (max_members), stopped at %s", cname,
                             lim->max_members, name);
            break;
        }
        ing_member m = {.name = name};
        if (archive_entry_mtime_is_set(e))
            m.mtime_ns = (int64_t)archive_entry_mtime(e) * 1000000000 + archive_entry_mtime_nsec(e);
        memset(&merr, 0, sizeof merr);
        int mr;
        if (archive_entry_is_encrypted(e)) {
            rag_err_set(&merr, RAG_ERR_UNSUPPORTED, "%s!/%s: encrypted member, not read", cname,
                        name);
            mr = 1;
        } else if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
                   (uint64_t)archive_entry_size(e) > lim->max_member) {
            rag_err_set(&merr, RAG_ERR_LIMIT,
                        "%s!/%s: the member is %lld bytes uncompressed, over the limit of %zu "
                        "(max_member, --max-size)",
                        cname, name, (long long)archive_entry_size(e), lim->max_member);
            mr = 1;
        } else {
            mr = read_member(a, cname, name, raw ? n : 0, lim, &total, &buf, &merr);
        }
        if (mr < 0) {
            if (merr.code == RAG_ERR_FORMAT) {
                /* the member's data broke the stream: report it, then the container */
                m.fail = merr.code;
                m.fail_msg = merr.msg;
                rc = fn(ctx, &m, err);
                if (rc) break;
                rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt archive at member %s", cname,
                                 name);
            } else {
                if (err) *err = merr;
                rc = merr.code;
            }
            break;
        }
        if (mr > 0) {
            m.fail = merr.code ? merr.code : RAG_ERR_FORMAT;
            m.fail_msg = merr.msg;
        } else {
            m.data = buf.len ? (const uint8_t *)buf.data : (const uint8_t *)"";
            m.n = buf.len;
        }
        rc = fn(ctx, &m, err);
        if (rc) break;
    }
    rag_free(last);
    rag_buf_free(&buf);
    archive_read_free(a);
    return rc;
}
