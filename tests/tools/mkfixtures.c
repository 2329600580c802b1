/* tests/tools/mkfixtures.c: writes the binary test fixtures of the extractors
 * (DOCX and PDF files, good and bad) into the directory given as argv[1].
 *
 * Generated rather than checked in, so that every byte is explained here and
 * the tests need nothing but the build's own libraries (libzip for the
 * archives; the PDFs are written by hand). Files:
 *
 *   report.docx        title in docProps/core.xml, Heading1/Heading2,
 *                      paragraphs (a word split across runs, a tab, a line
 *                      break, a tracked deletion), a 3x2 table
 *   bomb.docx          word/document.xml of ~300 MB repeated XML, deflated
 *                      to a few hundred KB
 *   bomb_lying.docx    the same with the uncompressed sizes in the zip
 *                      headers rewritten to 1000 bytes
 *   corrupt.docx       report.docx cut in half (no central directory)
 *   badxml.docx        word/document.xml is not well-formed (line 3)
 *   notdocx.zip        a zip with a text file only
 *   notdocx.docx       the same bytes under a .docx name
 *   report.pdf         two pages of text, /Title in the Info dictionary
 *   cafe.pdf           WinAnsiEncoding text "Café au lait", a UTF-16 title
 *   notext.pdf         one page with a line drawing and no text
 *   corrupt.pdf        a %PDF header followed by garbage
 *   truncated.pdf      report.pdf cut in the middle of page 1's stream
 *   slow.pdf           nested forms that take hours to interpret (2^40
 *                      paintings), to hit the CPU and wall-clock limits
 *   wordy.pdf          nested forms painting 2^30 words: memory limit */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static const char *dir;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mkfixtures: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static char *path_of(const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(path_of(name), "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        die("cannot write %s: %s", path_of(name), strerror(errno));
}

static char *read_file(const char *name, size_t *n)
{
    FILE *f = fopen(path_of(name), "rb");
    if (!f) die("cannot read %s", path_of(name));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)len + 1);
    if (!d || fread(d, 1, (size_t)len, f) != (size_t)len) die("cannot read %s", path_of(name));
    fclose(f);
    *n = (size_t)len;
    return d;
}

/* ---- zip ---------------------------------------------------------------- */

typedef struct member {
    const char *name;
    const char *text;
} member;

static zip_t *zip_new(const char *name)
{
    int ze = 0;
    zip_t *za = zip_open(path_of(name), ZIP_CREATE | ZIP_TRUNCATE, &ze);
    if (!za) die("zip_open %s: error %d", name, ze);
    return za;
}

static void zip_put(zip_t *za, const char *name, const char *text)
{
    zip_source_t *src = zip_source_buffer(za, text, strlen(text), 0);
    zip_int64_t idx = src ? zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) die("zip_file_add %s: %s", name, zip_strerror(za));
    zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 6);
}

static void zip_done(zip_t *za)
{
    if (zip_close(za) < 0) die("zip_close: %s", zip_strerror(za));
}

static void write_zip(const char *name, const member *m)
{
    zip_t *za = zip_new(name);
    for (; m->name; m++)
        zip_put(za, m->name, m->text);
    zip_done(za);
}

#define W_NS "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

