/* tests/unit/test_extract.c: file type detection, text decoding and the
 * extractors (text, Markdown, HTML, DOCX, PPTX, XLSX, PDF, ODT/ODS/ODP,
 * EPUB, RTF, images through OCR).
 *
 * DOCX and PDF fixtures come from build/tools/mkfixtures, PPTX, XLSX and
 * more DOCX from build/tools/mkoffice, ODF and EPUB ones from
 * build/tools/mkodf (directory in $RAG_TOOLS), written into this binary's
 * temporary directory; RTF is written here. */
#include "test.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/time.h"
#include "ingest/crawl.h"
#include "ingest/ing_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static int extract_mem(const char *path, const char *data, size_t n, const ing_limits *lim,
                       ing_text *t, rag_err *e)
{
    memset(t, 0, sizeof *t);
    rag_err_clear(e);
    ing_type ty = ing_detect(path, (const uint8_t *)data, n);
    return ing_extract(ty, path, (const uint8_t *)data, n, lim, t, e);
}

static int extract_str(const char *path, const char *s, ing_text *t, rag_err *e)
{
    return extract_mem(path, s, strlen(s), NULL, t, e);
}

static const char *fixtures(void)
{
    static char dir[512];
    static int state; /* 0 not tried, 1 ok, -1 failed */
    if (state == 0) {
        snprintf(dir, sizeof dir, "%s/fixtures", test_tmpdir());
        mkdir(dir, 0700);
        const char *tools = getenv("RAG_TOOLS");
        char cmd[2048];
        const char *td = tools && *tools ? tools : "build/tools";
        snprintf(cmd, sizeof cmd, "'%s/mkfixtures' '%s' && '%s/mkoffice' '%s'", td, dir, td, dir);
        state = system(cmd) == 0 ? 1 : -1;
        if (state < 0) printf("    mkfixtures failed: %s\n", cmd);
    }
    if (state < 0) {
        test_case_failed = 1;
        return NULL;
    }
    return dir;
}

/* Reads fixture `name`, detects and extracts it under `lim` (NULL: defaults).
 * The path in messages is the fixture's full path. */
static const char *odf_fixtures(void)
{
    static char dir[512];
    static int state; /* 0 not tried, 1 ok, -1 failed */
    if (state == 0) {
        snprintf(dir, sizeof dir, "%s/mkodf", test_tmpdir());
        mkdir(dir, 0700);
        const char *tools = getenv("RAG_TOOLS");
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s/mkodf' '%s'", tools && *tools ? tools : "build/tools", dir);
        state = system(cmd) == 0 ? 1 : -1;
        if (state < 0) printf("    mkodf failed: %s\n", cmd);
    }
    if (state < 0) {
        test_case_failed = 1;
        return NULL;
    }
    return dir;
}

static int extract_in(const char *d, const char *name, const ing_limits *lim, ing_text *t,
                      rag_err *e, char *path_out, size_t path_cap)
{
    memset(t, 0, sizeof *t);
    rag_err_clear(e);
    if (!d) return -100;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", d, name);
    if (path_out) snprintf(path_out, path_cap, "%s", path);
    char *data = NULL;
    size_t n = 0;
    rag_err fe = {0};
    if (rag_file_read(path, (size_t)16 << 20, &data, &n, &fe) != 0) {
        printf("    cannot read fixture %s: %s\n", path, fe.msg);
        return -100;
    }
    int rc = ing_extract(ing_detect(path, (uint8_t *)data, n), path, (uint8_t *)data, n, lim, t, e);
    rag_free(data);
    return rc;
}

static int extract_fixture(const char *name, const ing_limits *lim, ing_text *t, rag_err *e,
                           char *path_out, size_t path_cap)
{
    return extract_in(fixtures(), name, lim, t, e, path_out, path_cap);
}

static int extract_odf(const char *name, const ing_limits *lim, ing_text *t, rag_err *e,
                       char *path_out, size_t path_cap)
{
    return extract_in(odf_fixtures(), name, lim, t, e, path_out, path_cap);
}

static ing_type detect_in(const char *d, const char *name, const char *as_name)
{
    if (!d) return ING_TYPE_UNKNOWN;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", d, name);
    char *data = NULL;
    size_t n = 0;
    rag_err fe = {0};
    if (rag_file_read(path, (size_t)16 << 20, &data, &n, &fe) != 0) return ING_TYPE_UNKNOWN;
    ing_type ty = ing_detect(as_name ? as_name : path, (uint8_t *)data, n);
    rag_free(data);
    return ty;
}

static ing_type detect_fixture(const char *name, const char *as_name)
{
    return detect_in(fixtures(), name, as_name);
}

/* Does t hold a block of this kind (and level, for headings) whose text is
 * exactly s? */
static int has_block(const ing_text *t, ing_block_kind kind, int level, const char *s)
{
    for (size_t i = 0; i < t->n_blocks; i++) {
        const ing_block *b = &t->blocks[i];
        if (b->kind == kind && (kind != ING_HEADING || b->level == level) && b->len == strlen(s) &&
            !memcmp(t->text.data + b->start, s, b->len))
            return 1;
    }
    return 0;
}

/* Is there a heading (any level) whose text contains s? */
static int heading_contains(const ing_text *t, const char *s)
{
    for (size_t i = 0; i < t->n_blocks; i++) {
        const ing_block *b = &t->blocks[i];
        if (b->kind != ING_HEADING) continue;
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%.*s", (int)b->len, t->text.data + b->start);
        if (strstr(tmp, s)) return 1;
    }
    return 0;
}

static const char *text_of(const ing_text *t)
{
    return rag_buf_str(&t->text);
}

static int starts_with(const char *s, const char *prefix)
{
    return s && !strncmp(s, prefix, strlen(prefix));
}

/* stderr capture: library code must never print. */
static int saved_stderr = -1;
static char stderr_path[600];

static void stderr_capture(void)
{
    fflush(stderr);
    snprintf(stderr_path, sizeof stderr_path, "%s/stderr.txt", test_tmpdir());
    int fd = open(stderr_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr; returns how many bytes were written meanwhile. */
static long stderr_release(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    struct stat st;
    if (stat(stderr_path, &st) != 0) return -1;
    if (st.st_size > 0) {
        char buf[300] = {0};
        FILE *f = fopen(stderr_path, "r");
        if (f) {
            size_t k = fread(buf, 1, sizeof buf - 1, f);
            buf[k] = 0;
            fclose(f);
        }
        printf("    stderr got: %s\n", buf);
    }
    return (long)st.st_size;
}

static long maxrss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* ---- detection ------------------------------------------------------------ */

static void test_detect_by_content(void)
{
    static const char pdf[] = "%PDF-1.7\n1 0 obj\n";
    CHECK_INT(ing_detect("x.bin", (const uint8_t *)pdf, sizeof pdf - 1), ING_TYPE_PDF);
    /* up to 1 KiB of junk before the header is allowed */
    char junk[1200];
    memset(junk, 'j', sizeof junk);
    memcpy(junk + 1000, pdf, sizeof pdf - 1);
    CHECK_INT(ing_detect("x.bin", (uint8_t *)junk, 1000 + sizeof pdf - 1), ING_TYPE_PDF);
    memset(junk, 'j', sizeof junk);
    memcpy(junk + 1100, pdf, sizeof pdf - 1);
    CHECK_INT(ing_detect("x.bin", (uint8_t *)junk, 1100 + sizeof pdf - 1), ING_TYPE_TEXT);

    static const char *html[] = {
        "<!DOCTYPE html><p>x",    "  \n<HTML lang=en>",
        "\xef\xbb\xbf<html>",     "<?xml version=\"1.0\"?>\n<!-- c --><html xmlns=\"x\">",
        "<head><title>t</title>", "<body>text</body>"};
    for (size_t i = 0; i < sizeof html / sizeof html[0]; i++)
        CHECK_INT(ing_detect("notes.txt", (const uint8_t *)html[i], strlen(html[i])),
                  ING_TYPE_HTML);
    /* "<header>" is not "<head>", and HTML later in a file is just text */
    CHECK_INT(ing_detect("a.txt", (const uint8_t *)"<header>x", 9), ING_TYPE_TEXT);
    CHECK_INT(ing_detect("a.txt", (const uint8_t *)"see <html> here", 15), ING_TYPE_TEXT);
    /* content beats extension: a PDF named .md is a PDF */
    CHECK_INT(ing_detect("x.md", (const uint8_t *)pdf, sizeof pdf - 1), ING_TYPE_PDF);
}

static void test_detect_by_extension(void)
{
    static const char txt[] = "plain words\n";
    const uint8_t *d = (const uint8_t *)txt;
    size_t n = sizeof txt - 1;
    CHECK_INT(ing_detect("a/b/notes.md", d, n), ING_TYPE_MARKDOWN);
    CHECK_INT(ing_detect("NOTES.MARKDOWN", d, n), ING_TYPE_MARKDOWN);
    CHECK_INT(ing_detect("x.mdown", d, n), ING_TYPE_MARKDOWN);
    CHECK_INT(ing_detect("x.mkd", d, n), ING_TYPE_MARKDOWN);
    CHECK_INT(ing_detect("page.htm", d, n), ING_TYPE_HTML);
    CHECK_INT(ing_detect("page.xhtml", d, n), ING_TYPE_HTML);
    static const char *texts[] = {"a.txt",  "a.rst",  "a.csv",       "a.log",   "a.json", "a.yaml",
                                  "main.c", "README", "dir.md/file", ".bashrc", NULL};
    for (int i = 0; texts[i]; i++)
        CHECK_INT(ing_detect(texts[i], d, n), ING_TYPE_TEXT);
    CHECK_INT(ing_detect(NULL, d, n), ING_TYPE_TEXT);
    CHECK_STR(ing_type_name(ING_TYPE_MARKDOWN), "markdown");
    CHECK_STR(ing_type_name(ING_TYPE_UNKNOWN), "unknown");
    CHECK_STR(ing_type_name(ING_TYPE_DOCX), "docx");
}

static void test_detect_binary_is_unknown(void)
{
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                  'I',  'H', 'D', 'R', 0,    0,    1,    0,    0, 0, 1, 0};
    static const uint8_t elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0,    0,
                                  0,    0,   0,   0,   0, 0, 2, 0, 0x3e, 0};
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'x', 'y'};
    static const uint8_t gz_nonul[] = {0x1f, 0x8b, 8, 8, 1, 2, 3, 4, 2, 3, 'x', 'y', 'z'};
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0};
    static const uint8_t bmp[] = {'B', 'M', 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0};
    /* PNG, JPEG and TIFF are images (OCR), whatever their name; GIF and BMP
     * stay unknown */
    CHECK_INT(ing_detect("image.png", png, sizeof png), ING_TYPE_IMAGE);
    CHECK_INT(ing_detect("image.txt", png, sizeof png), ING_TYPE_IMAGE);
    CHECK_INT(ing_detect("a.jpg", (const uint8_t *)"\xff\xd8\xff\xe0\0\x10JFIF", 10),
              ING_TYPE_IMAGE);
    CHECK_INT(ing_detect("a.tif", (const uint8_t *)"II*\0\x08\0\0\0", 8), ING_TYPE_IMAGE);
    CHECK_INT(ing_detect("a.tif", (const uint8_t *)"MM\0*\0\0\0\x08", 8), ING_TYPE_IMAGE);
    CHECK_STR(ing_type_name(ING_TYPE_IMAGE), "image");
    CHECK_INT(ing_detect("a.gif", gif, sizeof gif), ING_TYPE_UNKNOWN);
    CHECK_INT(ing_detect("a.bmp", bmp, sizeof bmp), ING_TYPE_UNKNOWN);
    CHECK_INT(ing_detect("a.out", elf, sizeof elf), ING_TYPE_UNKNOWN);
    CHECK_INT(ing_detect("notes.md", elf, sizeof elf), ING_TYPE_UNKNOWN);
    /* truncated gzip streams: never text; typed as an archive so that the
     * corruption is reported (ingest/archive.c) */
    CHECK_INT(ing_detect("x.gz", gz, sizeof gz), ING_TYPE_ARCHIVE);
    CHECK_INT(ing_detect("x.txt", gz_nonul, sizeof gz_nonul), ING_TYPE_ARCHIVE);
    /* random bytes with NULs */
    uint8_t rnd[4096];
    uint32_t x = 7;
    for (size_t i = 0; i < sizeof rnd; i++) {
        x = x * 1664525u + 1013904223u;
        rnd[i] = (uint8_t)(x >> 24);
    }
    CHECK_INT(ing_detect("data.bin", rnd, sizeof rnd), ING_TYPE_UNKNOWN);
    /* a file starting with "MZ" as text is still text */
    CHECK_INT(ing_detect("a.txt", (const uint8_t *)"MZ is a label\n", 14), ING_TYPE_TEXT);

    ing_text t = {0};
    rag_err e = {0};
    CHECK_INT(ing_extract(ING_TYPE_UNKNOWN, "image.png", png, sizeof png, NULL, &t, &e),
              RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(e.msg, "image.png: binary file of unknown type");
    ing_text_free(&t);
}

