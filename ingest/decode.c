/* ingest/decode.c: raw bytes of a text file -> valid UTF-8 (ing_decode_text).
 *
 * The encodings recognised, in order:
 *   - UTF-32 BE/LE and UTF-16 BE/LE with a byte order mark, converted with
 *     iconv; a UTF-8 BOM is stripped.
 *   - UTF-16/32 without BOM, recognised by the NUL bytes that ASCII-range
 *     characters leave at fixed positions (ing_wide_encoding). Text in other
 *     scripts without a BOM cannot be told from binary this way and falls
 *     through to the UTF-8 rules below.
 *   - Otherwise the bytes are validated as UTF-8 in one pass that also counts
 *     valid multi-byte sequences and C0 control characters. The rule:
 *       * no invalid sequence: UTF-8 as is;
 *       * invalid sequences but not one valid multi-byte sequence, and no C0
 *         control other than \t \n \r \f: the file was never UTF-8, it is a
 *         legacy 8-bit text. Decoded as Windows-1252 (a superset of the
 *         printable ISO-8859-1 range, and what "Latin-1" files usually are);
 *         the five bytes CP1252 leaves undefined are read as ISO-8859-1;
 *       * at most one invalid sequence per 100 bytes (a single one always
 *         qualifies): UTF-8 with a few damaged bytes; each is replaced by
 *         U+FFFD and counted in *n_repaired;
 *       * more, and no C0 control: Windows-1252 again;
 *       * more, with C0 controls: not text; RAG_ERR_FORMAT saying how much
 *         is invalid and where the first bad byte is.
 *
 * Limits: a line (bytes of the file between line breaks: LF, CR LF or a lone
 * CR) longer than lim->max_line fails with RAG_ERR_LIMIT during the scan,
 * before anything is converted; the decoded text may not exceed
 * lim->max_text bytes (checked before or while converting, never after
 * building a large buffer). Offsets in messages are offsets in the file. */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

#define SNIFF_BYTES 8192
#define CONVERT_CHUNK 65536

const char *ing_wide_encoding(const uint8_t *d, size_t n)
{
    size_t lim = n < SNIFF_BYTES ? n : SNIFF_BYTES;
    if (lim < 4) return NULL;
    size_t nul[4] = {0}, cnt[4] = {0};
    for (size_t i = 0; i < lim; i++) {
        cnt[i & 3]++;
        if (!d[i]) nul[i & 3]++;
    }
    /* UTF-32 first: its pattern also fits the UTF-16 one. Bytes 2 and 3 of
     * each LE unit are NUL for every character below U+10000, byte 0 only
     * for U+0000 itself: ask for 90 % and almost no NUL in byte 0. */
    if (nul[2] * 10 >= cnt[2] * 9 && nul[3] * 10 >= cnt[3] * 9 && nul[0] * 20 <= cnt[0])
        return "UTF-32LE";
    if (nul[0] * 10 >= cnt[0] * 9 && nul[1] * 10 >= cnt[1] * 9 && nul[3] * 20 <= cnt[3])
        return "UTF-32BE";
    size_t ev_n = nul[0] + nul[2], od_n = nul[1] + nul[3];
    size_t ev_c = cnt[0] + cnt[2], od_c = cnt[1] + cnt[3];
    /* UTF-16LE: the high byte (odd offsets) is NUL for most characters, the
     * low byte almost never; at least 60 % so that binary data with NULs
     * here and there does not qualify. */
    if (od_n * 10 >= od_c * 6 && ev_n * 20 <= ev_c) return "UTF-16LE";
    if (ev_n * 10 >= ev_c * 6 && od_n * 20 <= od_c) return "UTF-16BE";
    return NULL;
}

static const char *name_of(const char *path)
{
    return path ? path : "(input)";
}

static int line_too_long(rag_err *err, const char *path, size_t line_no, size_t line_start,
                         size_t max_line)
{
    return rag_err_set(err, RAG_ERR_LIMIT,
                       "%s: line %zu is longer than %zu bytes (no line break from offset %zu)",
                       name_of(path), line_no, max_line, line_start);
}

static int text_too_large(rag_err *err, const char *path, size_t max_text)
{
    return rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                       name_of(path), max_text);
}

/* ---- conversion through iconv -------------------------------------------- */

enum conv_mode {
    CONV_WIDE,   /* UTF-16/32: an invalid unit (lone surrogate...) becomes U+FFFD */
    CONV_CP1252, /* a byte CP1252 leaves undefined is read as ISO-8859-1 */
};