static const char content_types[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
    "<Default Extension=\"rels\" "
    "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
    "<Override PartName=\"/word/document.xml\" "
    "ContentType=\"application/"
    "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>"
    "<Override PartName=\"/docProps/core.xml\" "
    "ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>"
    "</Types>";

static const char rels[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" "
    "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" "
    "Target=\"word/document.xml\"/>"
    "<Relationship Id=\"rId2\" "
    "Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
    "core-properties\" "
    "Target=\"docProps/core.xml\"/>"
    "</Relationships>";

static const char core[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<cp:coreProperties "
    "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
    "<dc:title>Quarterly Report 2024</dc:title><dc:creator>Fixture</dc:creator>"
    "</cp:coreProperties>";

/* clang-format off */
#define P_STYLE(s) "<w:pPr><w:pStyle w:val=\"" s "\"/></w:pPr>"
#define RUN(t) "<w:r><w:t xml:space=\"preserve\">" t "</w:t></w:r>"
#define CELL(t) "<w:tc><w:tcPr><w:tcW w:w=\"2000\" w:type=\"dxa\"/></w:tcPr><w:p>" RUN(t) "</w:p></w:tc>"

static const char document[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<w:document xmlns:w=\"" W_NS "\"><w:body>"
    "<w:p>" P_STYLE("Heading1") RUN("Introduction") "</w:p>"
    "<w:p><w:pPr><w:tabs><w:tab w:val=\"left\" w:pos=\"720\"/></w:tabs></w:pPr>"
        RUN("The zebra") RUN("fish project started in March.") "<w:r><w:tab/></w:r>"
        RUN("Budget:") "<w:r><w:br/></w:r>" RUN("forty thousand euros.")
        "<w:del w:id=\"1\" w:author=\"x\"><w:r><w:delText>SECRETDELETED</w:delText></w:r></w:del>"
    "</w:p>"
    "<w:p>" P_STYLE("Heading2") RUN("Results") "</w:p>"
    "<w:p>" RUN("Revenue grew by twelve percent.") "</w:p>"
    "<w:tbl><w:tblPr/><w:tblGrid><w:gridCol w:w=\"2000\"/></w:tblGrid>"
        "<w:tr>" CELL("Region") CELL("Sales") "</w:tr>"
        "<w:tr>" CELL("North") CELL("100") "</w:tr>"
        "<w:tr>" CELL("South") CELL("200") "</w:tr>"
    "</w:tbl>"
    "<w:p>" RUN("Closing remarks follow the table.") "</w:p>"
    "<w:sectPr><w:pgSz w:w=\"12240\" w:h=\"15840\"/></w:sectPr>"
    "</w:body></w:document>";
/* clang-format on */

static const char bad_document[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                   "<w:document xmlns:w=\"" W_NS "\"><w:body>\n"
                                   "<w:p><w:r><w:t>unclosed</w:r></w:p>\n"
                                   "</w:body></w:document>";

/* The bomb's document.xml, produced on the fly so that the 300 MB never
 * exist in memory: a header, one paragraph repeated, a footer. */
#define BOMB_HEAD                                                                                  \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<w:document xmlns:w=\"" W_NS "\"><w:body>"
#define BOMB_UNIT "<w:p><w:r><w:t>boom boom boom boom boom</w:t></w:r></w:p>"
#define BOMB_TAIL "</w:body></w:document>"
#define BOMB_UNITS 5000000ULL /* x 56 bytes = 280 MB */

typedef struct bomb_src {
    zip_uint64_t pos, size;
    zip_error_t error;
} bomb_src;

static zip_int64_t bomb_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    bomb_src *b = ud;
    static const char head[] = BOMB_HEAD, unit[] = BOMB_UNIT, tail[] = BOMB_TAIL;
    const zip_uint64_t hl = sizeof head - 1, ul = sizeof unit - 1, tl = sizeof tail - 1;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        b->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        char *out = data;
        zip_uint64_t done = 0;
        while (done < len && b->pos < b->size) {
            const char *src;
            zip_uint64_t off, avail;
            if (b->pos < hl) {
                src = head, off = b->pos, avail = hl - off;
            } else if (b->pos < hl + BOMB_UNITS * ul) {
                off = (b->pos - hl) % ul;
                src = unit, avail = ul - off;
            } else {
                src = tail, off = b->pos - hl - BOMB_UNITS * ul, avail = tl - off;
            }
            zip_uint64_t take = avail < len - done ? avail : len - done;
            memcpy(out + done, src + off, take);
            done += take;
            b->pos += take;
        }
        return (zip_int64_t)done;
    }
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = b->size;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&b->error, data, len);
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        zip_error_set(&b->error, ZIP_ER_INVAL, 0);
        return -1;
    }
}

static void write_bomb(void)
{
    static bomb_src b;
    b.size = (sizeof BOMB_HEAD - 1) + BOMB_UNITS * (sizeof BOMB_UNIT - 1) + (sizeof BOMB_TAIL - 1);
    zip_error_init(&b.error);
    zip_t *za = zip_new("bomb.docx");
    zip_put(za, "[Content_Types].xml", content_types);
    zip_put(za, "_rels/.rels", rels);
    zip_source_t *src = zip_source_function(za, bomb_cb, &b);
    zip_int64_t idx = src ? zip_file_add(za, "word/document.xml", src, 0) : -1;
    if (idx < 0) die("bomb: %s", zip_strerror(za));
    zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9);
    zip_done(za);
}

/* Rewrites the uncompressed size of word/document.xml in the local header
 * (offset 22) and the central directory entry (offset 24) of a zip. */