static void test_detect_wide_text(void)
{
    static const char le_bom[] = "\xff\xfeh\0e\0l\0l\0o\0";
    static const char le[] = "h\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d\0";
    static const char be[] = "\0h\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d";
    CHECK_INT(ing_detect("a.txt", (const uint8_t *)le_bom, sizeof le_bom - 1), ING_TYPE_TEXT);
    CHECK_INT(ing_detect("a.txt", (const uint8_t *)le, sizeof le - 1), ING_TYPE_TEXT);
    CHECK_INT(ing_detect("a", (const uint8_t *)be, sizeof be - 1), ING_TYPE_TEXT);
    CHECK_INT(ing_detect("a.md", (const uint8_t *)le, sizeof le - 1), ING_TYPE_MARKDOWN);
}

/* A file named .pdf/.docx whose content is not one is still treated as one,
 * so that the user reads "corrupt PDF/DOCX" and not "binary file". */
static void test_detect_misnamed_pdf_docx(void)
{
    static const char txt[] = "this is not a pdf\n";
    CHECK_INT(ing_detect("r.pdf", (const uint8_t *)txt, sizeof txt - 1), ING_TYPE_PDF);
    CHECK_INT(ing_detect("r.docx", (const uint8_t *)txt, sizeof txt - 1), ING_TYPE_DOCX);
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("dir/r.pdf", txt, &t, &e), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, "dir/r.pdf: corrupt PDF"));
    ing_text_free(&t);
    CHECK_INT(extract_str("dir/r.docx", txt, &t, &e), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, "dir/r.docx: corrupt DOCX"));
    ing_text_free(&t);

    /* zips: a DOCX by content whatever its name; another zip is an archive
     * unless it is named .docx (then a corrupt DOCX) */
    CHECK_INT(detect_fixture("report.docx", "upload.bin"), ING_TYPE_DOCX);
    CHECK_INT(detect_fixture("notdocx.zip", NULL), ING_TYPE_ARCHIVE);
    CHECK_INT(detect_fixture("notdocx.docx", NULL), ING_TYPE_DOCX);
    CHECK_INT(detect_fixture("corrupt.docx", NULL), ING_TYPE_DOCX);
    CHECK_INT(detect_fixture("corrupt.docx", "x.zip"), ING_TYPE_ARCHIVE);
    CHECK_INT(detect_fixture("report.pdf", "report"), ING_TYPE_PDF);
}

/* ---- decoding ---------------------------------------------------------------- */

static int decode(const char *data, size_t n, const ing_limits *lim, rag_buf *out, size_t *rep,
                  rag_err *e)
{
    ing_limits dl;
    if (!lim) {
        ing_limits_default(&dl);
        lim = &dl;
    }
    rag_buf_clear(out);
    rag_err_clear(e);
    return ing_decode_text("f.txt", (const uint8_t *)data, n, lim, out, rep, e);
}