/* Converts in[0..n) with `cd` and appends UTF-8 to out, failing with
 * RAG_ERR_LIMIT as soon as more than max_out bytes were produced. `unit` is
 * the input code unit size (1, 2 or 4). Replacements go to *n_repl. */
static int convert(iconv_t cd, enum conv_mode mode, size_t unit, const uint8_t *in, size_t n,
                   rag_buf *out, size_t max_out, size_t *n_repl, const char *path, rag_err *err)
{
    size_t base = out->len;
    char *ip = (char *)in; /* iconv's prototype is not const-correct */
    size_t ileft = n;
    while (ileft > 0) {
        size_t take = ileft < CONVERT_CHUNK ? ileft : CONVERT_CHUNK;
        size_t rest = ileft - take; /* input held back for the next round */
        rag_buf_reserve(out, take * 4 + 8);
        char *op = out->data + out->len;
        size_t oleft = out->cap - out->len - 1; /* keep room for the NUL */
        size_t r = iconv(cd, &ip, &take, &op, &oleft);
        out->len = (size_t)(op - out->data);
        ileft = take + rest;
        if (r == (size_t)-1) {
            if (errno == E2BIG) continue; /* room is made on the next round */
            int incomplete = errno == EINVAL;
            if (incomplete && rest > 0) continue; /* a sequence split by the chunking */
            if (mode == CONV_CP1252) {
                /* 0x81 0x8D 0x8F 0x90 0x9D: ISO-8859-1 says U+0081.. (C1
                 * controls, dropped by normalisation later) */
                char enc[4];
                rag_buf_append(out, enc, rag_utf8_encode((uint8_t)*ip, enc));
                ip++, ileft--;
            } else {
                size_t skip = incomplete ? ileft : (unit < ileft ? unit : ileft);
                rag_buf_append(out, "\xEF\xBF\xBD", 3);
                (*n_repl)++;
                ip += skip, ileft -= skip;
            }
        }
        if (out->len - base > max_out) return text_too_large(err, path, max_out);
    }
    if (out->data) out->data[out->len] = 0;
    return 0;
}

static int convert_with(const char *from, enum conv_mode mode, size_t unit, const uint8_t *in,
                        size_t n, rag_buf *out, size_t max_out, size_t *n_repl, const char *path,
                        rag_err *err)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: cannot convert from %s (iconv: %s)",
                           name_of(path), from, strerror(errno));
    int rc = convert(cd, mode, unit, in, n, out, max_out, n_repl, path, err);
    iconv_close(cd);
    return rc;
}

/* ---- UTF-16 / UTF-32 ------------------------------------------------------ */

