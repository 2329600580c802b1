/* ingest/detect.c: file type detection (ing_detect, ing_type_name).
 *
 * Content decides first, the extension second:
 *   1. "%PDF-" within the first 1024 bytes (the PDF spec lets a header follow
 *      up to 1 KiB of junk, and readers accept it) => PDF; at offset 0 at
 *      once, further on only once 2. and 3. found no zip, compressed file
 *      or tar (whose first member may be a PDF).
 *   2. A zip ("PK\3\4", or "PK\5\6" when empty): the office and publishing
 *      formats first (they are zips too): Office Open XML => DOCX, PPTX or
 *      XLSX by the main part's content type in [Content_Types].xml, else by
 *      word/document.xml, ppt/presentation.xml or xl/workbook.xml; a
 *      `mimetype` member reading application/vnd.oasis.opendocument.text
 *      (.spreadsheet, .presentation, their templates) => ODT (ODS, ODP), or
 *      application/epub+zip => EPUB; any other zip, or
 *      one libzip cannot open => ARCHIVE (a corrupt one is reported as
 *      such). Checked with libzip, read-only, straight from the buffer.
 *   2b. "{\rtf" at the start (after a UTF-8 BOM and whitespace) => RTF.
 *   3. A compressed file (gzip, bzip2, xz, zstd, lz4, compress): a
 *      compressed tar => ARCHIVE; else the type of what it holds, from the
 *      first 64 KiB decompressed and the name without the suffix
 *      (README.gz => TEXT, notes.md.gz => MARKDOWN); ing_extract
 *      decompresses. 7z, rar and tar ("ustar" at 257) => ARCHIVE.
 *      PNG, JPEG and TIFF magic => IMAGE (read by OCR when built with it);
 *      magic numbers of other binary formats (GIF, ELF, ...) => UNKNOWN,
 *      whatever the extension says.
 *   4. A file named *.pdf, *.docx, *.pptx, *.xlsx, *.odt, *.ods, *.odp,
 *      *.epub or *.rtf that failed 1./2. is
 *      still of that type: the
 *      user named it so, and "corrupt PDF" is the message they can act on,
 *      where "binary file of unknown type" would hide what is wrong. The
 *      extractor then reports it as corrupt.
 *   5. Text (no NUL byte in the first 8 KiB, or UTF-16/32 recognised by BOM
 *      or by the NUL pattern of ASCII-range characters):
 *        an mbox when it opens with a "From " line followed by a header
 *        field, or by extension (.mbox .mbx); an email when it opens with a
 *        header block (looks_like_email: at least two mail header fields,
 *        nothing but header fields before the first blank line), or by
 *        extension (.eml);
 *        HTML when the start of the content looks like HTML, or by extension
 *        (.html .htm .xhtml); Markdown by extension (.md .markdown .mdown
 *        .mkd); plain text otherwise (.txt, .rst, .csv, .json, source code,
 *        no extension...).
 *   6. Everything else => UNKNOWN. */
#include "ingest/ing_int.h"
#include "ingest/odfzip.h"

#include "base/mem.h"

#include <stdlib.h>
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

/* The office and publishing type an extension names, else UNKNOWN. */
static ing_type office_ext(const char *ext)
{
    static const struct {
        const char *ext;
        ing_type type;
    } m[] = {{"docx", ING_TYPE_DOCX}, {"pptx", ING_TYPE_PPTX}, {"xlsx", ING_TYPE_XLSX},
             {"odt", ING_TYPE_ODT},   {"ods", ING_TYPE_ODS},   {"odp", ING_TYPE_ODP},
             {"epub", ING_TYPE_EPUB}, {"rtf", ING_TYPE_RTF}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcasecmp(ext, m[i].ext)) return m[i].type;
    return ING_TYPE_UNKNOWN;
}