static void write_lying_bomb(void)
{
    size_t n;
    unsigned char *d = (unsigned char *)read_file("bomb.docx", &n);
    static const char name[] = "word/document.xml";
    size_t nl = sizeof name - 1, patched = 0;
    for (size_t i = 0; i + 46 + nl <= n; i++) {
        size_t field = 0;
        if (!memcmp(d + i, "PK\3\4", 4) && !memcmp(d + i + 30, name, nl))
            field = i + 22;
        else if (!memcmp(d + i, "PK\1\2", 4) && !memcmp(d + i + 46, name, nl))
            field = i + 24;
        if (!field) continue;
        uint32_t v = 1000;
        for (int k = 0; k < 4; k++)
            d[field + (size_t)k] = (unsigned char)(v >> (8 * k));
        patched++;
    }
    if (patched != 2) die("bomb_lying: patched %zu headers, expected 2", patched);
    write_file("bomb_lying.docx", d, n);
    free(d);
}

static void write_docx_fixtures(void)
{
    member ok[] = {{"[Content_Types].xml", content_types},
                   {"_rels/.rels", rels},
                   {"word/document.xml", document},
                   {"docProps/core.xml", core},
                   {NULL, NULL}};
    write_zip("report.docx", ok);
    member bad[] = {
        {"[Content_Types].xml", content_types}, {"word/document.xml", bad_document}, {NULL, NULL}};
    write_zip("badxml.docx", bad);
    member other[] = {{"readme.txt", "just a text file in a zip archive\n"}, {NULL, NULL}};
    write_zip("notdocx.zip", other);
    write_zip("notdocx.docx", other);

    size_t n;
    char *d = read_file("report.docx", &n);
    write_file("corrupt.docx", d, n / 2);
    free(d);

    write_bomb();
    write_lying_bomb();
}

/* ---- PDF ------------------------------------------------------------------ */

/* Builds a PDF from object bodies 1..n: header, objects at recorded
 * offsets, a cross-reference table of 20-byte entries, the trailer. */
typedef struct pdf {
    char *buf;
    size_t len, cap;
    size_t offs[64];
    int n;
} pdf;

static void pdf_put(pdf *p, const char *s, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        p->cap = (p->len + n + 1) * 2;
        p->buf = realloc(p->buf, p->cap);
        if (!p->buf) die("out of memory");
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = 0;
}

static void pdf_printf(pdf *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pdf_printf(pdf *p, const char *fmt, ...)
{
    char tmp[8192];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp) die("pdf_printf: too long");
    pdf_put(p, tmp, (size_t)k);
}

static void pdf_obj(pdf *p, const char *body)
{
    p->offs[++p->n] = p->len;
    pdf_printf(p, "%d 0 obj\n%s\nendobj\n", p->n, body);
}

static void pdf_stream(pdf *p, const char *content)
{
    p->offs[++p->n] = p->len;
    pdf_printf(p, "%d 0 obj\n<< /Length %zu >>\nstream\n%s\nendstream\nendobj\n", p->n,
               strlen(content), content);
}

static void pdf_finish(pdf *p, int root, int info)
{
    size_t xref = p->len;
    pdf_printf(p, "xref\n0 %d\n0000000000 65535 f \n", p->n + 1);
    for (int i = 1; i <= p->n; i++)
        pdf_printf(p, "%010zu 00000 n \n", p->offs[i]);
    pdf_printf(p, "trailer\n<< /Size %d /Root %d 0 R", p->n + 1, root);
    if (info) pdf_printf(p, " /Info %d 0 R", info);
    pdf_printf(p, " >>\nstartxref\n%zu\n%%%%EOF\n", xref);
}

static pdf pdf_begin(void)
{
    pdf p = {0};
    /* the binary comment line marks the file as binary for transfer tools */
    pdf_put(&p, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15);
    return p;
}

#define FONT "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
#define PAGE(contents)                                                                             \
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R "       \
    ">> >> /Contents " contents " 0 R >>"

/* Objects: 1 catalog, 2 pages, 3 font, then pages and their streams, then
 * the Info dictionary. */
static void write_report_pdf(void)
{
    pdf p = pdf_begin();
    pdf_obj(&p, "<< /Type /Catalog /Pages 2 0 R >>");
    pdf_obj(&p, "<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>");
    pdf_obj(&p, FONT);
    pdf_obj(&p, PAGE("5"));
    pdf_stream(&p, "BT /F1 12 Tf 72 720 Td 14 TL\n"
                   "(Solar power on small islands) Tj T*\n"
                   "(The first page explains photovoltaic infor-) Tj T*\n"
                   "(mation for island grids.) Tj\n"
                   "ET");
    pdf_obj(&p, PAGE("7"));
    pdf_stream(&p, "BT /F1 12 Tf 72 720 Td 14 TL\n"
                   "(The second page covers wind turbines.) Tj\n"
                   "ET");
    pdf_obj(&p, "<< /Title (Renewable Energy Notes) /Author (Fixture) /Producer (mkfixtures) >>");
    pdf_finish(&p, 1, 8);
    write_file("report.pdf", p.buf, p.len);

    /* cut in the middle of page 1's content stream */
    const char *cut = strstr(p.buf, "photovoltaic");
    write_file("truncated.pdf", p.buf, (size_t)(cut - p.buf));
    free(p.buf);
}

