/* ingest/extract.c: the extraction entry point (ing_extract), the default
 * limits, and the title fallback.
 *
 * ing_extract only dispatches and does what is common to all formats: an
 * empty file, an unknown type, a document that yields no text, and the title
 * of a document that declares none (its first heading, first line or file
 * name), given here once after the extractor. The format-specific rules live
 * in extract_text.c, markdown.c, html.c, docx.c, pptx.c, xlsx.c, pdf.c,
 * email.c, odf.c, epub.c, rtf.c and ocr.c, which call nothing of this file
 * but ing_is_blank. */
#include "ingest/ing_int.h"

#include "base/mem.h"
#include "base/utf8.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void ing_limits_default(ing_limits *l)
{
    l->max_line = (size_t)1 << 20;       /* 1 MiB: minified blobs, not prose */
    l->max_text = (size_t)64 << 20;      /* 64 MiB of extracted text */
    l->max_unzipped = (size_t)256 << 20; /* OOXML members read, in total */
    l->max_zip_ratio = 200;              /* real documents compress < 20x */
    l->pdf_cpu_s = 30;
    l->pdf_mem = (size_t)1 << 30; /* 1 GiB of address space */
    l->pdf_timeout_s = 60;
    l->max_member = (size_t)256 << 20;  /* like --max-size; the pipeline sets that */
    l->max_container = (size_t)1 << 30; /* 1 GiB out of one archive */
    l->max_member_ratio = 250;          /* text compresses < 20x, logs < 100x */
    l->max_members = 100000;
    l->max_depth = 3; /* a.zip!/b.tar!/c.zip!/doc */
    l->ocr_mode = ING_OCR_AUTO;
    l->ocr_languages = NULL;      /* eng when installed, else all */
    l->ocr_cpu_s = 300;           /* a page takes a few seconds */
    l->ocr_mem = (size_t)2 << 30; /* 2 GiB: tesseract and a 300 dpi page */
    l->ocr_timeout_s = 600;
    l->ocr_max_pages = 100;        /* pages of one PDF */
    l->ocr_max_pixels = 100000000; /* an A3 page at 600 dpi is 70 million */
}

/* ---- the title fallback ------------------------------------------------- */

static int is_ascii_space(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int ing_is_blank(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF) d += 3, n -= 3;
    if (n >= 2 && n % 2 == 0 &&
        ((d[0] == 0xFF && d[1] == 0xFE) || (d[0] == 0xFE && d[1] == 0xFF))) {
        int le = d[0] == 0xFF;
        for (size_t i = 2; i < n; i += 2) {
            unsigned c = le ? d[i] | (unsigned)d[i + 1] << 8 : (unsigned)d[i] << 8 | d[i + 1];
            if (!is_ascii_space(c)) return 0;
        }
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_ascii_space(d[i])) return 0;
    return 1;
}

/* s starts with p, ASCII letters compared without case. */
static int starts_ci(const char *s, const char *p)
{
    return !strncasecmp(s, p, strlen(p));
}

static int has_word_char(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rag_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!l) return 0;
        if (rag_cp_is_word(cp)) return 1;
        i += l;
    }
    return 0;
}

static int is_url(const char *s)
{
    if (*s == '<') s++;
    if (starts_ci(s, "www.") || starts_ci(s, "mailto:")) return 1;
    size_t i = 0;
    if (!isalpha((unsigned char)s[0])) return 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '.' || s[i] == '-')
        i++;
    return !strncmp(s + i, "://", 3);
}

/* The length of the key of a `Key: value` header at s (letters, digits, '-'
 * and '_', starting with a letter, then ": " or ":" at the end), or 0. */
static size_t header_key(const char *s, size_t n)
{
    size_t k = 0;
    if (!n || !isalpha((unsigned char)s[0])) return 0;
    while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '-' || s[k] == '_'))
        k++;
    if (k < n && s[k] == ':' && (k + 1 == n || s[k + 1] == ' ' || s[k + 1] == '\t')) return k;
    return 0;
}

/* A licence notice: "Copyright (C) 2003 ...", "Copyright 2001 ...",
 * "Copyright: 2001 ...", "Copyright by ...", but not a title such as
 * "Copyright, Public Policy, and Information Technology". */
static int copyright_notice(const char *s)
{
    if (!starts_ci(s, "copyright")) return 0;
    s += 9;
    while (*s == ' ' || *s == ':')
        s++;
    return starts_ci(s, "(c)") || starts_ci(s, "\xC2\xA9") || isdigit((unsigned char)*s) ||
           starts_ci(s, "by ") || starts_ci(s, "notice") || !*s;
}

/* The title that line (normalised, one line) gives: a pointer into it, or
 * NULL when it is not a title. next is the line after it in the same
 * paragraph (next_len 0: none). */
