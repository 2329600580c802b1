/* ingest/detect.c: file type detection (ing_detect, ing_type_name).
 *
 * Content decides first, the extension second:
 *   1. "%PDF-" within the first 1024 bytes (the PDF spec lets a header follow
 *      up to 1 KiB of junk, and readers accept it) => PDF.
 *   2. A zip ("PK\3\4") whose central directory names word/document.xml
 *      => DOCX; any other zip => UNKNOWN. Checked with libzip, read-only,
 *      straight from the buffer.
 *   3. PNG, JPEG and TIFF magic => IMAGE (read by OCR when built with it);
 *      magic numbers of other binary formats (GIF, gzip, ELF, ...) =>
 *      UNKNOWN, whatever the extension says.
 *   4. A file named *.pdf or *.docx that failed 1./2. is still a PDF/DOCX: the
 *      user named it so, and "corrupt PDF" is the message they can act on,
 *      where "binary file of unknown type" would hide what is wrong. The
 *      extractor then reports it as corrupt.
 *   5. Text (no NUL byte in the first 8 KiB, or UTF-16/32 recognised by BOM
 *      or by the NUL pattern of ASCII-range characters):
 *        HTML when the start of the content looks like HTML, or by extension
 *        (.html .htm .xhtml); Markdown by extension (.md .markdown .mdown
 *        .mkd); plain text otherwise (.txt, .rst, .csv, .json, source code,
 *        no extension...).
 *   6. Everything else => UNKNOWN. */
#include "ingest/ing_int.h"

#include <string.h>
#include <strings.h>
#include <zip.h>

#define SNIFF_BYTES 8192
#define PDF_HEADER_WINDOW 1024

const char *ing_type_name(ing_type t)
{
    switch (t) {
    case ING_TYPE_TEXT:
        return "text";
    case ING_TYPE_MARKDOWN:
        return "markdown";
    case ING_TYPE_HTML:
        return "html";
    case ING_TYPE_PDF:
        return "pdf";
    case ING_TYPE_DOCX:
        return "docx";
    case ING_TYPE_ARCHIVE:
        return "archive";
    case ING_TYPE_MBOX:
        return "mbox";
    case ING_TYPE_EMAIL:
        return "email";
    case ING_TYPE_PPTX:
        return "pptx";
    case ING_TYPE_XLSX:
        return "xlsx";
    case ING_TYPE_ODT:
        return "odt";
    case ING_TYPE_ODS:
        return "ods";
    case ING_TYPE_ODP:
        return "odp";
    case ING_TYPE_EPUB:
        return "epub";
    case ING_TYPE_RTF:
        return "rtf";
    case ING_TYPE_IMAGE:
        return "image";
    case ING_TYPE_UNKNOWN:
        break;
    }
    return "unknown";
}

/* The extension of the last path component, without the dot ("" if none). */
static const char *extension(const char *path)
{
    if (!path) return "";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

static int ext_is(const char *ext, const char *const *list)
{
    for (; *list; list++)
        if (!strcasecmp(ext, *list)) return 1;
    return 0;
}

static int has_pdf_magic(const uint8_t *d, size_t n)
{
    size_t lim = n < PDF_HEADER_WINDOW + 5 ? n : PDF_HEADER_WINDOW + 5;
    for (size_t i = 0; i + 5 <= lim; i++)
        if (d[i] == '%' && !memcmp(d + i, "%PDF-", 5)) return 1;
    return 0;
}

/* 1: a readable zip that holds word/document.xml; 0: a zip without it;
 * -1: not readable as a zip at all (truncated, corrupt). */
static int zip_has_docx_body(const uint8_t *d, size_t n)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(d, n, 0, &ze);
    if (!src) {
        zip_error_fini(&ze);
        return -1;
    }
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    zip_error_fini(&ze);
    if (!za) {
        zip_source_free(src); /* not taken over by a failed open */
        return -1;
    }
    int found = zip_name_locate(za, "word/document.xml", 0) >= 0;
    zip_discard(za); /* frees the source too; nothing to write back */
    return found;
}

/* PNG, JPEG and TIFF: the images OCR reads. GIF, BMP, ICO and the others
 * stay UNKNOWN (skipped). */
static int is_ocr_image(const uint8_t *d, size_t n)
{
    return (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) ||
           (n >= 3 && !memcmp(d, "\xff\xd8\xff", 3)) ||
           (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4)));
}

/* Formats that must never be read as text even when their first 8 KiB
 * happen to hold no NUL byte. */