static uint32_t unit_at(const uint8_t *p, size_t unit, int big)
{
    if (unit == 2) return big ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* UTF-8 length of a code unit (a surrogate counts 2: a pair makes 4). */
static size_t utf8_len_of_unit(uint32_t v)
{
    if (v < 0x80) return 1;
    if (v < 0x800) return 2;
    if (v >= 0xD800 && v <= 0xDFFF) return 2;
    if (v < 0x10000) return 3;
    return v <= 0x10FFFF ? 4 : 3; /* invalid: U+FFFD */
}

static int decode_wide(const char *path, const char *enc, size_t start, const uint8_t *data,
                       size_t n, const ing_limits *lim, rag_buf *out, size_t *n_repaired,
                       rag_err *err)
{
    size_t unit = strstr(enc, "32") ? 4 : 2;
    int big = strstr(enc, "BE") != NULL;
    /* Pass 1: line lengths (in file bytes) and the exact UTF-8 size, so that
     * nothing is converted when a limit would be hit. */
    size_t line_no = 1, line_start = start, est = 0;
    for (size_t i = start; i + unit <= n; i += unit) {
        uint32_t v = unit_at(data + i, unit, big);
        est += utf8_len_of_unit(v);
        if (v == '\n' ||
            (v == '\r' && !(i + 2 * unit <= n && unit_at(data + i + unit, unit, big) == '\n'))) {
            line_no++;
            line_start = i + unit;
        } else if (i + unit - line_start > lim->max_line) {
            return line_too_long(err, path, line_no, line_start, lim->max_line);
        }
    }
    if (est > lim->max_text) return text_too_large(err, path, lim->max_text);
    /* Pass 2: convert (a trailing odd byte becomes one U+FFFD). */
    size_t repl = 0;
    int rc = convert_with(enc, CONV_WIDE, unit, data + start, n - start, out, lim->max_text, &repl,
                          path, err);
    *n_repaired += repl;
    return rc;
}

/* ---- UTF-8 and 8-bit ------------------------------------------------------ */

typedef struct scan_result {
    size_t n_bad;       /* invalid sequences */
    size_t bad_bytes;   /* bytes in them */
    size_t first_bad;   /* file offset of the first, SIZE_MAX when none */
    size_t n_multibyte; /* valid sequences of 2-4 bytes */
    size_t out_len;     /* UTF-8 size after repair */
    int has_c0;         /* C0 control other than \t \n \r \f */
} scan_result;

static int scan_utf8(const char *path, const uint8_t *d, size_t start, size_t n,
                     const ing_limits *lim, scan_result *s, rag_err *err)
{
    memset(s, 0, sizeof *s);
    s->first_bad = SIZE_MAX;
    size_t line_no = 1, line_start = start, i = start;
    while (i < n) {
        uint8_t c = d[i];
        if (c < 0x80) {
            i++;
            if (c == '\n' || (c == '\r' && !(i < n && d[i] == '\n'))) {
                line_no++;
                line_start = i;
                continue;
            }
            if (c < 0x20 && c != '\t' && c != '\r' && c != '\f') s->has_c0 = 1;
        } else {
            int32_t cp;
            size_t l = rag_utf8_decode(d + i, n - i, &cp);
            if (l) {
                s->n_multibyte++;
                i += l;
            } else {
                /* same extent as rag_utf8_repair: lead byte + continuations */
                if (s->first_bad == SIZE_MAX) s->first_bad = i;
                s->n_bad++;
                size_t j = i + 1;
                while (j < n && (d[j] & 0xC0) == 0x80)
                    j++;
                s->bad_bytes += j - i;
                i = j;
            }
        }
        if (i - line_start > lim->max_line)
            return line_too_long(err, path, line_no, line_start, lim->max_line);
    }
    s->out_len = (n - start) - s->bad_bytes + 3 * s->n_bad;
    return 0;
}

int ing_decode_text(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    rag_buf *out, size_t *n_repaired, rag_err *err)
{
    size_t repaired_dummy = 0;
    if (!n_repaired) n_repaired = &repaired_dummy;
    *n_repaired = 0;
    if (n == 0) return 0;

    /* Byte order marks. FF FE 00 00 is read as UTF-32LE: UTF-16LE text
     * starting with U+0000 is not worth the ambiguity. */
    if (n >= 4 && !memcmp(data, "\0\0\xfe\xff", 4))
        return decode_wide(path, "UTF-32BE", 4, data, n, lim, out, n_repaired, err);
    if (n >= 4 && !memcmp(data, "\xff\xfe\0\0", 4))
        return decode_wide(path, "UTF-32LE", 4, data, n, lim, out, n_repaired, err);
    if (n >= 2 && data[0] == 0xff && data[1] == 0xfe)
        return decode_wide(path, "UTF-16LE", 2, data, n, lim, out, n_repaired, err);
    if (n >= 2 && data[0] == 0xfe && data[1] == 0xff)
        return decode_wide(path, "UTF-16BE", 2, data, n, lim, out, n_repaired, err);
    size_t start = 0;
    if (n >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
        start = 3;
    } else {
        const char *wide = ing_wide_encoding(data, n);
        if (wide) return decode_wide(path, wide, 0, data, n, lim, out, n_repaired, err);
    }

    scan_result s;
    int rc = scan_utf8(path, data, start, n, lim, &s, err);
    if (rc) return rc;
    size_t len = n - start;
    if (s.n_bad == 0) {
        if (len > lim->max_text) return text_too_large(err, path, lim->max_text);
        rag_buf_append(out, data + start, len);
        return 0;
    }
    int legacy = s.n_multibyte == 0 && !s.has_c0;
    int few = s.n_bad <= len / 100 || s.n_bad == 1;
    if (!legacy && few) {
        if (s.out_len > lim->max_text) return text_too_large(err, path, lim->max_text);
        *n_repaired += rag_utf8_repair(data + start, len, out, NULL);
        return 0;
    }
    if (legacy || !s.has_c0) {
        size_t unused = 0;
        return convert_with("CP1252", CONV_CP1252, 1, data + start, len, out, lim->max_text,
                            &unused, path, err);
    }
    size_t pct = s.bad_bytes * 100 / len;
    return rag_err_set(err, RAG_ERR_FORMAT,
                       "%s: not valid text: %zu%% of bytes are invalid UTF-8 (first at offset %zu)",
                       name_of(path), pct ? pct : 1, s.first_bad);
}