static void test_decode_utf8_and_bom(void)
{
    rag_buf b = {0};
    size_t rep = 99;
    rag_err e;
    static const char s[] = "\xef\xbb\xbfhello caf\xc3\xa9";
    CHECK_INT(decode(s, sizeof s - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "hello caf\xc3\xa9");
    CHECK_INT(rep, 0);
    /* 0 bytes: nothing, no error */
    CHECK_INT(decode("", 0, NULL, &b, &rep, &e), 0);
    CHECK_INT(b.len, 0);
    rag_buf_free(&b);
}

static void test_decode_utf16_utf32(void)
{
    rag_buf b = {0};
    size_t rep = 0;
    rag_err e;
    static const char le[] = "\xff\xfeh\0i\0 \0\xe9\0\n\0";
    CHECK_INT(decode(le, sizeof le - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "hi \xc3\xa9\n");
    static const char be[] = "\xfe\xff\0h\0i\0 \0\xe9";
    CHECK_INT(decode(be, sizeof be - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "hi \xc3\xa9");
    /* a surrogate pair: U+1F600 */
    static const char emoji[] = "\xff\xfe"
                                "a\0\x3d\xd8\x00\xde"
                                "b\0";
    CHECK_INT(decode(emoji, sizeof emoji - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "a\xf0\x9f\x98\x80"
                               "b");
    CHECK_INT(rep, 0);
    /* a lone surrogate is repaired and counted */
    static const char lone[] = "\xff\xfe"
                               "a\0\x3d\xd8"
                               "b\0c\0";
    CHECK_INT(decode(lone, sizeof lone - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "a\xef\xbf\xbd"
                               "bc");
    CHECK_INT(rep, 1);
    /* UTF-16LE without BOM, recognised by its NUL pattern */
    static const char nobom[] = "p\0l\0a\0i\0n\0 \0t\0e\0x\0t\0";
    CHECK_INT(decode(nobom, sizeof nobom - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "plain text");
    /* UTF-32BE with BOM */
    static const char u32[] = "\0\0\xfe\xff\0\0\0O\0\0\0K";
    CHECK_INT(decode(u32, sizeof u32 - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "OK");
    rag_buf_free(&b);
}

static void test_decode_legacy_8bit(void)
{
    rag_buf b = {0};
    size_t rep = 0;
    rag_err e;
    static const char latin1[] = "caf\xe9 r\xe9sum\xe9";
    CHECK_INT(decode(latin1, sizeof latin1 - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9");
    CHECK_INT(rep, 0);
    /* Windows-1252 quotes and euro sign */
    static const char cp[] = "\x93quoted\x94 costs 5\x80";
    CHECK_INT(decode(cp, sizeof cp - 1, NULL, &b, &rep, &e), 0);
    CHECK_STR(rag_buf_str(&b), "\xe2\x80\x9cquoted\xe2\x80\x9d costs 5\xe2\x82\xac");
    /* a single accented byte in a long ASCII text is still Latin-1 */
    char big[600];
    memset(big, 'a', sizeof big);
    big[300] = (char)0xe9;
    CHECK_INT(decode(big, sizeof big, NULL, &b, &rep, &e), 0);
    CHECK(b.len == sizeof big + 1 && !memcmp(b.data + 300, "\xc3\xa9", 2));
    CHECK_INT(rep, 0);
    rag_buf_free(&b);
}

static void test_decode_repairs_few_invalid_bytes(void)
{
    /* UTF-8 text (it has é) with one broken byte in 300 */
    char s[300];
    memset(s, 'x', sizeof s);
    memcpy(s, "na\xc3\xafve ", 7);
    s[150] = (char)0xff;
    rag_buf b = {0};
    size_t rep = 0;
    rag_err e;
    CHECK_INT(decode(s, sizeof s, NULL, &b, &rep, &e), 0);
    CHECK_INT(rep, 1);
    CHECK(starts_with(rag_buf_str(&b), "na\xc3\xafve "));
    CHECK(strstr(rag_buf_str(&b), "x\xef\xbf\xbdx") != NULL);
    /* through the text extractor the count reaches ing_text */
    ing_text t;
    CHECK_INT(extract_mem("f.txt", s, sizeof s, NULL, &t, &e), 0);
    CHECK_INT(t.n_repaired, 1);
    ing_text_free(&t);
    rag_buf_free(&b);
}

static void test_decode_refuses_binary(void)
{
    /* control bytes and mostly invalid UTF-8, but no NUL */
    char s[400];
    uint32_t x = 99;
    for (size_t i = 0; i < sizeof s; i++) {
        x = x * 1664525u + 1013904223u;
        s[i] = (char)((x >> 24) | 1);
    }
    memcpy(s, "abcdefghijkl", 12);
    s[12] = (char)0xff;
    rag_buf b = {0};
    size_t rep = 0;
    rag_err e;
    CHECK_INT(decode(s, sizeof s, NULL, &b, &rep, &e), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, "f.txt: not valid text: "));
    CHECK_CONTAINS(e.msg, "% of bytes are invalid UTF-8 (first at offset 12)");
    rag_buf_free(&b);
}

static void test_decode_line_and_text_limits(void)
{
    ing_limits lim;
    ing_limits_default(&lim);
    CHECK_INT(lim.max_line, 1 << 20);
    lim.max_line = 100;
    char s[400];
    memset(s, 'a', sizeof s);
    memcpy(s, "short line\r\nanother\n", 20); /* line 3 starts at offset 20 */
    rag_buf b = {0};
    size_t rep = 0;
    rag_err e;
    CHECK_INT(decode(s, sizeof s, &lim, &b, &rep, &e), RAG_ERR_LIMIT);
    CHECK_STR(e.msg, "f.txt: line 3 is longer than 100 bytes (no line break from offset 20)");
    /* exactly max_line bytes is fine */
    CHECK_INT(decode(s, 120, &lim, &b, &rep, &e), 0);
    /* the same in UTF-16: offsets are file offsets */
    char w[2 + 2 * 150];
    w[0] = (char)0xff, w[1] = (char)0xfe;
    for (int i = 0; i < 150; i++)
        w[2 + 2 * i] = i == 5 ? '\n' : 'b', w[3 + 2 * i] = 0;
    CHECK_INT(decode(w, sizeof w, &lim, &b, &rep, &e), RAG_ERR_LIMIT);
    CHECK_STR(e.msg, "f.txt: line 2 is longer than 100 bytes (no line break from offset 14)");

    ing_limits_default(&lim);
    lim.max_text = 50;
    CHECK_INT(decode(s, 120, &lim, &b, &rep, &e), RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "f.txt: the text is larger than the limit of 50 bytes");
    rag_buf_free(&b);
}

static void test_empty_file(void)
{
    ing_text t = {0};
    rag_err e = {0};
    CHECK_INT(ing_extract(ING_TYPE_TEXT, "docs/empty.txt", (const uint8_t *)"", 0, NULL, &t, &e),
              RAG_ERR_FORMAT);
    CHECK_STR(e.msg, "docs/empty.txt: empty file");
    ing_text_free(&t);
    /* Whitespace only counts as empty, in any text encoding with a BOM. */
    CHECK_INT(extract_str("blank.txt", "  \n\n\t\n", &t, &e), RAG_ERR_FORMAT);
    CHECK_STR(e.msg, "blank.txt: empty file");
    ing_text_free(&t);
    CHECK(ing_is_blank((const uint8_t *)"", 0));
    CHECK(ing_is_blank((const uint8_t *)"\xEF\xBB\xBF \r\n\f\v", 7));
    CHECK(ing_is_blank((const uint8_t *)"\xFF\xFE \0\n\0", 6));
    CHECK(ing_is_blank((const uint8_t *)"\xFE\xFF\0\t", 4));
    CHECK(!ing_is_blank((const uint8_t *)"\xFF\xFEx\0", 4));
    CHECK(!ing_is_blank((const uint8_t *)" .", 2));
    CHECK(!ing_is_blank((const uint8_t *)"\xC2\xA0", 2)); /* NBSP is text to the decoder */
    /* Content that yields no text is still a failure. */
    CHECK_INT(extract_str("r.md", "---\ntitle: x\n---\n", &t, &e), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "no text could be extracted");
    ing_text_free(&t);
}

/* The title of a file without a heading is its first line, unless that
 * line is no title: then the file name. */
static void check_title(const char *path, const char *text, const char *want)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str(path, text, &t, &e), 0);
    if (!t.title || strcmp(t.title, want)) {
        printf("    %s: title '%s', expected '%s'\n", path, t.title ? t.title : "(null)", want);
        test_case_failed = 1;
    }
    CHECK_INT(t.title_in_text, 1); /* never put into the text as a heading */
    ing_text_free(&t);
}

static void test_title_fallback(void)
{
    /* what /usr/share/doc holds */
    check_title("/usr/share/doc/libfoo/copyright",
                "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                "Upstream-Name: foo\n\nFiles: *\nCopyright: 2001 A. Author\n",
                "copyright");
    check_title("doc/NOTES.txt", "#\n\nSome notes on the build.\n", "NOTES.txt");
    check_title("doc/banner.txt", "//////////////////////////\n// The banner\n\nText.\n",
                "banner.txt");
    check_title("x/rule.txt", "----------\n\nBody.\n", "rule.txt");
    /* URLs, licence headers, code comments, key: value headers */
    check_title("a/link.txt", "https://example.org/some/page\n\nSee there.\n", "link.txt");
    check_title("a/www.txt", "www.example.org\n\nSee there.\n", "www.txt");
    check_title("a/c1.txt", "Copyright (C) 2003 Free Software Foundation, Inc.\n\nText.\n",
                "c1.txt");
    check_title("a/c2.txt", "(c) 2010 Someone\n\nText.\n", "c2.txt");
    check_title("a/c3.txt", "\xC2\xA9 2010 Someone\n\nText.\n", "c3.txt");
    check_title("a/spdx.txt", "SPDX-License-Identifier: MIT\n\nText.\n", "spdx.txt");
    check_title("a/gpl.txt", "This program is free software; you can redistribute it\n", "gpl.txt");
    check_title("a/arr.txt", "Foo Corp. All rights reserved.\n\nText.\n", "arr.txt");
    check_title("a/cc.txt", "/* A C comment */\n\nText.\n", "cc.txt");
    check_title("a/cpp.txt", "// line comment\n\nText.\n", "cpp.txt");
    check_title("a/sh.txt", "#!/bin/sh\necho hi\n", "sh.txt");
    check_title("a/ml.txt", "# -*- coding: utf-8 -*-\n\nText.\n", "ml.txt");
    check_title("a/html.txt", "<!-- generated -->\n\nText.\n", "html.txt");
    check_title("a/rst.txt", ":orphan:\n\nText.\n", "rst.txt");
    check_title("a/rst2.txt", ".. include:: ../README.rst\n\nText.\n", "rst2.txt");
    check_title("a/pas.txt", "{$mode objfpc}\nprogram x;\n", "pas.txt");
    check_title("a/ini.txt", "[Unit]\nDescription=x\n", "ini.txt");
    check_title("a/inc.txt", "#include <stdio.h>\n\nText.\n", "inc.txt");
    check_title("a/roff.txt", ".\\\" a roff comment\n\nText.\n", "roff.txt");
    check_title("a/tag.txt", "<div class=\"x\">Hi</div>\n\nText.\n", "tag.txt");
    check_title("a/c4.txt", "foo-defaults is Copyright (C) 2010 Debian.\n\nText.\n", "c4.txt");
    check_title("a/pkg.txt", "Package: foo\nVersion: 1.0\n", "pkg.txt");
    check_title("a/up.txt", "Upstream-Contact: someone\n\nText.\n", "up.txt");
    check_title("a/src.txt", "Source: https://example.org/foo\n\nText.\n", "src.txt");
    /* Markdown without a heading, and a URL as the path */
    check_title("m/page.md", "/////\n\nSome *text*.\n", "page.md");
    check_title("https://example.org/docs/notes.txt?v=2#top", "#\n\nText.\n", "notes.txt");
    check_title("https://example.org/", "#\n\nText.\n", "example.org");
    /* titles that stay */
    check_title("k/a.txt", "Meeting notes\nsecond line\n", "Meeting notes");
    check_title("k/b.txt", "# Intro to the build\n\nText.\n", "Intro to the build");
    check_title("k/c.txt", "Title: The Real Name\nAuthor: me\n\nText.\n", "The Real Name");
    check_title("k/d.txt", "Note: read this first\n\nText.\n", "Note: read this first");
    check_title("k/e.txt", "Chapter 1: The start\n\nText.\n", "Chapter 1: The start");
    check_title("k/f.txt", "2024 budget\n\nText.\n", "2024 budget");
    check_title("k/g.txt", "\xE6\x9D\xB1\xE4\xBA\xAC\n\nText.\n", "\xE6\x9D\xB1\xE4\xBA\xAC");
    check_title("k/h.txt", "GNU GENERAL PUBLIC LICENSE\nVersion 3\n", "GNU GENERAL PUBLIC LICENSE");
    /* titles of the CISI collection that look like headers or notices */
    check_title("k/i.txt", "Copyright, Public Policy, and Information Technology\n\nText.\n",
                "Copyright, Public Policy, and Information Technology");
    check_title("k/j.txt", "Copyright: Its Adequacy in Technological Societies\n\nText.\n",
                "Copyright: Its Adequacy in Technological Societies");
    check_title("k/k.txt", "Science: Growth and Change\nby A. Author\n",
                "Science: Growth and Change");
    check_title("k/l.txt", "Source: a history of printing\n\nText.\n",
                "Source: a history of printing");
    /* ... and headers that are none */
    check_title("h/mail.txt", "From: Alice <alice@example.org>\n\nHi.\n", "mail.txt");
    check_title("h/date.txt", "Date: 2024-05-01\n\nText.\n", "date.txt");
    check_title("h/meta.txt", "Author: Jane Doe\nVersion: 2\n\nText.\n", "meta.txt");
    check_title("h/cr.txt", "Copyright: 2001 A. Author\n\nText.\n", "cr.txt");
    /* no path: no title rather than a wrong one */
    ing_text t;
    rag_err e;
    CHECK_INT(extract_mem(NULL, "#\n\nText.\n", 9, NULL, &t, &e), 0);
    CHECK(t.title == NULL);
    ing_text_free(&t);
}

/* ---- plain text ------------------------------------------------------------- */

/* The extractors set only the titles their formats declare; the fallback
 * (first heading, first line, file name) is given once, by ing_extract,
 * whatever the format, and gives the same title as before. */
typedef int (*extractor_fn)(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                            ing_text *out, rag_err *err);

static void check_title_source(extractor_fn fn, const char *path, const char *s,
                               const char *declared, const char *fallback)
{
    ing_limits lim;
    ing_limits_default(&lim);
    ing_text t = {0};
    rag_err e = {0};
    CHECK_INT(fn(path, (const uint8_t *)s, strlen(s), &lim, &t, &e), 0);
    if (declared) {
        CHECK_STR(t.title, declared);
        CHECK_INT(t.title_in_text, 0);
    } else if (t.title) {
        printf("    %s: the extractor gave the title '%s'\n", path, t.title);
        test_case_failed = 1;
    }
    ing_text_free(&t);
    CHECK_INT(extract_str(path, s, &t, &e), 0);
    CHECK_STR(t.title, declared ? declared : fallback);
    CHECK_INT(t.title_in_text, declared ? 0 : 1);
    ing_text_free(&t);
}

static void test_title_fallback_once(void)
{
    check_title_source(ing_extract_text, "a/notes.txt", "Meeting notes\n\nText.\n", NULL,
                       "Meeting notes");
    check_title_source(ing_extract_text, "a/rule.txt", "----\n\nText.\n", NULL, "rule.txt");
    check_title_source(ing_extract_markdown, "a/doc.md", "Intro line\n\n## Setup\n\nText.\n", NULL,
                       "Setup");
    check_title_source(ing_extract_markdown, "a/fm.md", "---\ntitle: Declared\n---\n# H\n\nText.\n",
                       "Declared", NULL);
    check_title_source(ing_extract_html, "a/p.html",
                       "<html><body><h2>Heading</h2><p>x</p></body></html>", NULL, "Heading");
    check_title_source(ing_extract_html, "a/q.html", "<html><body><p>// code</p></body></html>",
                       NULL, "q.html");
    check_title_source(ing_extract_html, "a/t.html",
                       "<html><head><title>Declared</title></head><body><h1>H</h1></body></html>",
                       "Declared", NULL);
}

static void test_text_paragraphs_and_title(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("n.txt",
                          "\n  Meeting notes  \nsecond line\n\n \t\nPara two\r\n\r\nPara three", &t,
                          &e),
              0);
    CHECK_INT(t.n_blocks, 3);
    CHECK(has_block(&t, ING_PARA, 0, "Meeting notes\nsecond line"));
    CHECK(has_block(&t, ING_PARA, 0, "Para two"));
    CHECK(has_block(&t, ING_PARA, 0, "Para three"));
    CHECK_STR(t.title, "Meeting notes");
    CHECK_INT(t.title_in_text, 1);
    CHECK_STR(t.mime, "text/plain");
    ing_text_free(&t);
}

/* ---- Markdown --------------------------------------------------------------- */

static void test_markdown_headings(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("d.md",
                          "# Top level\n\nintro text\n\n## Sub section ##\n\nSetext One\n===\n\n"
                          "Setext Two\n----------\n\n####### seven hashes\n\n#not-a-heading\n\n"
                          "***\n\n###### Six\n",
                          &t, &e),
              0);
    CHECK(has_block(&t, ING_HEADING, 1, "Top level"));
    CHECK(has_block(&t, ING_HEADING, 2, "Sub section"));
    CHECK(has_block(&t, ING_HEADING, 1, "Setext One"));
    CHECK(has_block(&t, ING_HEADING, 2, "Setext Two"));
    CHECK(has_block(&t, ING_HEADING, 6, "Six"));
    CHECK(has_block(&t, ING_PARA, 0, "intro text"));
    CHECK(has_block(&t, ING_PARA, 0, "####### seven hashes"));
    CHECK(has_block(&t, ING_PARA, 0, "#not-a-heading"));
    CHECK(!strstr(text_of(&t), "***")); /* thematic break dropped */
    CHECK_STR(t.title, "Top level");
    CHECK_INT(t.title_in_text, 1);
    CHECK_STR(t.mime, "text/markdown");
    ing_text_free(&t);
}

static void test_markdown_code_blocks(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("c.md",
                          "Intro\n\n```python\n# not a heading\ndef f():\n    return 1\n```\n\n"
                          "~~~~\n## also not\n```\n~~~~\n\n"
                          "    # indented code\n        deeper\n\nAfter *code* here\n",
                          &t, &e),
              0);
    CHECK(has_block(&t, ING_PRE, 0, "# not a heading\ndef f():\n    return 1"));
    CHECK(has_block(&t, ING_PRE, 0, "## also not\n```"));
    CHECK(has_block(&t, ING_PRE, 0, "# indented code\n    deeper"));
    CHECK(!heading_contains(&t, "not a heading"));
    CHECK(!heading_contains(&t, "also not"));
    CHECK(!heading_contains(&t, "indented code"));
    CHECK(has_block(&t, ING_PARA, 0, "After code here"));
    CHECK_STR(t.title, "Intro"); /* no heading: the first line */
    ing_text_free(&t);
}

static void test_markdown_front_matter(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("f.md",
                          "---\ntitle: \"Install Guide\"\ntags: [setup, linux]\n---\n"
                          "# Installing\n\nRun the script.\n",
                          &t, &e),
              0);
    CHECK_STR(t.title, "Install Guide");
    CHECK_INT(t.title_in_text, 0);
    CHECK(!strstr(text_of(&t), "tags:"));
    CHECK(!strstr(text_of(&t), "---"));
    CHECK(has_block(&t, ING_HEADING, 1, "Installing"));
    ing_text_free(&t);
    /* an unclosed block is no front matter: kept as text */
    CHECK_INT(extract_str("g.md", "---\ntitle: x\nno end\n", &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "no end");
    ing_text_free(&t);
}

static void test_markdown_inline_markup(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("i.md",
                          "Some intro line\n\n# The **Real** Title\n\n"
                          "See [the docs](http://example.com/x) and ![logo](l.png), **bold**, "
                          "_it_ and `code_x`; <https://a.example/p> stays.\n"
                          "snake_case_name and 2*3*4 and a * b stay, \\*escaped\\*.\n\n"
                          "- item one\n- item two\n",
                          &t, &e),
              0);
    CHECK_STR(t.title, "The Real Title");
    CHECK(has_block(&t, ING_HEADING, 1, "The Real Title"));
    CHECK_CONTAINS(text_of(&t),
                   "See the docs and logo, bold, it and code_x; https://a.example/p stays.");
    CHECK(!strstr(text_of(&t), "example.com/x"));
    CHECK(!strstr(text_of(&t), "l.png"));
    CHECK_CONTAINS(text_of(&t), "snake_case_name and 2*3*4 and a * b stay, *escaped*.");
    CHECK(has_block(&t, ING_PARA, 0, "- item one\n- item two"));
    ing_text_free(&t);
}

/* A CommonMark fixture with every heading form, a GFM table, fenced code
 * with '#' lines, an HTML block, lists and YAML front matter. */
static void test_markdown_commonmark_fixture(void)
{
    static const char md[] =
        "---\n"
        "title: \"Fixture Guide\"\n"
        "author: Ann O'Neil\n"
        "Version: 1.2 # a comment\n"
        "tags: [setup, 'linux box']\n"
        "type: not-the-type\n"
        "nested:\n  key: skipped\n"
        "---\n"
        "# One\n## Two ##\n### Three\n#### Four\n##### Five\n###### Six ######\n"
        "\nSetext A\n========\n\nSetext B\n--------\n\n"
        "| Name | Qty |\n|------|----:|\n| apples | 3 |\n| pears | `7` |\n\n"
        "```sh\n# not a heading\necho hi\n```\n\n"
        "<div class=\"note\">\n<p>Inside <b>HTML</b> &amp; more</p>\n"
        "<!-- hidden comment --><script>var x;</script>\n</div>\n\n"
        "1. first *item*\n2. see [the docs](http://x.example/d) and "
        "[](http://only.example)\n   - nested\n\n"
        "> quoted text with <kbd>inline</kbd> html\n";
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("fx.md", md, &t, &e), 0);
    CHECK(has_block(&t, ING_HEADING, 1, "One"));
    CHECK(has_block(&t, ING_HEADING, 2, "Two"));
    CHECK(has_block(&t, ING_HEADING, 3, "Three"));
    CHECK(has_block(&t, ING_HEADING, 4, "Four"));
    CHECK(has_block(&t, ING_HEADING, 5, "Five"));
    CHECK(has_block(&t, ING_HEADING, 6, "Six"));
    CHECK(has_block(&t, ING_HEADING, 1, "Setext A"));
    CHECK(has_block(&t, ING_HEADING, 2, "Setext B"));
    CHECK(has_block(&t, ING_PARA, 0, "Name | Qty\napples | 3\npears | 7"));
    CHECK(has_block(&t, ING_PRE, 0, "# not a heading\necho hi"));
    CHECK(!heading_contains(&t, "not a heading"));
    CHECK(has_block(&t, ING_PARA, 0, "Inside HTML & more"));
    CHECK(has_block(&t, ING_PARA, 0,
                    "1. first item\n2. see the docs and http://only.example\n- nested"));
    CHECK(has_block(&t, ING_PARA, 0, "quoted text with inline html"));
    const char *s = text_of(&t);
    CHECK(!strstr(s, "<"));
    CHECK(!strstr(s, "hidden comment"));
    CHECK(!strstr(s, "var x"));
    CHECK(!strstr(s, "x.example/d"));
    CHECK(!strstr(s, "author"));
    CHECK(!strstr(s, "---"));
    CHECK(!strstr(s, "|---"));
    CHECK_STR(t.title, "Fixture Guide");
    CHECK_INT(t.title_in_text, 0);
    char *meta = rag_xstrndup(t.meta.data ? t.meta.data : "", t.meta.len);
    CHECK_STR(meta,
              "\"author\":\"Ann O'Neil\",\"version\":\"1.2\",\"tags\":[\"setup\",\"linux box\"]");
    rag_free(meta);
    /* the block order: headings, table, code, HTML, list, quote */
    CHECK_INT(t.n_blocks, 13);
    if (t.n_blocks == 13) {
        CHECK_INT(t.blocks[0].kind, ING_HEADING);
        CHECK_INT(t.blocks[9].kind, ING_PRE);
    }
    ing_text_free(&t);

    /* the chunk heading paths follow the heading levels */
    CHECK_INT(
        extract_str("hp.md", "# Guide\n\n## Install\n\nRun make.\n\n```\n# comment\n```\n", &t, &e),
        0);
    ing_chunk_params p;
    ing_chunk_params_default(&p);
    p.min_tokens = 1;
    ing_chunks c = {0};
    ing_chunk_text(&t, &p, &c);
    CHECK(c.n >= 1);
    int found = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (strstr(c.v[i].heading_path, "comment")) found = -1000;
        if (!strcmp(c.v[i].heading_path, "Guide \xE2\x80\xBA Install")) found++;
    }
    CHECK(found > 0);
    ing_chunks_free(&c);
    ing_text_free(&t);
}