static const char *title_of_line(const char *s, const char *next, size_t next_len)
{
    /* Markdown-style heading marks in plain text: "# Intro" is "Intro". */
    if (s[0] == '#' && s[1] != '!') {
        const char *p = s;
        while (*p == '#')
            p++;
        if (*p == ' ') {
            while (*p == ' ')
                p++;
            s = p;
        }
    }
    if (!has_word_char(s)) return NULL; /* "#", "/////", "----" */
    if (is_url(s)) return NULL;
    /* code comments and directives, editor modelines */
    static const char *const code[] = {"//",     "/*",    "*/",   "(*",           "{",
                                       "<!",     "<?",    "#!",   ";;",           "dnl ",
                                       ".\\\"",  "'\\\"", ".. ",  "=head",        "=pod",
                                       "=begin", "@echo", "@(#)", "'use strict'", "\"use strict\"",
                                       NULL};
    for (size_t i = 0; code[i]; i++)
        if (starts_ci(s, code[i])) return NULL;
    if (strstr(s, "-*-") || starts_ci(s, "vim:") || starts_ci(s, "vi:")) return NULL;
    /* #include, #define; <tag ...>; :rst-field:; an [ini] section */
    if (s[0] == '#' && islower((unsigned char)s[1])) return NULL;
    if (s[0] == '<' && isalpha((unsigned char)s[1])) return NULL;
    size_t n = strlen(s);
    if (s[0] == ':' && n > 2) {
        size_t k = 1;
        while (isalnum((unsigned char)s[k]) || s[k] == '-' || s[k] == '_')
            k++;
        if (k > 1 && s[k] == ':' && (s[k + 1] == ' ' || !s[k + 1])) return NULL;
    }
    if (s[0] == '[' && s[n - 1] == ']' &&
        strspn(s + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ._-") ==
            n - 2)
        return NULL;
    /* licence headers */
    static const char *const lic[] = {"(c) ",
                                      "\xC2\xA9",
                                      "spdx-",
                                      "licensed under",
                                      "licensed to",
                                      "this program is free software",
                                      "this library is free software",
                                      "this file is part of",
                                      "this file is free software",
                                      "permission is hereby granted",
                                      "permission to use, copy",
                                      "redistribution and use",
                                      "the above copyright",
                                      NULL};
    for (size_t i = 0; lic[i]; i++)
        if (starts_ci(s, lic[i])) return NULL;
    if (copyright_notice(s) || strcasestr(s, "copyright (c)") ||
        strcasestr(s, "copyright \xC2\xA9") || strcasestr(s, "all rights reserved") ||
        strcasestr(s, "spdx-license-identifier"))
        return NULL;
    /* Key: value headers. A line such as "Science: Growth and Change" is a
     * title; a header has a key with a hyphen ("Upstream-Name:"), a value
     * that is a URL, an address, a number or a date, or nothing, or a
     * second header on the next line. */
    size_t k = header_key(s, strlen(s));
    if (k) {
        const char *val = s + k + 1;
        while (*val == ' ')
            val++;
        if (k == 5 && starts_ci(s, "title")) return has_word_char(val) ? val : NULL;
        if (!*val || is_url(val) || strchr(val, '@') || isdigit((unsigned char)*val) ||
            memchr(s, '-', k) || header_key(next, next_len))
            return NULL;
    }
    return s;
}

/* The last component of path (a URL: of its path, without query or
 * fragment), into t's title. */
static void title_from_name(ing_text *t, const char *path)
{
    size_t n = strlen(path);
    if (strstr(path, "://")) n = strcspn(path, "?#");
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    if (b == n) b = 0; /* "/" or nothing left: the whole */
    ing_text_set_title(t, path + b, n - b);
}

/* When t has no title yet: its first heading, else the first line of its
 * first block when that line reads as a title, else the file name of path
 * (its last component; URLs without query or fragment). title_in_text is
 * then 1. A first line is not a title when it has no letter or digit
 * (`#`, `/////`), is a URL, a code comment or directive (`//`, `/ *`, `#!`,
 * `<!--`, an editor modeline), a licence header (copyright, SPDX, "Licensed
 * under", ...) or a `Key: value` header (`Format: https://...`); a
 * `Title: X` line gives X, and a leading `# ` is dropped. */
static void default_title(ing_text *t, const char *path)
{
    if (t->title || t->n_blocks == 0) return;
    const ing_block *b = NULL;
    for (size_t i = 0; i < t->n_blocks && !b; i++)
        if (t->blocks[i].kind == ING_HEADING) b = &t->blocks[i];
    if (b) {
        ing_text_set_title(t, t->text.data + b->start, b->len);
    } else {
        const char *s = t->text.data + t->blocks[0].start, *next = "";
        size_t n = t->blocks[0].len, next_len = 0;
        const char *nl = memchr(s, '\n', n);
        if (nl) {
            next = nl + 1;
            const char *e = memchr(next, '\n', (size_t)(s + n - next));
            next_len = (size_t)((e ? e : s + n) - next);
        }
        ing_text_set_title(t, s, nl ? (size_t)(nl - s) : n);
        const char *title = t->title ? title_of_line(t->title, next, next_len) : NULL;
        if (title && title != t->title) {
            char *keep = rag_xstrdup(title);
            ing_text_set_title(t, keep, strlen(keep));
            rag_free(keep);
        } else if (!title) {
            rag_free(t->title);
            t->title = NULL;
            if (path) title_from_name(t, path);
        }
    }
    t->title_in_text = t->title != NULL;
}

int ing_extract(ing_type type, const char *path, const uint8_t *data, size_t n,
                const ing_limits *lim, ing_text *out, rag_err *err)
{
    ing_limits defaults;
    if (!lim) {
        ing_limits_default(&defaults);
        lim = &defaults;
    }
    const char *name = path ? path : "(input)";
    if (ing_is_blank(data, n)) return rag_err_set(err, RAG_ERR_FORMAT, "%s: empty file", name);
    if (ing_is_compressed(data, n) && !ing_type_is_container(type)) {
        /* README.gz: the document it holds (ing_detect typed that) */
        rag_buf inner = {0};
        char *inner_name = NULL;
        const char *filter = NULL;
        int rc = ing_decompress(path, data, n, lim, &inner, &inner_name, &filter, err);
        if (rc == 1 && type == ING_TYPE_UNKNOWN) /* read all the same: a bomb is refused */
            rc = rag_err_set(err, RAG_ERR_UNSUPPORTED,
                             "%s: binary file of unknown type (%s compressed)", name, filter);
        else if (rc == 1) {
            if (ing_is_blank((const uint8_t *)inner.data, inner.len))
                rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: empty file (once decompressed)", name);
            else
                rc = ing_extract(type, path, (const uint8_t *)inner.data, inner.len, lim, out, err);
            if (!rc) ing_meta_str(out, "compression", filter);
        }
        rag_buf_free(&inner);
        rag_free(inner_name);
        if (rc <= 0) return rc;
    }
    if (type == ING_TYPE_UNKNOWN)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: binary file of unknown type", name);

    int rc;
    switch (type) {
    case ING_TYPE_TEXT:
        rc = ing_extract_text(path, data, n, lim, out, err);
        break;
    case ING_TYPE_MARKDOWN:
        rc = ing_extract_markdown(path, data, n, lim, out, err);
        break;
    case ING_TYPE_HTML:
        rc = ing_extract_html(path, data, n, lim, out, err);
        break;
    case ING_TYPE_PDF:
        rc = ing_extract_pdf(path, data, n, lim, out, err);
        break;
    case ING_TYPE_DOCX:
        rc = ing_extract_docx(path, data, n, lim, out, err);
        break;
    case ING_TYPE_EMAIL:
        rc = ing_extract_email(path, data, n, lim, out, err);
        break;
    case ING_TYPE_PPTX:
        rc = ing_extract_pptx(path, data, n, lim, out, err);
        break;
    case ING_TYPE_XLSX:
        rc = ing_extract_xlsx(path, data, n, lim, out, err);
        break;
    case ING_TYPE_ODT:
    case ING_TYPE_ODS:
    case ING_TYPE_ODP:
        rc = ing_extract_odf(type, path, data, n, lim, out, err);
        break;
    case ING_TYPE_EPUB:
        rc = ing_extract_epub(path, data, n, lim, out, err);
        break;
    case ING_TYPE_RTF:
        rc = ing_extract_rtf(path, data, n, lim, out, err);
        break;
    case ING_TYPE_IMAGE:
        rc = ing_extract_image(path, data, n, lim, out, err);
        break;
    default:
        if (ing_type_is_container(type))
            return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                               "%s: %s: a container, its members are the documents", name,
                               ing_type_name(type));
        return rag_err_set(err, RAG_ERR_INVALID, "%s: no extractor for type %d", name, (int)type);
    }
    if (rc) return rc;
    if (out->n_blocks == 0)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: no text could be extracted", name);
    /* Normalisation can grow text a little (NFC, U+FFFD): one last check. */
    if (out->text.len > lim->max_text)
        return rag_err_set(err, RAG_ERR_LIMIT,
                           "%s: the extracted text is larger than the limit of %zu bytes", name,
                           lim->max_text);
    default_title(out, path);
    return 0;
}