static int has_pdf_magic(const uint8_t *d, size_t n)
{
    size_t lim = n < PDF_HEADER_WINDOW + 5 ? n : PDF_HEADER_WINDOW + 5;
    for (size_t i = 0; i + 5 <= lim; i++)
        if (d[i] == '%' && !memcmp(d + i, "%PDF-", 5)) return 1;
    return 0;
}

/* The type of a zip: an office or publishing document (Office Open XML:
 * DOCX, PPTX or XLSX by the main part that [Content_Types].xml declares,
 * whatever the part is called, else by the usual name of that part:
 * word/document.xml, ppt/presentation.xml, xl/workbook.xml; OpenDocument
 * and EPUB by their mimetype member; only the first
 * 256 KiB of [Content_Types].xml are looked at), ING_TYPE_UNKNOWN for
 * another document of that kind not read, ING_TYPE_ARCHIVE for a plain
 * archive of files, -1 when not readable as a zip at all (truncated,
 * corrupt). */
static int zip_type(const uint8_t *d, size_t n)
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
    int type = ING_TYPE_UNKNOWN;
    zip_file_t *f = zip_fopen(za, "[Content_Types].xml", 0);
    if (f) {
        const size_t cap = (size_t)256 << 10;
        char *buf = malloc(cap + 1);
        zip_int64_t got = 0, r;
        while (buf && (size_t)got < cap &&
               (r = zip_fread(f, buf + got, (zip_uint64_t)(cap - (size_t)got))) > 0)
            got += r;
        zip_fclose(f);
        if (buf) {
            buf[got] = 0;
            /* main parts, macro-enabled and template variants included */
            if (strstr(buf, "wordprocessingml.document.main+xml") ||
                strstr(buf, "wordprocessingml.template.main+xml") ||
                strstr(buf, "ms-word.document.macroEnabled.main+xml"))
                type = ING_TYPE_DOCX;
            else if (strstr(buf, "presentationml.presentation.main+xml") ||
                     strstr(buf, "presentationml.slideshow.main+xml") ||
                     strstr(buf, "presentationml.template.main+xml") ||
                     strstr(buf, "ms-powerpoint.presentation.macroEnabled.main+xml"))
                type = ING_TYPE_PPTX;
            else if (strstr(buf, "spreadsheetml.sheet.main+xml") ||
                     strstr(buf, "spreadsheetml.template.main+xml") ||
                     strstr(buf, "ms-excel.sheet.macroEnabled.main+xml"))
                type = ING_TYPE_XLSX;
            free(buf);
        }
    }
    if (type == ING_TYPE_UNKNOWN) {
        if (zip_name_locate(za, "word/document.xml", 0) >= 0)
            type = ING_TYPE_DOCX;
        else if (zip_name_locate(za, "ppt/presentation.xml", 0) >= 0)
            type = ING_TYPE_PPTX;
        else if (zip_name_locate(za, "xl/workbook.xml", 0) >= 0)
            type = ING_TYPE_XLSX;
        else if ((type = ozip_mimetype_type(za)) != ING_TYPE_UNKNOWN)
            ;
        else if (zip_name_locate(za, "[Content_Types].xml", 0) < 0 &&
                 zip_name_locate(za, "mimetype", 0) < 0)
            type = ING_TYPE_ARCHIVE; /* none of the document markers */
    }
    zip_discard(za); /* frees the source too; nothing to write back */
    return type;
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