/* TOML front matter, odd YAML, limits and broken bytes. */
static void test_markdown_front_matter_toml_and_limits(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(
        extract_str("toml.md",
                    "+++\ntitle = \"Toml Title\"\ndraft = false\n[params]\nx = 1\n+++\n\nBody.\n",
                    &t, &e),
        0);
    CHECK_STR(t.title, "Toml Title");
    char *meta = rag_xstrndup(t.meta.data ? t.meta.data : "", t.meta.len);
    CHECK_STR(meta, "\"draft\":\"false\",\"x\":\"1\"");
    rag_free(meta);
    CHECK(has_block(&t, ING_PARA, 0, "Body."));
    CHECK_INT(t.n_blocks, 1);
    ing_text_free(&t);

    /* at most 32 keys, values cut to 1 KiB, keys sanitised */
    rag_buf b = {0};
    rag_buf_puts(&b, "---\n");
    for (int i = 0; i < 40; i++)
        rag_buf_printf(&b, "Key.%d: v%d\n", i, i);
    rag_buf_puts(&b, "long: ");
    for (int i = 0; i < 3000; i++)
        rag_buf_putc(&b, 'x');
    rag_buf_puts(&b, "\n---\nText.\n");
    CHECK_INT(extract_mem("many.md", b.data, b.len, NULL, &t, &e), 0);
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"key_0\":\"v0\"");
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"key_31\":\"v31\"");
    CHECK(!strstr(rag_buf_str(&t.meta), "key_32"));
    CHECK(!strstr(rag_buf_str(&t.meta), "long"));
    ing_text_free(&t);
    rag_buf_clear(&b);
    rag_buf_puts(&b, "---\nlong: ");
    for (int i = 0; i < 3000; i++)
        rag_buf_putc(&b, 'x');
    rag_buf_puts(&b, "\n---\nText.\n");
    CHECK_INT(extract_mem("long.md", b.data, b.len, NULL, &t, &e), 0);
    CHECK_INT(t.meta.len, strlen("\"long\":\"\"") + 1024);
    ing_text_free(&t);

    /* invalid UTF-8 is repaired and counted */
    CHECK_INT(
        extract_str("bad.md", "# Caf\xC3\xA9 menu\n\nna\xFFve text, a longer paragraph\n", &t, &e),
        0);
    CHECK_INT(t.n_repaired, 1);
    CHECK(has_block(&t, ING_HEADING, 1, "Caf\xC3\xA9 menu"));
    CHECK_CONTAINS(text_of(&t), "\xEF\xBF\xBD");
    ing_text_free(&t);

    /* the text limit */
    ing_limits lim;
    ing_limits_default(&lim);
    rag_buf_clear(&b);
    for (int i = 0; i < 200; i++)
        rag_buf_puts(&b, "Some paragraph text here.\n\n");
    lim.max_text = 1000;
    CHECK_INT(extract_mem("big.md", b.data, b.len, &lim, &t, &e), RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "big.md");
    ing_text_free(&t);

    /* deep nesting and a hostile table stay quick and bounded */
    rag_buf_clear(&b);
    for (int i = 0; i < 100000; i++)
        rag_buf_puts(&b, "> ");
    rag_buf_puts(&b, "deep\n\n");
    for (int i = 0; i < 50000; i++)
        rag_buf_puts(&b, "- ");
    rag_buf_puts(&b, "item\n\n|a|b|\n|-|-|\n");
    for (int i = 0; i < 20000; i++)
        rag_buf_puts(&b, "|x|\n");
    double t0 = rag_now_ms();
    CHECK_INT(extract_mem("deep.md", b.data, b.len, NULL, &t, &e), 0);
    CHECK(rag_now_ms() - t0 < 10000);
    CHECK_CONTAINS(text_of(&t), "deep");
    CHECK_CONTAINS(text_of(&t), "item");
    ing_text_free(&t);
    /* a header of 5000 columns over 2000 short rows would pad to ten million
     * cells: read without tables, the text stays */
    rag_buf_clear(&b);
    for (int i = 0; i < 5000; i++)
        rag_buf_puts(&b, "a|");
    rag_buf_putc(&b, '\n');
    for (int i = 0; i < 5000; i++)
        rag_buf_puts(&b, "-|");
    rag_buf_putc(&b, '\n');
    for (int i = 0; i < 2000; i++)
        rag_buf_puts(&b, "x|y\n");
    t0 = rag_now_ms();
    CHECK_INT(extract_mem("wide.md", b.data, b.len, NULL, &t, &e), 0);
    CHECK(rag_now_ms() - t0 < 10000);
    CHECK_CONTAINS(text_of(&t), "x|y");
    CHECK(t.text.len < 2 * b.len);
    ing_text_free(&t);
    rag_buf_free(&b);
}

/* ---- HTML ------------------------------------------------------------------ */