static int has_binary_magic(const uint8_t *d, size_t n)
{
    static const struct {
        const char *magic;
        size_t len;
    } m[] = {
        {"\x89PNG\r\n\x1a\n", 8},
        {"\xff\xd8\xff", 3},
        {"GIF87a", 6},
        {"GIF89a", 6},
        {"\x1f\x8b", 2},
        {"\x7f"
         "ELF",
         4},
        {"BZh", 3},
        {"\xfd"
         "7zXZ\0",
         6},
        {"7z\xbc\xaf\x27\x1c", 6},
        {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8}, /* OLE2: .doc, .xls, .msg */
        {"PK\x05\x06", 4},
        {"PK\x07\x08", 4},
        {"\x28\xb5\x2f\xfd", 4}, /* zstd */
        {"\0asm", 4},
        {"SQLite format 3\0", 16},
        {"MZ", 2},
        {"RIFF", 4},
        {"OggS", 4},
        {"fLaC", 4},
        {"ID3", 3},
        {"\xca\xfe\xba\xbe", 4},
        {"!<arch>\n", 8},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (n >= m[i].len && !memcmp(d, m[i].magic, m[i].len)) {
            /* Magics made of letters ("MZ", "BZh", "RIFF", "GIF89a"...)
             * are also plausible starts of text: require a control byte
             * other than whitespace among the first 64 bytes. */
            int letters = 1;
            for (size_t j = 0; j < m[i].len; j++)
                if (m[i].magic[j] < 0x20 || (unsigned char)m[i].magic[j] >= 0x7f) letters = 0;
            if (letters) {
                int bin = 0;
                for (size_t j = 0; j < n && j < 64; j++)
                    if (d[j] < 0x09 || (d[j] > 0x0d && d[j] < 0x20)) bin = 1;
                if (!bin) continue;
            }
            return 1;
        }
    return 0;
}

static int looks_like_text(const uint8_t *d, size_t n)
{
    if (n >= 2 && ((d[0] == 0xff && d[1] == 0xfe) || (d[0] == 0xfe && d[1] == 0xff))) return 1;
    if (n >= 4 && !memcmp(d, "\0\0\xfe\xff", 4)) return 1;
    size_t lim = n < SNIFF_BYTES ? n : SNIFF_BYTES;
    if (!memchr(d, 0, lim)) return 1;
    return ing_wide_encoding(d, n) != NULL; /* UTF-16/32 without BOM */
}

static size_t skip_space(const uint8_t *d, size_t n, size_t i)
{
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r' || d[i] == '\f'))
        i++;
    return i;
}

static int starts_ci(const uint8_t *d, size_t n, size_t i, const char *s)
{
    size_t l = strlen(s);
    return i + l <= n && !strncasecmp((const char *)d + i, s, l);
}

/* HTML by content: after a UTF-8 BOM, whitespace, an XML declaration and
 * comments, the document opens with a doctype or one of the html/head/body
 * tags. Only the first 1 KiB is looked at. */
static int looks_like_html(const uint8_t *d, size_t n)
{
    if (n > 1024) n = 1024;
    size_t i = 0;
    if (n >= 3 && !memcmp(d, "\xef\xbb\xbf", 3)) i = 3;
    for (;;) {
        i = skip_space(d, n, i);
        if (starts_ci(d, n, i, "<?xml")) {
            const uint8_t *e = memmem(d + i, n - i, "?>", 2);
            if (!e) return 0;
            i = (size_t)(e - d) + 2;
        } else if (starts_ci(d, n, i, "<!--")) {
            const uint8_t *e = memmem(d + i, n - i, "-->", 3);
            if (!e) return 0;
            i = (size_t)(e - d) + 3;
        } else {
            break;
        }
    }
    static const char *const tags[] = {"<!doctype html", "<html", "<head", "<body"};
    for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) {
        if (!starts_ci(d, n, i, tags[k])) continue;
        size_t e = i + strlen(tags[k]);
        /* "<header>" or "<bodyguard>" are not "<head>"/"<body>" */
        if (e == n || d[e] == '>' || d[e] == ' ' || d[e] == '\t' || d[e] == '\n' || d[e] == '\r' ||
            d[e] == '/')
            return 1;
    }
    return 0;
}

ing_type ing_detect(const char *path, const uint8_t *data, size_t n)
{
    static const char *const html_ext[] = {"html", "htm", "xhtml", NULL};
    static const char *const md_ext[] = {"md", "markdown", "mdown", "mkd", NULL};
    const char *ext = extension(path);

    if (n == 0) /* nothing to sniff: the extractor reports "empty file" */
        return !strcasecmp(ext, "pdf")    ? ING_TYPE_PDF
               : !strcasecmp(ext, "docx") ? ING_TYPE_DOCX
               : ext_is(ext, html_ext)    ? ING_TYPE_HTML
               : ext_is(ext, md_ext)      ? ING_TYPE_MARKDOWN
                                          : ING_TYPE_TEXT;
    if (has_pdf_magic(data, n)) return ING_TYPE_PDF;
    if (n >= 4 && !memcmp(data, "PK\3\4", 4)) {
        int r = zip_has_docx_body(data, n);
        if (r == 1) return ING_TYPE_DOCX;
        /* rule 4: a broken zip named .docx is reported as a corrupt DOCX */
        return !strcasecmp(ext, "docx") ? ING_TYPE_DOCX : ING_TYPE_UNKNOWN;
    }
    if (!strcasecmp(ext, "pdf")) return ING_TYPE_PDF;   /* rule 4 */
    if (!strcasecmp(ext, "docx")) return ING_TYPE_DOCX; /* rule 4 */
    if (is_ocr_image(data, n)) return ING_TYPE_IMAGE;   /* rule 3 */
    if (has_binary_magic(data, n)) return ING_TYPE_UNKNOWN;
    if (!looks_like_text(data, n)) return ING_TYPE_UNKNOWN;
    if (looks_like_html(data, n) || ext_is(ext, html_ext)) return ING_TYPE_HTML;
    if (ext_is(ext, md_ext)) return ING_TYPE_MARKDOWN;
    return ING_TYPE_TEXT;
}