static int has_rtf_magic(const uint8_t *d, size_t n)
{
    size_t i = n >= 3 && !memcmp(d, "\xef\xbb\xbf", 3) ? 3 : 0;
    i = skip_space(d, n, i);
    return n - i >= 5 && !memcmp(d + i, "{\\rtf", 5);
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

/* A compressed file (rule 3): a compressed archive (tar.gz) is an archive;
 * otherwise what the first 64 KiB of its content and its name without the
 * suffix say (README.gz is text, notes.md.gz Markdown), an archive when that
 * content is a container itself or the stream is corrupt (so that it is
 * reported as such). */
static ing_type compressed_type(const char *path, const uint8_t *data, size_t n)
{
    if (ing_is_archive(data, n)) return ING_TYPE_ARCHIVE;
    rag_buf head = {0};
    if (ing_decompress_head(data, n, (size_t)64 << 10, &head, NULL) < 0) {
        rag_buf_free(&head);
        return ING_TYPE_ARCHIVE;
    }
    const uint8_t *h = (const uint8_t *)head.data;
    size_t hn = head.len;
    ing_type t;
    if (ing_is_compressed(h, hn) || (hn >= 4 && !memcmp(h, "PK\3\4", 4)) ||
        (hn >= 6 && !memcmp(h, "7z\xbc\xaf\x27\x1c", 6)))
        t = ING_TYPE_ARCHIVE;
    else if (hn == 0)
        t = ING_TYPE_TEXT; /* reported as an empty file */
    else {
        char *inner = NULL;
        if (path) {
            size_t l = strlen(path);
            const char *dot = strrchr(path, '.');
            inner = rag_xstrndup(path, dot ? (size_t)(dot - path) : l);
        }
        t = ing_detect(inner, h, hn);
        rag_free(inner);
    }
    rag_buf_free(&head);
    return t;
}

/* The length of the field name of a header line d[0..n) ("Subject: x"):
 * printable ASCII other than ':' and space, then ':'; 0 when it is not one. */
static size_t field_name(const uint8_t *d, size_t n)
{
    size_t k = 0;
    while (k < n && d[k] > 0x20 && d[k] < 0x7f && d[k] != ':')
        k++;
    return k > 0 && k < n && d[k] == ':' ? k : 0;
}

/* Header names that mark a mail message (prose may start "From:" or
 * "Subject:", hardly with two of them and nothing else before a blank
 * line). */
static int mail_field(const uint8_t *d, size_t k)
{
    static const char *const f[] = {"from",
                                    "to",
                                    "cc",
                                    "subject",
                                    "date",
                                    "received",
                                    "return-path",
                                    "message-id",
                                    "mime-version",
                                    "reply-to",
                                    "in-reply-to",
                                    "references",
                                    "delivered-to",
                                    "sender",
                                    "content-type",
                                    "x-mailer",
                                    "user-agent",
                                    "bcc",
                                    NULL};
    for (size_t i = 0; f[i]; i++)
        if (strlen(f[i]) == k && !strncasecmp((const char *)d, f[i], k)) return 1;
    return 0;
}

/* An RFC 5322 header block at data[start..): every line up to the first
 * blank line (or the sniffed window's end) a header field or a folded
 * continuation, at least two mail header fields among them. */
static int header_block(const uint8_t *d, size_t n, size_t i)
{
    int cut = n > SNIFF_BYTES;
    if (cut) n = SNIFF_BYTES;
    int mail = 0, fields = 0;
    while (i < n) {
        const uint8_t *nl = memchr(d + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - d) : n;
        size_t l = e - i;
        if (l && d[i + l - 1] == '\r') l--;
        if (l == 0) break; /* the end of the headers */
        if (d[i] == ' ' || d[i] == '\t') {
            if (!fields) return 0; /* a continuation of nothing */
        } else {
            size_t k = field_name(d + i, l);
            if (!k) return !nl && cut && mail >= 2; /* a line cut at the window's end */
            fields++;
            mail += mail_field(d + i, k);
        }
        if (!nl) break;
        i = e + 1;
    }
    return mail >= 2;
}

static int looks_like_mbox(const uint8_t *d, size_t n)
{
    if (n < 5 || memcmp(d, "From ", 5)) return 0;
    const uint8_t *nl = memchr(d, '\n', n < SNIFF_BYTES ? n : SNIFF_BYTES);
    if (!nl) return 0;
    size_t i = (size_t)(nl - d) + 1;
    const uint8_t *nl2 = memchr(d + i, '\n', n - i);
    size_t l = (nl2 ? (size_t)(nl2 - d) : n) - i;
    return field_name(d + i, l) > 0;
}

static int looks_like_email(const uint8_t *d, size_t n)
{
    size_t i = n >= 3 && !memcmp(d, "\xef\xbb\xbf", 3) ? 3 : 0;
    return header_block(d, n, i);
}

ing_type ing_detect(const char *path, const uint8_t *data, size_t n)
{
    static const char *const html_ext[] = {"html", "htm", "xhtml", NULL};
    static const char *const md_ext[] = {"md", "markdown", "mdown", "mkd", NULL};
    static const char *const mbox_ext[] = {"mbox", "mbx", NULL};
    const char *ext = extension(path);

    if (n == 0) /* nothing to sniff: the extractor reports "empty file" */
        return !strcasecmp(ext, "pdf")               ? ING_TYPE_PDF
               : office_ext(ext) != ING_TYPE_UNKNOWN ? office_ext(ext)
               : ext_is(ext, html_ext)               ? ING_TYPE_HTML
               : ext_is(ext, md_ext)                 ? ING_TYPE_MARKDOWN
                                                     : ING_TYPE_TEXT;
    if (n >= 5 && !memcmp(data, "%PDF-", 5)) return ING_TYPE_PDF;
    /* archives before a "%PDF-" further on: a tar or a stored zip whose
     * first member is a PDF has it within the first KiB */
    if (n >= 4 && (!memcmp(data, "PK\3\4", 4) || !memcmp(data, "PK\5\6", 4))) {
        int t = zip_type(data, n);
        if (t >= 0 && t != ING_TYPE_UNKNOWN && t != ING_TYPE_ARCHIVE) return (ing_type)t;
        /* rule 4: a broken zip named .docx is reported as a corrupt DOCX */
        if (office_ext(ext) != ING_TYPE_UNKNOWN && office_ext(ext) != ING_TYPE_RTF)
            return office_ext(ext);
        if (t == ING_TYPE_UNKNOWN) return ING_TYPE_UNKNOWN;
        return ING_TYPE_ARCHIVE; /* a broken one is reported as a corrupt archive */
    }
    if (ing_is_compressed(data, n)) return compressed_type(path, data, n);
    if (n >= 6 && !memcmp(data, "7z\xbc\xaf\x27\x1c", 6)) return ING_TYPE_ARCHIVE;
    if (n >= 7 && !memcmp(data, "Rar!\x1a\x07", 6)) return ING_TYPE_ARCHIVE;
    if (n >= 262 && !memcmp(data + 257, "ustar", 5)) return ING_TYPE_ARCHIVE;
    if (has_pdf_magic(data, n)) return ING_TYPE_PDF;
    if (has_rtf_magic(data, n)) return ING_TYPE_RTF;
    if (!strcasecmp(ext, "pdf")) return ING_TYPE_PDF;                /* rule 4 */
    if (office_ext(ext) != ING_TYPE_UNKNOWN) return office_ext(ext); /* rule 4 */
    if (is_ocr_image(data, n)) return ING_TYPE_IMAGE;                /* rule 3 */
    if (has_binary_magic(data, n)) return ING_TYPE_UNKNOWN;
    if (!looks_like_text(data, n)) return ING_TYPE_UNKNOWN;
    if (looks_like_mbox(data, n)) return ING_TYPE_MBOX;
    if (looks_like_email(data, n)) return ING_TYPE_EMAIL;
    if (ext_is(ext, mbox_ext)) return ING_TYPE_MBOX;
    if (!strcasecmp(ext, "eml")) return ING_TYPE_EMAIL;
    if (looks_like_html(data, n) || ext_is(ext, html_ext)) return ING_TYPE_HTML;
    if (ext_is(ext, md_ext)) return ING_TYPE_MARKDOWN;
    return ING_TYPE_TEXT;
}