static void test_html_structure(void)
{
    static const char html[] =
        "<!DOCTYPE html><html><head><title>Page  Title</title>"
        "<style>.x{color:red}</style><script>var secretToken=1;</script></head><body>"
        "<nav>Menu</nav><h1>Main heading</h1><p>First para</p><p>Second para</p>"
        "<h2>Sub <em>heading</em></h2><ul><li>one</li><li>two</li></ul>"
        "<ol><li>first</li><li>second</li></ol>"
        "<table><tr><th>Name</th><th>Qty</th></tr><tr><td>apples</td><td>3</td></tr></table>"
        "<div>left</div><div>right</div><p>in<b>line</b> stays <a href=\"#\">together</a></p>"
        "<p>line<br>break</p><script>alert('boo')</script><noscript>enable js</noscript>"
        "<template><p>tmpl</p></template><svg><text>svgtext</text></svg>"
        "<p hidden>hidden text</p><pre>  code\n    indented</pre>"
        "<footer>Contact us</footer></body></html>";
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("p.html", html, &t, &e), 0);
    const char *s = text_of(&t);
    CHECK_STR(t.title, "Page Title");
    CHECK_INT(t.title_in_text, 0);
    CHECK_STR(t.mime, "text/html");
    CHECK(!strstr(s, "secretToken"));
    CHECK(!strstr(s, "color"));
    CHECK(!strstr(s, "boo"));
    CHECK(!strstr(s, "enable js"));
    CHECK(!strstr(s, "tmpl"));
    CHECK(!strstr(s, "svgtext"));
    CHECK(!strstr(s, "hidden text"));
    CHECK(!strstr(s, "Page Title")); /* the title is not text */
    CHECK(has_block(&t, ING_HEADING, 1, "Main heading"));
    CHECK(has_block(&t, ING_HEADING, 2, "Sub heading"));
    CHECK(has_block(&t, ING_PARA, 0, "First para"));
    CHECK(has_block(&t, ING_PARA, 0, "Second para"));
    CHECK(!strstr(s, "paraSecond"));
    CHECK(has_block(&t, ING_PARA, 0, "- one\n- two"));
    CHECK(has_block(&t, ING_PARA, 0, "1. first\n2. second"));
    CHECK(has_block(&t, ING_PARA, 0, "Name | Qty\napples | 3"));
    CHECK(has_block(&t, ING_PARA, 0, "left"));
    CHECK(has_block(&t, ING_PARA, 0, "right"));
    CHECK(has_block(&t, ING_PARA, 0, "inline stays together"));
    CHECK(has_block(&t, ING_PARA, 0, "line\nbreak"));
    CHECK(has_block(&t, ING_PRE, 0, "  code\n    indented"));
    CHECK_CONTAINS(s, "Menu");       /* nav is kept */
    CHECK_CONTAINS(s, "Contact us"); /* footer is kept */
    ing_text_free(&t);

    /* no <title>: the first heading */
    CHECK_INT(extract_str("q.html", "<html><body><p>x</p><h3>Deep</h3></body></html>", &t, &e), 0);
    CHECK_STR(t.title, "Deep");
    ing_text_free(&t);
    /* nothing visible */
    CHECK_INT(extract_str("r.html", "<html><body><script>x()</script></body></html>", &t, &e),
              RAG_ERR_FORMAT);
    CHECK_STR(e.msg, "r.html: no text could be extracted");
    ing_text_free(&t);
}

static void test_html_charsets(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_str("l.html",
                          "<html><head><meta charset=\"ISO-8859-1\"></head>"
                          "<body><p>caf\xe9 cr\xe8me</p></body></html>",
                          &t, &e),
              0);
    CHECK_CONTAINS(text_of(&t), "caf\xc3\xa9 cr\xc3\xa8me");
    ing_text_free(&t);
    CHECK_INT(extract_str("m.html",
                          "<html><head><meta http-equiv=\"Content-Type\" "
                          "content=\"text/html; charset=iso-8859-1\"><title>R\xe9sum\xe9</title>"
                          "</head><body><p>na\xefve</p></body></html>",
                          &t, &e),
              0);
    CHECK_CONTAINS(text_of(&t), "na\xc3\xafve");
    CHECK_STR(t.title, "R\xc3\xa9sum\xc3\xa9");
    ing_text_free(&t);
    /* undeclared: UTF-8 when valid... */
    CHECK_INT(
        extract_str("u.html", "<html><body><p>caf\xc3\xa9 \xe2\x82\xac</p></body></html>", &t, &e),
        0);
    CHECK_CONTAINS(text_of(&t), "caf\xc3\xa9 \xe2\x82\xac");
    ing_text_free(&t);
    /* ...Windows-1252 otherwise */
    CHECK_INT(
        extract_str("w.html", "<html><body><p>\x93quoted\x94 caf\xe9</p></body></html>", &t, &e),
        0);
    CHECK_CONTAINS(text_of(&t), "\xe2\x80\x9cquoted\xe2\x80\x9d caf\xc3\xa9");
    ing_text_free(&t);
}

static void test_html_malformed_is_recovered_quietly(void)
{
    ing_text t;
    rag_err e;
    stderr_capture();
    int rc = extract_str("bad.html",
                         "<html><body><p>unclosed <b>bold <i>text<p>next</div></span>"
                         "<li>item<table><td>cell</tr></font>&bogus; &amp; end",
                         &t, &e);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(text_of(&t), "unclosed bold text");
    CHECK_CONTAINS(text_of(&t), "next");
    CHECK_CONTAINS(text_of(&t), "item");
    CHECK_CONTAINS(text_of(&t), "cell");
    CHECK_CONTAINS(text_of(&t), "& end");
    CHECK_INT(noise, 0);
    ing_text_free(&t);
}

static void test_html_text_limit(void)
{
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_text = 1000;
    rag_buf b = {0};
    rag_buf_puts(&b, "<html><body>");
    for (int i = 0; i < 200; i++)
        rag_buf_puts(&b, "<p>some words here</p>");
    ing_text t;
    rag_err e;
    CHECK_INT(extract_mem("big.html", b.data, b.len, &lim, &t, &e), RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "big.html: the text is larger than the limit of 1000 bytes");
    ing_text_free(&t);
    rag_buf_free(&b);
}

/* ---- DOCX ------------------------------------------------------------------- */