static void write_nested_forms_pdf(const char *name, int depth, const char *leaf)
{
    pdf p = pdf_begin();
    pdf_obj(&p, "<< /Type /Catalog /Pages 2 0 R >>");
    pdf_obj(&p, "<< /Type /Pages /Kids [4 0 R] /Count 1 >>");
    pdf_obj(&p, FONT);
    pdf_obj(&p, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << "
                "/F1 3 0 R >> /XObject << /X 6 0 R >> >> /Contents 5 0 R >>");
    pdf_stream(&p, "BT /F1 12 Tf 72 720 Td (A slow document) Tj ET /X Do");
    for (int i = 0; i < depth; i++) {
        char obj[512], res[64] = "";
        int last = i + 1 == depth;
        const char *body = last ? leaf : "/X Do /X Do";
        if (!last) snprintf(res, sizeof res, "/XObject << /X %d 0 R >> ", p.n + 2);
        snprintf(obj, sizeof obj,
                 "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << %s/Font << "
                 "/F1 3 0 R >> >> /Length %zu >>\nstream\n%s\nendstream",
                 res, strlen(body), body);
        pdf_obj(&p, obj);
    }
    pdf_finish(&p, 1, 0);
    write_file(name, p.buf, p.len);
    free(p.buf);
}

static void write_other_pdfs(void)
{
    /* "Café" in WinAnsiEncoding (0xE9 = é, as an octal escape) and a title
     * in UTF-16BE with BOM, as PDF text strings allow */
    pdf p = pdf_begin();
    pdf_obj(&p, "<< /Type /Catalog /Pages 2 0 R >>");
    pdf_obj(&p, "<< /Type /Pages /Kids [4 0 R] /Count 1 >>");
    pdf_obj(&p, FONT);
    pdf_obj(&p, PAGE("5"));
    pdf_stream(&p, "BT /F1 12 Tf 72 720 Td (Caf\\351 au lait costs two euros.) Tj ET");
    pdf_obj(&p, "<< /Title <FEFF00430061006600E9002000470075006900640065> >>");
    pdf_finish(&p, 1, 6);
    write_file("cafe.pdf", p.buf, p.len);
    free(p.buf);

    p = pdf_begin();
    pdf_obj(&p, "<< /Type /Catalog /Pages 2 0 R >>");
    pdf_obj(&p, "<< /Type /Pages /Kids [4 0 R] /Count 1 >>");
    pdf_obj(&p, FONT);
    pdf_obj(&p, PAGE("5"));
    pdf_stream(&p, "1 w 72 72 m 540 720 l S");
    pdf_finish(&p, 1, 0);
    write_file("notext.pdf", p.buf, p.len);
    free(p.buf);

    /* Small on disk, huge to interpret: form XObject i paints form i+1
     * twice, so the page paints the last form 2^depth times. Each level is a
     * separate object, so this is no cycle that a parser would refuse.
     * slow.pdf paints nothing (only the CPU or wall-clock limit ends it);
     * wordy.pdf paints a word each time, and the words pile up in the
     * parser's memory. */
    write_nested_forms_pdf("slow.pdf", 40, "q Q");
    write_nested_forms_pdf("wordy.pdf", 30, "BT /F1 12 Tf 72 700 Td (word) Tj ET");

    /* a header, then bytes that hold no PDF object at all */
    p = pdf_begin();
    uint32_t x = 12345;
    for (int i = 0; i < 4096; i++) {
        x = x * 1103515245u + 12345u;
        char c = (char)('a' + (x >> 16) % 26);
        pdf_put(&p, (x >> 8) % 17 == 0 ? "\n" : &c, 1);
    }
    write_file("corrupt.pdf", p.buf, p.len);
    free(p.buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkfixtures DIR\n");
        return 2;
    }
    dir = argv[1];
    write_docx_fixtures();
    write_report_pdf();
    write_other_pdfs();
    return 0;
}