static void test_docx_report(void)
{
    ing_text t;
    rag_err e;
    stderr_capture();
    int rc = extract_fixture("report.docx", NULL, &t, &e, NULL, 0);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    const char *s = text_of(&t);
    CHECK_STR(t.title, "Quarterly Report 2024");
    CHECK_INT(t.title_in_text, 0);
    CHECK(has_block(&t, ING_HEADING, 1, "Introduction"));
    CHECK(has_block(&t, ING_HEADING, 2, "Results"));
    /* runs join without spaces; a tab is a space after normalisation; a
     * line break stays */
    CHECK(has_block(&t, ING_PARA, 0,
                    "The zebrafish project started in March. Budget:\nforty thousand euros."));
    CHECK(has_block(&t, ING_PARA, 0, "Revenue grew by twelve percent."));
    CHECK(has_block(&t, ING_PARA, 0, "Region | Sales\nNorth | 100\nSouth | 200"));
    CHECK(has_block(&t, ING_PARA, 0, "Closing remarks follow the table."));
    CHECK(!strstr(s, "SECRETDELETED"));
    CHECK(!strstr(s, "left")); /* the tab stop definition is no text */
    CHECK_STR(t.mime, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    CHECK_INT(noise, 0);
    ing_text_free(&t);
}

static void test_docx_zip_bomb(void)
{
    ing_text t;
    rag_err e;
    char path[1100];
    const char *d = fixtures();
    if (!d) return;
    long rss0 = maxrss_mb();
    double t0 = rag_now_s();
    int rc = extract_fixture("bomb.docx", NULL, &t, &e, path, sizeof path);
    double dt = rag_now_s() - t0;
    long rss1 = maxrss_mb();
    CHECK_INT(rc, RAG_ERR_LIMIT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "word/document.xml expands more than 200x (zip bomb?)");
    CHECK(dt < 2.0);
    CHECK(rss1 - rss0 < 64);
    if (rss1 - rss0 >= 64) printf("    peak RSS grew by %ld MB\n", rss1 - rss0);
    ing_text_free(&t);

    /* headers that understate the size do not help */
    t0 = rag_now_s();
    rc = extract_fixture("bomb_lying.docx", NULL, &t, &e, path, sizeof path);
    dt = rag_now_s() - t0;
    long rss2 = maxrss_mb();
    CHECK(rc == RAG_ERR_LIMIT || rc == RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "word/document.xml");
    CHECK(dt < 2.0);
    CHECK(rss2 - rss0 < 64);
    ing_text_free(&t);

    /* with the ratio check out of the way, the total cap stops it */
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_zip_ratio = 1000000;
    lim.max_unzipped = 4 << 20;
    rc = extract_fixture("bomb.docx", &lim, &t, &e, path, sizeof path);
    CHECK_INT(rc, RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "expands to more than 4194304 bytes");
    ing_text_free(&t);
}

static void test_docx_broken(void)
{
    ing_text t;
    rag_err e;
    char path[1100];
    CHECK_INT(extract_fixture("corrupt.docx", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": corrupt DOCX: ");
    ing_text_free(&t);

    stderr_capture();
    int rc = extract_fixture("badxml.docx", NULL, &t, &e, path, sizeof path);
    long noise = stderr_release();
    CHECK_INT(rc, RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "word/document.xml: malformed XML at line 3");
    CHECK_INT(noise, 0);
    ing_text_free(&t);

    CHECK_INT(extract_fixture("notdocx.docx", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "no word/document.xml");
    ing_text_free(&t);

    /* an archive is no document: its members are (ing_members) */
    CHECK_INT(extract_fixture("notdocx.zip", NULL, &t, &e, path, sizeof path), RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(e.msg, "its members are the documents");
    ing_text_free(&t);
}

/* ---- PDF ------------------------------------------------------------------- */

#ifdef RAG_HAVE_POPPLER
static int no_child_left(void)
{
    int st;
    return waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD;
}

static void test_pdf_report(void)
{
    ing_text t;
    rag_err e;
    stderr_capture();
    int rc = extract_fixture("report.pdf", NULL, &t, &e, NULL, 0);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    const char *s = text_of(&t);
    CHECK_STR(t.title, "Renewable Energy Notes");
    CHECK_INT(t.title_in_text, 0);
    CHECK_STR(t.mime, "application/pdf");
    CHECK_CONTAINS(s, "Solar power on small islands");
    CHECK_CONTAINS(s, "photovoltaic information for island grids.");
    CHECK_CONTAINS(s, "The second page covers wind turbines.");
    /* page 2 is its own paragraph */
    CHECK(has_block(&t, ING_PARA, 0, "The second page covers wind turbines."));
    CHECK_INT(noise, 0);
    CHECK(no_child_left());
    ing_text_free(&t);

    CHECK_INT(extract_fixture("cafe.pdf", NULL, &t, &e, NULL, 0), 0);
    CHECK_CONTAINS(text_of(&t), "Caf\xc3\xa9 au lait costs two euros.");
    CHECK_STR(t.title, "Caf\xc3\xa9 Guide");
    ing_text_free(&t);
}

static void test_pdf_errors(void)
{
    ing_text t;
    rag_err e;
    char path[1100];
    stderr_capture();
    int rc = extract_fixture("notext.pdf", NULL, &t, &e, path, sizeof path);
    CHECK_INT(rc, RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
#if defined(RAG_HAVE_TESSERACT) && defined(RAG_HAVE_CAIRO)
    /* its blank page is OCR'd, in vain */
    CHECK_CONTAINS(e.msg, "the PDF has no text layer and OCR found no text in its pages");
#else
    CHECK_CONTAINS(e.msg, "the PDF has no text layer (scanned? OCR is not supported)");
#endif
    ing_text_free(&t);

    rc = extract_fixture("corrupt.pdf", NULL, &t, &e, path, sizeof path);
    CHECK_INT(rc, RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": corrupt PDF: ");
    ing_text_free(&t);

    /* cut inside page 1: an error or what could be salvaged, never a crash
     * and never text that was not there */
    rc = extract_fixture("truncated.pdf", NULL, &t, &e, path, sizeof path);
    CHECK(rc == 0 || rc == RAG_ERR_FORMAT);
    if (rc == 0)
        CHECK(!strstr(text_of(&t), "wind turbines"));
    else
        CHECK(starts_with(e.msg, path));
    ing_text_free(&t);
    long noise = stderr_release();
    CHECK_INT(noise, 0);
    CHECK(no_child_left());
}

static void test_pdf_limits(void)
{
    ing_text t;
    rag_err e;
    char path[1100];
    ing_limits lim;
    double t0;

    /* a file that would take hours: stopped by the CPU limit... */
    ing_limits_default(&lim);
    lim.pdf_cpu_s = 1;
    t0 = rag_now_s();
    CHECK_INT(extract_fixture("slow.pdf", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    CHECK(rag_now_s() - t0 < 10);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": PDF parser stopped at the CPU time limit of 1 s");
    ing_text_free(&t);
    CHECK(no_child_left());

    /* ...or by the wall-clock deadline, whichever comes first */
    ing_limits_default(&lim);
    lim.pdf_timeout_s = 1;
    t0 = rag_now_s();
    CHECK_INT(extract_fixture("slow.pdf", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    CHECK(rag_now_s() - t0 < 10);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": PDF parser timed out after 1 s");
    ing_text_free(&t);
    CHECK(no_child_left());

    /* extracted text over max_text */
    ing_limits_default(&lim);
    lim.max_text = 40;
    CHECK_INT(extract_fixture("report.pdf", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "the text is larger than the limit of 40 bytes");
    ing_text_free(&t);
    CHECK(no_child_left());
}

/* The address-space limit is not set under AddressSanitizer (see pdf.c). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static void test_pdf_memory_limit(void)
{
#ifdef TEST_ASAN
    SKIP("no RLIMIT_AS under AddressSanitizer");
#else
    ing_text t;
    rag_err e;
    char path[1100];
    ing_limits lim;
    ing_limits_default(&lim);
    lim.pdf_mem = (size_t)64 << 20;
    double t0 = rag_now_s();
    CHECK_INT(extract_fixture("wordy.pdf", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    CHECK(rag_now_s() - t0 < 10);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": PDF parser ran out of memory (limit 64 MiB)");
    ing_text_free(&t);
    CHECK(no_child_left());
#endif
}
#else
static void test_pdf_not_built(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract_fixture("report.pdf", NULL, &t, &e, NULL, 0), RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(e.msg, "PDF support was not built (install libpoppler-glib-dev and rebuild)");
    ing_text_free(&t);
}
#endif

/* ---- PPTX, XLSX, DOCX extras ------------------------------------------------ */

/* The offset of s in t's text, or -1. */
static long pos_of(const ing_text *t, const char *s)
{
    const char *p = strstr(text_of(t), s);
    return p ? (long)(p - text_of(t)) : -1;
}

/* a, b, c... appear in this order in t's text */
static int in_order(const ing_text *t, const char *const *v)
{
    long last = -1;
    for (; *v; v++) {
        long p = pos_of(t, *v);
        if (p <= last) {
            printf("    out of order or missing: %s\n", *v);
            return 0;
        }
        last = p;
    }
    return 1;
}

static void test_ooxml_detect(void)
{
    CHECK_INT(detect_fixture("deck.pptx", "upload.bin"), ING_TYPE_PPTX);
    CHECK_INT(detect_fixture("plain.pptx", "upload.bin"), ING_TYPE_PPTX); /* by part name */
    CHECK_INT(detect_fixture("book.xlsx", "upload.zip"), ING_TYPE_XLSX);
    CHECK_INT(detect_fixture("extras.docx", "upload"), ING_TYPE_DOCX);
    CHECK_INT(detect_fixture("cut.xlsx", NULL), ING_TYPE_XLSX); /* broken, named so */
    /* a broken zip not named as a document is reported as a corrupt archive */
    CHECK_INT(detect_fixture("cut.xlsx", "x.zip"), ING_TYPE_ARCHIVE);
    CHECK_INT(detect_fixture("notdocx.zip", "x.pptx"), ING_TYPE_PPTX);
    static const char txt[] = "not a deck\n";
    CHECK_INT(ing_detect("a.pptx", (const uint8_t *)txt, sizeof txt - 1), ING_TYPE_PPTX);
    CHECK_INT(ing_detect("a.XLSX", (const uint8_t *)txt, sizeof txt - 1), ING_TYPE_XLSX);
    CHECK_INT(ing_detect("a.xlsx", (const uint8_t *)"", 0), ING_TYPE_XLSX);
    CHECK_STR(ing_type_name(ING_TYPE_PPTX), "pptx");
    CHECK_STR(ing_type_name(ING_TYPE_XLSX), "xlsx");
    CHECK_INT(ing_type_of_mime(
                  "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
              ING_TYPE_PPTX);
    CHECK_INT(
        ing_type_of_mime("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; x=1"),
        ING_TYPE_XLSX);
}

static void test_pptx_deck(void)
{
    ing_text t;
    rag_err e;
    stderr_capture();
    int rc = extract_fixture("deck.pptx", NULL, &t, &e, NULL, 0);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.title, "Expedition Deck");
    CHECK_STR(t.mime, "application/vnd.openxmlformats-officedocument.presentationml.presentation");
    /* show order (slide3.xml, slide1.xml, slide2.xml), not file-name order */
    CHECK(has_block(&t, ING_HEADING, 1, "Slide 1: Welcome aboard"));
    CHECK(has_block(&t, ING_HEADING, 1, "Slide 2: Budget review"));
    CHECK(has_block(&t, ING_HEADING, 1, "Slide 3"));
    CHECK(has_block(&t, ING_PARA, 0, "The aardvark agenda")); /* runs joined */
    CHECK(has_block(&t, ING_PARA, 0, "Item | Cost\nTents | 40"));
    CHECK(has_block(&t, ING_HEADING, 2, "Notes"));
    static const char *const order[] = {"Slide 1: Welcome aboard",
                                        "The aardvark agenda",
                                        "Speak about aardvarks slowly",
                                        "Slide 2: Budget review",
                                        "Quokka spending rose",
                                        "Second point",
                                        "Item | Cost",
                                        "Mention the quokka budget overrun",
                                        "Slide 3",
                                        "Final wombat thoughts",
                                        NULL};
    CHECK(in_order(&t, order));
    CHECK(!strstr(text_of(&t), "99")); /* the notes page's slide number */
    /* the title shape is the heading, not repeated as a paragraph */
    CHECK(!has_block(&t, ING_PARA, 0, "Budget review"));
    CHECK_INT(noise, 0);
    ing_text_free(&t);
}

static void test_xlsx_book(void)
{
    ing_text t;
    rag_err e;
    int rc = extract_fixture("book.xlsx", NULL, &t, &e, NULL, 0);
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.title, "Stock Book");
    CHECK_STR(t.mime, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    CHECK(has_block(&t, ING_HEADING, 1, "Inventory"));
    CHECK(has_block(&t, ING_HEADING, 1, "Misc"));
    /* header row: shared strings, rich runs joined, phonetic text left out */
    CHECK(has_block(&t, ING_PARA, 0, "Item: Brass lantern; Count: 12; Price: 3.5; In stock: TRUE"));
    /* a formula's cached value; a column without header by its letter */
    CHECK(has_block(&t, ING_PARA, 0, "Item: Compass; Count: 7; Price: 14; E: 0.25"));
    /* no header row: cells joined */
    CHECK(has_block(&t, ING_PARA, 0, "42 | remember the platypus"));
    CHECK(has_block(&t, ING_PARA, 0, "FALSE | 42x"));
    static const char *const order[] = {"Inventory", "Brass lantern", "Compass",
                                        "Misc",      "platypus",      NULL};
    CHECK(in_order(&t, order)); /* workbook order, not sheet1.xml first */
    CHECK(!strstr(text_of(&t), "PHONETIC"));
    CHECK(!strstr(text_of(&t), "B3*2"));
    CHECK(!t.meta.len);
    ing_text_free(&t);

    /* more rows than a sheet may give: truncated, and said so */
    stderr_capture();
    rc = extract_fixture("big.xlsx", NULL, &t, &e, NULL, 0);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    CHECK(has_block(&t, ING_PARA, 0, "100000 | 7"));
    CHECK(!has_block(&t, ING_PARA, 0, "100001 | 7"));
    CHECK(has_block(&t, ING_PARA, 0, "42 | remember the platypus")); /* the next sheet */
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"truncated\":\"sheet 'Inventory' after 100000 rows");
    CHECK(noise > 0); /* the warning */
    ing_text_free(&t);
}

static void test_docx_extras(void)
{
    ing_text t;
    rag_err e;
    int rc = extract_fixture("extras.docx", NULL, &t, &e, NULL, 0);
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.title, "Sea Creatures");
    /* custom styles: outline level in the style; "heading 2" through basedOn;
     * outline level on the paragraph; a basedOn cycle is body text */
    CHECK(has_block(&t, ING_HEADING, 1, "Chapter about narwhals"));
    CHECK(has_block(&t, ING_HEADING, 2, "Sub about tusks"));
    CHECK(has_block(&t, ING_HEADING, 3, "Deep level heading"));
    CHECK(has_block(&t, ING_PARA, 0, "Looping style is body text"));
    CHECK(has_block(&t, ING_PARA, 0, "Narwhal body text continues."));
    CHECK(has_block(&t, ING_PARA, 0, "[1] Footnote about ivory trade."));
    CHECK(has_block(&t, ING_PARA, 0, "Alice: Check the narwhal count."));
    static const char *const order[] = {"Chapter about narwhals",
                                        "Looping style",
                                        "Footnotes",
                                        "[1] Footnote about ivory",
                                        "Comments",
                                        "Alice: Check",
                                        "Headers and footers",
                                        "Confidential ocelot header",
                                        "Page footer margay",
                                        NULL};
    CHECK(in_order(&t, order));
    /* the same footer in two parts is given once */
    const char *f = strstr(text_of(&t), "Page footer margay");
    CHECK(f && !strstr(f + 1, "Page footer margay"));
    ing_text_free(&t);

    /* the plain report has no extras and keeps its blocks */
    CHECK_INT(extract_fixture("report.docx", NULL, &t, &e, NULL, 0), 0);
    CHECK(!heading_contains(&t, "Footnotes"));
    CHECK(!heading_contains(&t, "Headers and footers"));
    ing_text_free(&t);
}

static void test_ooxml_broken(void)
{
    ing_text t;
    rag_err e;
    char path[1100];
    stderr_capture();
    CHECK_INT(extract_fixture("badslide.pptx", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "ppt/slides/slide2.xml: malformed XML at line 4");
    ing_text_free(&t);
    CHECK_INT(extract_fixture("noslide.pptx", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "corrupt PPTX: slide 2 (ppt/slides/slide1.xml) is missing");
    ing_text_free(&t);
    CHECK_INT(extract_fixture("badsheet.xlsx", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "xl/worksheets/sheet1.xml: malformed XML at line 3");
    ing_text_free(&t);
    CHECK_INT(extract_fixture("cut.xlsx", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, ": corrupt XLSX: ");
    ing_text_free(&t);
    CHECK_INT(extract_fixture("notdocx.zip", NULL, &t, &e, path, sizeof path), RAG_ERR_UNSUPPORTED);
    ing_text_free(&t);
    /* a zip named .pptx without a presentation */
    char *data = NULL;
    size_t n = 0;
    rag_err fe = {0};
    snprintf(path, sizeof path, "%s/notdocx.zip", fixtures());
    if (rag_file_read(path, 1 << 20, &data, &n, &fe) == 0) {
        memset(&t, 0, sizeof t);
        CHECK_INT(ing_extract(ING_TYPE_PPTX, "x.pptx", (uint8_t *)data, n, NULL, &t, &e),
                  RAG_ERR_FORMAT);
        CHECK_CONTAINS(e.msg, "x.pptx: not a PPTX: the archive has no ppt/presentation.xml");
        ing_text_free(&t);
        memset(&t, 0, sizeof t);
        CHECK_INT(ing_extract(ING_TYPE_XLSX, "x.xlsx", (uint8_t *)data, n, NULL, &t, &e),
                  RAG_ERR_FORMAT);
        CHECK_CONTAINS(e.msg, "x.xlsx: not an XLSX: the archive has no xl/workbook.xml");
        ing_text_free(&t);
        rag_free(data);
    }
    CHECK_INT(stderr_release(), 0);
}

/* ---- OpenDocument, EPUB, RTF ---------------------------------------------- */

/* The offset of s in t's text, or -1. */
static long text_pos(const ing_text *t, const char *s)
{
    const char *p = strstr(text_of(t), s);
    return p ? (long)(p - text_of(t)) : -1;
}

static void test_detect_odf_epub_rtf(void)
{
    const char *d = odf_fixtures();
    if (!d) return;
    CHECK_INT(detect_in(d, "report.odt", NULL), ING_TYPE_ODT);
    CHECK_INT(detect_in(d, "sheet.ods", NULL), ING_TYPE_ODS);
    CHECK_INT(detect_in(d, "deck.odp", NULL), ING_TYPE_ODP);
    CHECK_INT(detect_in(d, "book.epub", NULL), ING_TYPE_EPUB);
    /* by content, whatever the name */
    CHECK_INT(detect_in(d, "report.odt", "upload.zip"), ING_TYPE_ODT);
    CHECK_INT(detect_in(d, "book.epub", "upload.bin"), ING_TYPE_EPUB);
    CHECK_INT(detect_in(d, "sheet.ods", "x.docx"), ING_TYPE_ODS);
    /* a broken zip is what its name says, or unknown */
    CHECK_INT(detect_in(d, "corrupt.odt", NULL), ING_TYPE_ODT);
    CHECK_INT(detect_in(d, "corrupt.odt", "x.epub"), ING_TYPE_EPUB);
    /* a broken zip not named as a document is reported as a corrupt archive */
    CHECK_INT(detect_in(d, "corrupt.odt", "x.zip"), ING_TYPE_ARCHIVE);
    static const char rtf[] = "{\\rtf1\\ansi hello}";
    CHECK_INT(ing_detect("a.txt", (const uint8_t *)rtf, sizeof rtf - 1), ING_TYPE_RTF);
    CHECK_INT(ing_detect(NULL, (const uint8_t *)rtf, sizeof rtf - 1), ING_TYPE_RTF);
    CHECK_INT(ing_detect("\xef\xbb\xbf x.doc", (const uint8_t *)"\n {\\rtf1 x}", 11), ING_TYPE_RTF);
    CHECK_INT(ing_detect("notes.rtf", (const uint8_t *)"plain words", 11), ING_TYPE_RTF);
    CHECK_INT(ing_detect("notes.txt", (const uint8_t *)"{\\rt", 4), ING_TYPE_TEXT);
    CHECK_INT(ing_detect("e.odt", (const uint8_t *)"", 0), ING_TYPE_ODT);
    CHECK_STR(ing_type_name(ING_TYPE_EPUB), "epub");
}

static void test_odt_report(void)
{
    ing_text t;
    rag_err e;
    stderr_capture();
    int rc = extract_odf("report.odt", NULL, &t, &e, NULL, 0);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.title, "The Keeper's Manual");
    CHECK_INT(t.title_in_text, 0);
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"author\":\"Ada Lovelace\"");
    CHECK_STR(t.mime, "application/vnd.oasis.opendocument.text");
    CHECK(has_block(&t, ING_HEADING, 1, "Lighthouse Keeping"));
    CHECK(has_block(&t, ING_HEADING, 2, "Fresnel Lenses"));
    CHECK(has_block(&t, ING_PARA, 0,
                    "The keeper trims the wick at dusk. Then waits.\n"
                    "Second line of the paragraph."));
    CHECK(has_block(&t, ING_PARA, 0, "A Fresnel lens bends light[1] into a beam."));
    CHECK(has_block(&t, ING_PARA, 0, "[1] Augustin Fresnel, 1822."));
    CHECK(has_block(&t, ING_PARA, 0, "- first prism ring\n- second prism ring\n- nested bullseye"));
    CHECK(has_block(&t, ING_PARA, 0, "Lamp | Fuel\nArgand | colza oil"));
    CHECK(!strstr(text_of(&t), "reviewer comment"));
    CHECK(!strstr(text_of(&t), "Contents entry"));
    long a = text_pos(&t, "Lighthouse"), b = text_pos(&t, "Fresnel Lenses"),
         c = text_pos(&t, "colza"), dd = text_pos(&t, "foghorn");
    CHECK(a >= 0 && a < b && b < c && c < dd);
    CHECK_INT(noise, 0);
    ing_text_free(&t);
}

static void test_ods_sheet(void)
{
    ing_text t;
    rag_err e;
    double t0 = rag_now_s();
    int rc = extract_odf("sheet.ods", NULL, &t, &e, NULL, 0);
    double dt = rag_now_s() - t0;
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.mime, "application/vnd.oasis.opendocument.spreadsheet");
    CHECK(has_block(&t, ING_HEADING, 1, "Prices"));
    CHECK(has_block(&t, ING_PARA, 0, "Item: marmalade; Price: 3.5; Colour: orange"));
    CHECK(has_block(&t, ING_PARA, 0, "Item: quince jelly; Colour: amber"));
    CHECK(has_block(&t, ING_HEADING, 1, "Notes"));
    /* a first row with a number is no header row; a repeated cell counts twice */
    CHECK(has_block(&t, ING_PARA, 0, "1 | ditto | ditto"));
    CHECK(has_block(&t, ING_PARA, 0, "stock taken monthly"));
    /* 16384 empty columns and a million empty rows are not expanded */
    CHECK(t.text.len < 400);
    CHECK(dt < 1.0);
    CHECK_STR(t.title, "Prices"); /* no meta.xml: the first heading */
    ing_text_free(&t);
}

static void test_odp_deck(void)
{
    ing_text t;
    rag_err e;
    int rc = extract_odf("deck.odp", NULL, &t, &e, NULL, 0);
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.mime, "application/vnd.oasis.opendocument.presentation");
    CHECK(has_block(&t, ING_HEADING, 1, "Slide 1: Tide Tables"));
    CHECK(has_block(&t, ING_PARA, 0, "- High water at noon\n- Low water at six"));
    CHECK(has_block(&t, ING_PARA, 0, "Notes: Mention the spring tides."));
    CHECK(has_block(&t, ING_HEADING, 1, "Slide 2: Harbour Map"));
    CHECK(has_block(&t, ING_PARA, 0, "The breakwater shelters the moorings."));
    /* the title frame is in the heading only */
    CHECK(text_pos(&t, "Tide Tables") == text_pos(&t, "Slide 1") + 9);
    CHECK(strstr(text_of(&t) + text_pos(&t, "Tide Tables") + 1, "Tide Tables") == NULL);
    long a = text_pos(&t, "Slide 1"), b = text_pos(&t, "spring tides"), c = text_pos(&t, "Slide 2");
    CHECK(a >= 0 && a < b && b < c);
    ing_text_free(&t);
}

static void test_epub_book(void)
{
    ing_text t;
    rag_err e;
    stderr_capture();
    int rc = extract_odf("book.epub", NULL, &t, &e, NULL, 0);
    long noise = stderr_release();
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.mime, "application/epub+zip");
    CHECK_STR(t.title, "Voyages of the Narwhal");
    CHECK_INT(t.title_in_text, 0);
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"author\":\"Grace Hopper, Alan Turing\"");
    CHECK(has_block(&t, ING_HEADING, 1, "Preface"));
    CHECK(has_block(&t, ING_PARA, 0, "Written aboard in caf\xc3\xa9 latitude."));
    CHECK(has_block(&t, ING_HEADING, 1, "Arctic Waters"));
    CHECK(has_block(&t, ING_HEADING, 2, "Provisions"));
    CHECK(has_block(&t, ING_PARA, 0, "Ship's biscuit and pemmican for ninety days."));
    /* spine order: ch2 (the preface) first; chapter <title>s are not text */
    long a = text_pos(&t, "Preface"), b = text_pos(&t, "Arctic"), c = text_pos(&t, "pemmican");
    CHECK(a == 0 && a < b && b < c);
    CHECK(!strstr(text_of(&t), "Chapter One"));
    CHECK_INT(noise, 0);
    ing_text_free(&t);
}

static void test_odf_epub_broken(void)
{
    ing_text t;
    rag_err e;
    char path[1100];
    CHECK_INT(extract_odf("corrupt.odt", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": corrupt ODT: ");
    ing_text_free(&t);

    stderr_capture();
    int rc = extract_odf("badxml.odt", NULL, &t, &e, path, sizeof path);
    long noise = stderr_release();
    CHECK_INT(rc, RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "content.xml: malformed XML at line 2");
    CHECK_INT(noise, 0);
    ing_text_free(&t);

    CHECK_INT(extract_odf("nocontent.odt", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "the archive has no content.xml");
    ing_text_free(&t);

    CHECK_INT(extract_odf("hole.epub", NULL, &t, &e, path, sizeof path), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, "corrupt EPUB: OEBPS/text/chapter 1.xhtml (in the spine) is missing");
    ing_text_free(&t);

    /* the limits of docx.c hold here too */
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_unzipped = 1000;
    CHECK_INT(extract_odf("report.odt", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "the ODT expands to more than 1000 bytes");
    ing_text_free(&t);
    ing_limits_default(&lim);
    lim.max_text = 100;
    CHECK_INT(extract_odf("report.odt", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    ing_text_free(&t);
    CHECK_INT(extract_odf("book.epub", &lim, &t, &e, path, sizeof path), RAG_ERR_LIMIT);
    ing_text_free(&t);
}

static const char rtf_doc[] =
    "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\froman Times;}{\\f1\\fswiss Arial;}}"
    "{\\colortbl;\\red0\\green0\\blue0;}"
    "{\\stylesheet{\\s0 Normal;}{\\s1\\outlinelevel0 heading 1;}{\\s2 Heading 2;}"
    "{\\*\\cs10 Default Paragraph Font;}}"
    "{\\info{\\title The Caf\\'e9 Report}{\\author Jane Doe}{\\operator nobody}}\n"
    "\\pard\\s1 Overview\\par\n"
    "\\pard Caf\\'e9 prices rose {\\b sharply} in \\u8364?2024, said {\\i the {\\ul nested} "
    "group}.\\line Next line.\\par\n"
    "{\\pict\\wmetafile8\\picw100 0123456789abcdefSECRETPICT}\n"
    "\\pard\\s2 Details\\par\n"
    "\\pard\\uc2 Two-byte fallback \\u8212\\'97\\'97 dash.{\\*\\bkmkstart b1}"
    "{\\field{\\*\\fldinst HYPERLINK \"http://x\"}{\\fldrslt link text}}\\par\n"
    "\\pard Footnote here{\\footnote \\pard Note body text.}.\\par\n"
    "\\trowd\\cellx1000\\cellx2000\\pard\\intbl A1\\cell B1\\cell\\row\n"
    "\\pard\\outlinelevel2 Third level\\par\n"
    "\\pard last {\\bin3 {}}} paragraph\\par\n"
    "}";

static void test_rtf(void)
{
    ing_text t;
    rag_err e;
    int rc = extract_mem("dir/report.rtf", rtf_doc, sizeof rtf_doc - 1, NULL, &t, &e);
    CHECK_INT(rc, 0);
    if (rc) printf("    %s\n", e.msg);
    CHECK_STR(t.mime, "application/rtf");
    CHECK_STR(t.title, "The Caf\xc3\xa9 Report");
    CHECK_INT(t.title_in_text, 0);
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"author\":\"Jane Doe\"");
    CHECK(has_block(&t, ING_HEADING, 1, "Overview"));
    CHECK(has_block(&t, ING_PARA, 0,
                    "Caf\xc3\xa9 prices rose sharply in \xe2\x82\xac"
                    "2024, said the nested group.\nNext line."));
    CHECK(has_block(&t, ING_HEADING, 2, "Details"));
    CHECK(has_block(&t, ING_PARA, 0, "Two-byte fallback \xe2\x80\x94 dash.link text"));
    CHECK(has_block(&t, ING_PARA, 0, "Footnote here."));
    CHECK(has_block(&t, ING_PARA, 0, "Note body text."));
    CHECK(has_block(&t, ING_PARA, 0, "A1 | B1"));
    CHECK(has_block(&t, ING_HEADING, 3, "Third level"));
    CHECK(has_block(&t, ING_PARA, 0, "last paragraph"));
    const char *s = text_of(&t);
    CHECK(!strstr(s, "SECRETPICT") && !strstr(s, "Times") && !strstr(s, "nobody") &&
          !strstr(s, "HYPERLINK") && !strstr(s, "Normal") && !strstr(s, "Default"));
    ing_text_free(&t);

    /* another code page, through iconv */
    static const char ru[] = "{\\rtf1\\ansi\\ansicpg1251 \\'cf\\'f0\\'e8\\'e2\\'e5\\'f2 world}";
    CHECK_INT(extract_mem("ru.rtf", ru, sizeof ru - 1, NULL, &t, &e), 0);
    CHECK(has_block(&t, ING_PARA, 0, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 world"));
    ing_text_free(&t);
    /* a surrogate pair, \uc0 */
    static const char emoji[] = "{\\rtf1\\uc0 fish \\u-10179\\u-9206  tank}";
    CHECK_INT(extract_mem("e.rtf", emoji, sizeof emoji - 1, NULL, &t, &e), 0);
    CHECK(has_block(&t, ING_PARA, 0, "fish \xf0\x9f\x90\x8a tank"));
    ing_text_free(&t);
}

static void test_rtf_broken(void)
{
    ing_text t;
    rag_err e;
    static const char trunc[] = "{\\rtf1 unclosed {\\b group";
    CHECK_INT(extract_mem("t.rtf", trunc, sizeof trunc - 1, NULL, &t, &e), RAG_ERR_FORMAT);
    CHECK_STR(e.msg, "t.rtf: truncated RTF: 2 groups still open at the end (offset 25)");
    ing_text_free(&t);

    rag_buf deep = {0};
    rag_buf_puts(&deep, "{\\rtf1 ");
    for (int i = 0; i < 100000; i++)
        rag_buf_putc(&deep, '{');
    CHECK_INT(extract_mem("deep.rtf", deep.data, deep.len, NULL, &t, &e), RAG_ERR_FORMAT);
    CHECK_STR(e.msg, "deep.rtf: RTF groups nested deeper than 200 at offset 206");
    ing_text_free(&t);
    rag_buf_free(&deep);

    static const char bin[] = "{\\rtf1 text {\\bin999999 abc}}";
    CHECK_INT(extract_mem("b.rtf", bin, sizeof bin - 1, NULL, &t, &e), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "b.rtf: truncated RTF: \\bin999999 at offset");
    ing_text_free(&t);

    CHECK_INT(extract_mem("plain.rtf", "just words", 10, NULL, &t, &e), RAG_ERR_FORMAT);
    CHECK_STR(e.msg, "plain.rtf: not RTF: no {\\rtf header at offset 0");
    ing_text_free(&t);

    static const char empty[] = "{\\rtf1{\\fonttbl{\\f0 Arial;}}}";
    CHECK_INT(extract_mem("e.rtf", empty, sizeof empty - 1, NULL, &t, &e), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "no text could be extracted");
    ing_text_free(&t);

    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_text = 50;
    CHECK_INT(extract_mem("big.rtf", rtf_doc, sizeof rtf_doc - 1, &lim, &t, &e), RAG_ERR_LIMIT);
    ing_text_free(&t);
}

/* ---- OCR ---------------------------------------------------------------- */

/* Writes a "scan" (tests/tools/mkscan KIND) of the given lines into the
 * test directory; returns its bytes (free them) or NULL. */
static char *make_scan(const char *kind, const char *name, const char *lines, size_t *n, char *path,
                       size_t cap)
{
    const char *tools = getenv("RAG_TOOLS");
    snprintf(path, cap, "%s/%s", test_tmpdir(), name);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/mkscan' %s '%s' %s", tools && *tools ? tools : "build/tools",
             kind, path, lines);
    if (system(cmd) != 0) {
        printf("    mkscan failed: %s\n", cmd);
        return NULL;
    }
    char *data = NULL;
    rag_err fe = {0};
    if (rag_file_read(path, (size_t)64 << 20, &data, n, &fe)) return NULL;
    return data;
}

#if defined(RAG_HAVE_TESSERACT) && defined(RAG_HAVE_CAIRO)
static void test_image_ocr(void)
{
    char path[1024];
    size_t n = 0;
    char *png =
        make_scan("png", "scan.png", "'The quarterly maintenance report' 'approves spare parts.'",
                  &n, path, sizeof path);
    CHECK(png != NULL);
    if (!png) return;
    CHECK_INT(ing_detect(path, (uint8_t *)png, n), ING_TYPE_IMAGE);
    ing_text t = {0};
    rag_err e = {0};
    CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)png, n, NULL, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "quarterly maintenance report approves spare parts");
    CHECK_STR(t.mime, "image/png");
    CHECK_CONTAINS(t.meta.data ? t.meta.data : "", "\"ocr\":true");
    ing_text_free(&t);

    ing_limits lim;
    ing_limits_default(&lim);
    /* OCR off: skipped (UNSUPPORTED), not failed */
    lim.ocr_mode = ING_OCR_NEVER;
    memset(&t, 0, sizeof t);
    CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)png, n, &lim, &t, &e),
              RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(e.msg, "OCR is off");
    ing_text_free(&t);
    /* too many pixels: refused before decoding */
    ing_limits_default(&lim);
    lim.ocr_max_pixels = 10000;
    memset(&t, 0, sizeof t);
    CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)png, n, &lim, &t, &e), RAG_ERR_LIMIT);
    CHECK_CONTAINS(e.msg, "the image is larger than the OCR limit of 10000 pixels (2400 x ");
    ing_text_free(&t);
    /* a language that is not installed: named, with those that are */
    ing_limits_default(&lim);
    lim.ocr_languages = "xyz";
    memset(&t, 0, sizeof t);
    CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)png, n, &lim, &t, &e), RAG_ERR_INVALID);
    CHECK_CONTAINS(e.msg, "OCR language 'xyz' is not installed (installed in ");
    ing_text_free(&t);

    /* corrupt: the header only */
    memset(&t, 0, sizeof t);
    CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)png, 40, NULL, &t, &e), RAG_ERR_FORMAT);
    CHECK(starts_with(e.msg, path));
    CHECK_CONTAINS(e.msg, ": corrupt image: ");
    ing_text_free(&t);
    rag_free(png);

    /* a white image: no text, skipped */
    char *blank = make_scan("png", "blank.png", "''", &n, path, sizeof path);
    CHECK(blank != NULL);
    memset(&t, 0, sizeof t);
    if (blank)
        CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)blank, n, NULL, &t, &e),
                  RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(e.msg, ": no text found by OCR");
    ing_text_free(&t);
    rag_free(blank);

    /* JPEG and TIFF */
    char *jpg =
        make_scan("jpeg", "scan.jpg", "'Invoice for gearbox repairs'", &n, path, sizeof path);
    CHECK(jpg != NULL);
    memset(&t, 0, sizeof t);
    if (jpg) CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)jpg, n, NULL, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "gearbox");
    CHECK_STR(t.mime, "image/jpeg");
    ing_text_free(&t);
    rag_free(jpg);
    char *tif =
        make_scan("tiff", "scan.tif", "'Warehouse inventory ledger'", &n, path, sizeof path);
    CHECK(tif != NULL);
    memset(&t, 0, sizeof t);
    if (tif) CHECK_INT(ing_extract(ING_TYPE_IMAGE, path, (uint8_t *)tif, n, NULL, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "Warehouse inventory");
    CHECK_STR(t.mime, "image/tiff");
    ing_text_free(&t);
    rag_free(tif);
    CHECK(no_child_left());
}

#ifdef RAG_HAVE_POPPLER
static void test_scanned_pdf_ocr(void)
{
    char path[1024];
    size_t n = 0;
    char *pdf =
        make_scan("pdf", "scan.pdf", "'The quarterly maintenance report' 'approves spare parts.'",
                  &n, path, sizeof path);
    CHECK(pdf != NULL);
    if (!pdf) return;
    ing_text t = {0};
    rag_err e = {0};
    CHECK_INT(ing_extract(ING_TYPE_PDF, path, (uint8_t *)pdf, n, NULL, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "quarterly maintenance report approves spare parts");
    CHECK_CONTAINS(t.meta.data ? t.meta.data : "", "\"ocr_pages\":1");
    ing_text_free(&t);
    /* OCR off: as before OCR existed, a PDF without text fails */
    ing_limits lim;
    ing_limits_default(&lim);
    lim.ocr_mode = ING_OCR_NEVER;
    memset(&t, 0, sizeof t);
    CHECK_INT(ing_extract(ING_TYPE_PDF, path, (uint8_t *)pdf, n, &lim, &t, &e), RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "the PDF has no text layer (scanned? OCR is off)");
    ing_text_free(&t);
    rag_free(pdf);
    CHECK(no_child_left());
}
#endif
#else
static void test_ocr_not_built(void)
{
    SKIP("built without tesseract, leptonica or cairo: OCR is not tested");
}
#endif

int main(void)
{
    RUN(test_detect_by_content);
    RUN(test_detect_by_extension);
    RUN(test_detect_binary_is_unknown);
    RUN(test_detect_wide_text);
    RUN(test_detect_misnamed_pdf_docx);
    RUN(test_decode_utf8_and_bom);
    RUN(test_decode_utf16_utf32);
    RUN(test_decode_legacy_8bit);
    RUN(test_decode_repairs_few_invalid_bytes);
    RUN(test_decode_refuses_binary);
    RUN(test_decode_line_and_text_limits);
    RUN(test_empty_file);
    RUN(test_title_fallback);
    RUN(test_title_fallback_once);
    RUN(test_text_paragraphs_and_title);
    RUN(test_markdown_headings);
    RUN(test_markdown_code_blocks);
    RUN(test_markdown_front_matter);
    RUN(test_markdown_inline_markup);
    RUN(test_markdown_commonmark_fixture);
    RUN(test_markdown_front_matter_toml_and_limits);
    RUN(test_html_structure);
    RUN(test_html_charsets);
    RUN(test_html_malformed_is_recovered_quietly);
    RUN(test_html_text_limit);
    RUN(test_docx_zip_bomb);
    RUN(test_docx_report);
    RUN(test_docx_broken);
    RUN(test_detect_odf_epub_rtf);
    RUN(test_odt_report);
    RUN(test_ods_sheet);
    RUN(test_odp_deck);
    RUN(test_epub_book);
    RUN(test_odf_epub_broken);
    RUN(test_rtf);
    RUN(test_rtf_broken);
    RUN(test_ooxml_detect);
    RUN(test_pptx_deck);
    RUN(test_xlsx_book);
    RUN(test_docx_extras);
    RUN(test_ooxml_broken);
#ifdef RAG_HAVE_POPPLER
    RUN(test_pdf_report);
    RUN(test_pdf_errors);
    RUN(test_pdf_limits);
    RUN(test_pdf_memory_limit);
#else
    RUN(test_pdf_not_built);
#endif
#if defined(RAG_HAVE_TESSERACT) && defined(RAG_HAVE_CAIRO)
    RUN(test_image_ocr);
#ifdef RAG_HAVE_POPPLER
    RUN(test_scanned_pdf_ocr);
#endif
#else
    RUN(test_ocr_not_built);
#endif
    return test_summary();
}
