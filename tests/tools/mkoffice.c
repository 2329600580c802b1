/* tests/tools/mkoffice.c: writes Office Open XML test files (PPTX, XLSX,
 * DOCX) from literal XML into the directory given as argv[1], with libzip.
 * Minimal but valid: [Content_Types].xml, the package and part
 * relationships, docProps/core.xml. Files:
 *
 *   deck.pptx        "Expedition Deck": 3 slides listed in presentation.xml
 *                    in the order slide3.xml, slide1.xml, slide2.xml; slide
 *                    2 (slide1.xml) holds a table; slides 1 and 2 have
 *                    speaker notes (with a slide number placeholder)
 *   book.xlsx        sheets "Inventory" (sheet2.xml: header row of shared
 *                    strings, numbers, a formula's cached value, a
 *                    boolean) then "Misc" (sheet1.xml: no header row, an
 *                    inline string)
 *   extras.docx      custom heading styles (an outline level in the style,
 *                    a name "heading 2" reached through basedOn, an outline
 *                    level on the paragraph), a header, two footers with the
 *                    same text, a footnote and a comment
 *   badslide.pptx    deck.pptx with ppt/slides/slide2.xml not well-formed
 *   noslide.pptx     deck.pptx without ppt/slides/slide1.xml
 *   badsheet.xlsx    book.xlsx with xl/worksheets/sheet1.xml not well-formed
 *   cut.xlsx         book.xlsx cut in half (no central directory)
 *   plain.pptx       deck.pptx without [Content_Types].xml, named by its
 *                    parts only
 *   big.xlsx         one sheet of 100005 numbered rows: past the 100000
 *                    rows a sheet may give
 *
 * With --seeds (the seeds of fuzz/fuzz_ooxml.c), big.xlsx is left out and
 * deck.recipe, book.recipe and extras.recipe are written: a type letter and
 * the members as "name\0content\0" pairs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static const char *dir;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mkoffice: ");
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

typedef struct member {
    const char *name;
    const char *text;
} member;

/* Writes the members of m, leaving out `skip` and replacing the text of
 * `swap` by `swap_text` (both may be NULL). */
static void write_zip(const char *name, const member *m, const char *skip, const char *swap,
                      const char *swap_text)
{
    int ze = 0;
    zip_t *za = zip_open(path_of(name), ZIP_CREATE | ZIP_TRUNCATE, &ze);
    if (!za) die("zip_open %s: error %d", name, ze);
    for (; m->name; m++) {
        if (skip && !strcmp(m->name, skip)) continue;
        const char *text = swap && !strcmp(m->name, swap) ? swap_text : m->text;
        zip_source_t *src = zip_source_buffer(za, text, strlen(text), 0);
        zip_int64_t idx = src ? zip_file_add(za, m->name, src, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0) die("zip_file_add %s: %s", m->name, zip_strerror(za));
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 6);
    }
    if (zip_close(za) < 0) die("zip_close %s: %s", name, zip_strerror(za));
}

static void write_half(const char *from, const char *to)
{
    FILE *f = fopen(path_of(from), "rb");
    if (!f) die("cannot read %s", from);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(path_of(to), "wb");
    if (!f || fwrite(buf, 1, n / 2, f) != n / 2 || fclose(f) != 0)
        die("cannot write %s: %s", to, strerror(errno));
}

#define XML "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
#define CT_NS "http://schemas.openxmlformats.org/package/2006/content-types"
#define PR_NS "http://schemas.openxmlformats.org/package/2006/relationships"
#define R_NS "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define RT R_NS "/"
#define P_NS "http://schemas.openxmlformats.org/presentationml/2006/main"
#define A_NS "http://schemas.openxmlformats.org/drawingml/2006/main"
#define S_NS "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define W_NS "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define OFC "application/vnd.openxmlformats-officedocument."

static const char root_rels_fmt[] =
    XML "<Relationships xmlns=\"" PR_NS "\">"
        "<Relationship Id=\"rId1\" Type=\"" RT "officeDocument\" Target=\"%s\"/>"
        "<Relationship Id=\"rId2\" "
        "Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
        "core-properties\" Target=\"docProps/core.xml\"/>"
        "</Relationships>";

static char *root_rels(const char *main)
{
    static char b[3][2048];
    static int i;
    char *s = b[i++ % 3];
    snprintf(s, sizeof b[0], root_rels_fmt, main);
    return s;
}

#define CORE(title)                                                                                \
    XML "<cp:coreProperties "                                                                      \
        "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "    \
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>" title                           \
        "</dc:title><dc:creator>Tester</dc:creator></cp:coreProperties>"

/* ---- PPTX ------------------------------------------------------------------ */

static const char deck_ct[] = XML "<Types xmlns=\"" CT_NS "\">"
                                  "<Default Extension=\"rels\" ContentType=\"application/"
                                  "vnd.openxmlformats-package.relationships+xml\"/>"
                                  "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
                                  "<Override PartName=\"/ppt/presentation.xml\" ContentType=\"" OFC
                                  "presentationml.presentation.main+xml\"/>"
                                  "<Override PartName=\"/ppt/slides/slide1.xml\" ContentType=\"" OFC
                                  "presentationml.slide+xml\"/>"
                                  "</Types>";

static const char presentation[] =
    XML "<p:presentation xmlns:p=\"" P_NS "\" xmlns:r=\"" R_NS "\" xmlns:a=\"" A_NS "\">"
        "<p:sldIdLst><p:sldId id=\"256\" r:id=\"rId3\"/><p:sldId id=\"257\" r:id=\"rId1\"/>"
        "<p:sldId id=\"258\" r:id=\"rId2\"/></p:sldIdLst>"
        "<p:sldSz cx=\"9144000\" cy=\"6858000\"/></p:presentation>";

static const char presentation_rels[] =
    XML "<Relationships xmlns=\"" PR_NS "\">"
        "<Relationship Id=\"rId1\" Type=\"" RT "slide\" Target=\"slides/slide1.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"" RT "slide\" Target=\"/ppt/slides/slide2.xml\"/>"
        "<Relationship Id=\"rId3\" Type=\"" RT "slide\" Target=\"slides/slide3.xml\"/>"
        "</Relationships>";

#define SLIDE_OPEN                                                                                 \
    XML "<p:sld xmlns:p=\"" P_NS "\" xmlns:a=\"" A_NS "\" xmlns:r=\"" R_NS "\">"                   \
        "<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/><p:nvPr/>"     \
        "</p:nvGrpSpPr><p:grpSpPr/>"
#define SLIDE_CLOSE "</p:spTree></p:cSld></p:sld>"
#define SP(ph, paras)                                                                              \
    "<p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"s\"/><p:cNvSpPr/><p:nvPr>" ph "</p:nvPr></p:nvSpPr>" \
    "<p:spPr/><p:txBody><a:bodyPr/>" paras "</p:txBody></p:sp>"
#define PARA(t) "<a:p><a:r><a:rPr lang=\"en-US\"/><a:t>" t "</a:t></a:r></a:p>"

/* shown third: no title */
static const char slide2[] = SLIDE_OPEN SP("", PARA("Final wombat thoughts")) SLIDE_CLOSE;
/* shown first */
static const char slide3[] = SLIDE_OPEN SP("<p:ph type=\"ctrTitle\"/>", PARA("Welcome aboard"))
    SP("<p:ph type=\"subTitle\" idx=\"1\"/>",
       "<a:p><a:r><a:t>The aardvark </a:t></a:r><a:r><a:rPr b=\"1\"/>"
       "<a:t>agenda</a:t></a:r></a:p>") SLIDE_CLOSE;
/* shown second: body before the title in the tree, a table */
static const char slide1[] = SLIDE_OPEN SP("<p:ph idx=\"1\"/>",
                                           PARA("Quokka spending rose") PARA("Second point"))
    SP("<p:ph type=\"title\"/>",
       PARA("Budget review")) "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id=\"4\" "
                              "name=\"t\"/><p:cNvGraphicFramePr/>"
                              "<p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData "
                              "uri=\"http://schemas.openxmlformats.org/drawingml/2006/"
                              "table\"><a:tbl><a:tblGrid/>"
                              "<a:tr h=\"1\"><a:tc><a:txBody><a:bodyPr/>" PARA(
                                  "Item") "</a:txBody></a:tc><a:tc>"
                                          "<a:txBody><a:bodyPr/>" PARA(
                                              "Cost") "</a:txBody></a:tc></a:tr>"
                                                      "<a:tr "
                                                      "h=\"1\"><a:tc><a:txBody><a:bodyPr/>" PARA(
                                                          "Tents") "</a:txBody></a:tc><a:tc>"
                                                                   "<a:txBody><a:bodyPr/>" PARA(
                                                                       "40") "</a:txBody></a:tc></"
                                                                             "a:tr>"
                                                                             "</a:tbl></"
                                                                             "a:graphicData></"
                                                                             "a:graphic></"
                                                                             "p:"
                                                                             "graphicFrame"
                                                                             ">" SLIDE_CLOSE;

static const char slide1_rels[] = XML "<Relationships xmlns=\"" PR_NS "\">"
                                      "<Relationship Id=\"rId2\" Type=\"" RT "notesSlide\" "
                                      "Target=\"../notesSlides/notesSlide1.xml\"/></Relationships>";
static const char slide3_rels[] = XML "<Relationships xmlns=\"" PR_NS "\">"
                                      "<Relationship Id=\"rId2\" Type=\"" RT "notesSlide\" "
                                      "Target=\"../notesSlides/notesSlide7.xml\"/></Relationships>";

#define NOTES(text)                                                                                \
    XML "<p:notes xmlns:p=\"" P_NS "\" xmlns:a=\"" A_NS "\"><p:cSld><p:spTree>"                    \
        "<p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>"         \
        "<p:grpSpPr/>" SP("<p:ph type=\"sldImg\"/>", "") SP("<p:ph type=\"body\" idx=\"1\"/>",     \
                                                            PARA(text))                            \
            SP("<p:ph type=\"sldNum\" idx=\"5\"/>", PARA("99")) "</p:spTree></p:cSld></p:notes>"

static const char notes1[] = NOTES("Mention the quokka budget overrun");
static const char notes7[] = NOTES("Speak about aardvarks slowly");

static const member deck[] = {{"[Content_Types].xml", deck_ct},
                              {"_rels/.rels", NULL},
                              {"docProps/core.xml", CORE("Expedition Deck")},
                              {"ppt/presentation.xml", presentation},
                              {"ppt/_rels/presentation.xml.rels", presentation_rels},
                              {"ppt/slides/slide1.xml", slide1},
                              {"ppt/slides/slide2.xml", slide2},
                              {"ppt/slides/slide3.xml", slide3},
                              {"ppt/slides/_rels/slide1.xml.rels", slide1_rels},
                              {"ppt/slides/_rels/slide3.xml.rels", slide3_rels},
                              {"ppt/notesSlides/notesSlide1.xml", notes1},
                              {"ppt/notesSlides/notesSlide7.xml", notes7},
                              {NULL, NULL}};

/* ---- XLSX ------------------------------------------------------------------ */

static const char book_ct[] = XML "<Types xmlns=\"" CT_NS "\">"
                                  "<Default Extension=\"rels\" ContentType=\"application/"
                                  "vnd.openxmlformats-package.relationships+xml\"/>"
                                  "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
                                  "<Override PartName=\"/xl/workbook.xml\" ContentType=\"" OFC
                                  "spreadsheetml.sheet.main+xml\"/>"
                                  "</Types>";

static const char workbook[] = XML "<workbook xmlns=\"" S_NS "\" xmlns:r=\"" R_NS "\"><sheets>"
                                   "<sheet name=\"Inventory\" sheetId=\"2\" r:id=\"rId2\"/>"
                                   "<sheet name=\"Misc\" sheetId=\"1\" r:id=\"rId1\"/>"
                                   "</sheets></workbook>";

static const char workbook_rels[] =
    XML "<Relationships xmlns=\"" PR_NS "\">"
        "<Relationship Id=\"rId1\" Type=\"" RT "worksheet\" Target=\"worksheets/sheet1.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"" RT "worksheet\" Target=\"worksheets/sheet2.xml\"/>"
        "<Relationship Id=\"rId3\" Type=\"" RT "sharedStrings\" Target=\"sharedStrings.xml\"/>"
        "</Relationships>";

static const char shared[] =
    XML "<sst xmlns=\"" S_NS "\" count=\"6\" uniqueCount=\"6\">"
        "<si><t>Item</t></si><si><t>Count</t></si><si><t>Price</t></si>"
        "<si><r><t>Brass </t></r><r><rPr><b/></rPr><t>lantern</t></r></si>"
        "<si><t>Compass</t><rPh sb=\"0\" eb=\"1\"><t>PHONETIC</t></rPh></si>"
        "<si><t>In stock</t></si></sst>";

/* Inventory: header row, then Lantern 12 3.5 TRUE, Compass 7 =B3*2 (14) */
static const char sheet2[] =
    XML "<worksheet xmlns=\"" S_NS "\"><sheetData>"
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
        "<c r=\"C1\" t=\"s\"><v>2</v></c><c r=\"D1\" t=\"s\"><v>5</v></c></row>"
        "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>3</v></c><c r=\"B2\"><v>12</v></c>"
        "<c r=\"C2\"><v>3.5</v></c><c r=\"D2\" t=\"b\"><v>1</v></c></row>"
        "<row r=\"3\"><c r=\"A3\" t=\"s\"><v>4</v></c><c r=\"B3\"><v>7</v></c>"
        "<c r=\"C3\"><f>B3*2</f><v>14</v></c><c r=\"E3\"><v>0.25</v></c></row>"
        "</sheetData></worksheet>";

/* Misc: no header row (a number first) */
static const char sheet1[] =
    XML "<worksheet xmlns=\"" S_NS "\"><sheetData>"
        "<row r=\"1\"><c r=\"A1\"><v>42</v></c><c r=\"B1\" t=\"inlineStr\"><is><t>remember the "
        "platypus</t></is></c></row>"
        "<row r=\"3\"><c r=\"A3\" t=\"b\"><v>0</v></c><c r=\"C3\" t=\"str\"><f>A1&amp;\"x\"</f>"
        "<v>42x</v></c></row>"
        "</sheetData></worksheet>";

static const member book[] = {{"[Content_Types].xml", book_ct},
                              {"_rels/.rels", NULL},
                              {"docProps/core.xml", CORE("Stock Book")},
                              {"xl/workbook.xml", workbook},
                              {"xl/_rels/workbook.xml.rels", workbook_rels},
                              {"xl/sharedStrings.xml", shared},
                              {"xl/worksheets/sheet1.xml", sheet1},
                              {"xl/worksheets/sheet2.xml", sheet2},
                              {NULL, NULL}};

/* ---- DOCX ------------------------------------------------------------------ */

static const char docx_ct[] = XML "<Types xmlns=\"" CT_NS "\">"
                                  "<Default Extension=\"rels\" ContentType=\"application/"
                                  "vnd.openxmlformats-package.relationships+xml\"/>"
                                  "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
                                  "<Override PartName=\"/word/document.xml\" ContentType=\"" OFC
                                  "wordprocessingml.document.main+xml\"/>"
                                  "</Types>";

static const char styles[] =
    XML "<w:styles xmlns:w=\"" W_NS "\">"
        "<w:style w:type=\"paragraph\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/></w:style>"
        "<w:style w:type=\"paragraph\" w:styleId=\"Kapitel\"><w:name w:val=\"Kapitel\"/>"
        "<w:basedOn w:val=\"Normal\"/><w:pPr><w:outlineLvl w:val=\"0\"/></w:pPr></w:style>"
        "<w:style w:type=\"paragraph\" w:styleId=\"berschrift2\"><w:name w:val=\"heading 2\"/>"
        "<w:basedOn w:val=\"Normal\"/></w:style>"
        "<w:style w:type=\"paragraph\" w:styleId=\"MySub\"><w:name w:val=\"My Sub\"/>"
        "<w:basedOn w:val=\"berschrift2\"/></w:style>"
        "<w:style w:type=\"paragraph\" w:styleId=\"Loop1\"><w:basedOn w:val=\"Loop2\"/></w:style>"
        "<w:style w:type=\"paragraph\" w:styleId=\"Loop2\"><w:basedOn w:val=\"Loop1\"/></w:style>"
        "</w:styles>";

#define WP(style, t)                                                                               \
    "<w:p><w:pPr><w:pStyle w:val=\"" style "\"/></w:pPr><w:r><w:t>" t "</w:t></w:r></w:p>"

static const char extras_doc[] =
    XML "<w:document xmlns:w=\"" W_NS "\" xmlns:r=\"" R_NS "\"><w:body>" WP(
        "Kapitel", "Chapter about narwhals") "<w:p><w:r><w:t xml:space=\"preserve\">Narwhal body "
                                             "text</w:t></w:r><w:r>"
                                             "<w:footnoteReference "
                                             "w:id=\"1\"/></w:r><w:commentRangeStart "
                                             "w:id=\"0\"/><w:r><w:t> "
                                             "continues.</w:t></w:r></w:p>" WP(
                                                 "MySub",
                                                 "Sub about tusks") "<w:p><w:pPr><w:outlineLvl "
                                                                    "w:val=\"2\"/></"
                                                                    "w:pPr><w:r><w:t>Deep level "
                                                                    "heading</w:t></w:r></w:p>" WP(
                                                                        "Loop1",
                                                                        "Looping style is body "
                                                                        "text") "<w:sectPr><w:"
                                                                                "headerReference "
                                                                                "w:type="
                                                                                "\"default\" "
                                                                                "r:id=\"rId4\"/>"
                                                                                "<w:"
                                                                                "footerReference "
                                                                                "w:type="
                                                                                "\"default\" "
                                                                                "r:id=\"rId5\"/>"
                                                                                "<w:"
                                                                                "footerReference "
                                                                                "w:type=\"first\" "
                                                                                "r:id=\"rId6\"/></"
                                                                                "w:sectPr>"
                                                                                "</w:body></"
                                                                                "w:document>";

static const char extras_rels[] =
    XML "<Relationships xmlns=\"" PR_NS "\">"
        "<Relationship Id=\"rId1\" Type=\"" RT "styles\" Target=\"styles.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"" RT "footnotes\" Target=\"footnotes.xml\"/>"
        "<Relationship Id=\"rId3\" Type=\"" RT "comments\" Target=\"comments.xml\"/>"
        "<Relationship Id=\"rId4\" Type=\"" RT "header\" Target=\"header1.xml\"/>"
        "<Relationship Id=\"rId5\" Type=\"" RT "footer\" Target=\"footer1.xml\"/>"
        "<Relationship Id=\"rId6\" Type=\"" RT "footer\" Target=\"footer2.xml\"/>"
        "</Relationships>";

static const char footnotes[] =
    XML "<w:footnotes xmlns:w=\"" W_NS "\">"
        "<w:footnote w:type=\"separator\" w:id=\"-1\"><w:p><w:r><w:separator/></w:r></w:p>"
        "</w:footnote><w:footnote w:type=\"continuationSeparator\" w:id=\"0\"><w:p><w:r>"
        "<w:continuationSeparator/></w:r></w:p></w:footnote>"
        "<w:footnote w:id=\"1\"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space=\"preserve\"> "
        "Footnote about ivory trade.</w:t></w:r></w:p></w:footnote></w:footnotes>";

static const char comments[] =
    XML "<w:comments xmlns:w=\"" W_NS "\"><w:comment w:id=\"0\" w:author=\"Alice\">"
        "<w:p><w:r><w:t>Check the narwhal count.</w:t></w:r></w:p></w:comment></w:comments>";

#define HDR(el, t)                                                                                 \
    XML "<w:" el " xmlns:w=\"" W_NS "\"><w:p><w:r><w:t>" t "</w:t></w:r></w:p></w:" el ">"

static const member extras[] = {{"[Content_Types].xml", docx_ct},
                                {"_rels/.rels", NULL},
                                {"docProps/core.xml", CORE("Sea Creatures")},
                                {"word/document.xml", extras_doc},
                                {"word/_rels/document.xml.rels", extras_rels},
                                {"word/styles.xml", styles},
                                {"word/footnotes.xml", footnotes},
                                {"word/comments.xml", comments},
                                {"word/header1.xml", HDR("hdr", "Confidential ocelot header")},
                                {"word/footer1.xml", HDR("ftr", "Page footer margay")},
                                {"word/footer2.xml", HDR("ftr", "Page footer margay")},
                                {NULL, NULL}};

/* m with _rels/.rels pointing at main */
static member *with_root(const member *m, const char *main)
{
    static member out[3][32];
    static int k;
    member *o = out[k++ % 3];
    size_t i = 0;
    for (; m[i].name && i < 31; i++) {
        o[i] = m[i];
        if (!strcmp(m[i].name, "_rels/.rels")) o[i].text = root_rels(main);
    }
    o[i] = (member){NULL, NULL};
    return o;
}

static void write_big_xlsx(void)
{
    size_t cap = (size_t)8 << 20, len = 0;
    char *x = malloc(cap);
    if (!x) die("out of memory");
    len +=
        (size_t)snprintf(x + len, cap - len, "%s", XML "<worksheet xmlns=\"" S_NS "\"><sheetData>");
    for (int r = 1; r <= 100005; r++)
        len +=
            (size_t)snprintf(x + len, cap - len, "<row><c><v>%d</v></c><c><v>7</v></c></row>", r);
    len += (size_t)snprintf(x + len, cap - len, "</sheetData></worksheet>");
    if (len >= cap - 1) die("big.xlsx: buffer too small");
    member m[] = {{"[Content_Types].xml", book_ct},
                  {"xl/workbook.xml", workbook},
                  {"xl/_rels/workbook.xml.rels", workbook_rels},
                  {"xl/worksheets/sheet1.xml", sheet1},
                  {"xl/worksheets/sheet2.xml", x},
                  {NULL, NULL}};
    write_zip("big.xlsx", m, NULL, NULL, NULL);
    free(x);
}

/* A fuzzer recipe (see fuzz/fuzz_ooxml.c): the type's letter, then
 * "name\0content\0" for each member. */
static void write_recipe(const char *name, char letter, const member *m)
{
    FILE *f = fopen(path_of(name), "wb");
    if (!f) die("cannot write %s: %s", name, strerror(errno));
    fputc(letter, f);
    for (; m->name; m++) {
        fwrite(m->name, 1, strlen(m->name) + 1, f);
        fwrite(m->text, 1, strlen(m->text) + 1, f);
    }
    if (fclose(f) != 0) die("cannot write %s: %s", name, strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--seeds")))
        die("usage: mkoffice DIR [--seeds]");
    dir = argv[1];
    if (argc == 3) { /* fuzzer seeds: the recipes and the small zips */
        write_recipe("deck.recipe", 'P', with_root(deck, "ppt/presentation.xml"));
        write_recipe("book.recipe", 'X', with_root(book, "xl/workbook.xml"));
        write_recipe("extras.recipe", 'D', with_root(extras, "word/document.xml"));
    }
    const member *d = with_root(deck, "ppt/presentation.xml");
    write_zip("deck.pptx", d, NULL, NULL, NULL);
    write_zip("badslide.pptx", d, NULL, "ppt/slides/slide2.xml",
              XML "<p:sld xmlns:p=\"" P_NS "\">\n<p:cSld>\n<p:spTree></p:cSld></p:sld>");
    write_zip("noslide.pptx", d, "ppt/slides/slide1.xml", NULL, NULL);
    write_zip("plain.pptx", d, "[Content_Types].xml", NULL, NULL);
    const member *b = with_root(book, "xl/workbook.xml");
    write_zip("book.xlsx", b, NULL, NULL, NULL);
    write_zip("badsheet.xlsx", b, NULL, "xl/worksheets/sheet1.xml",
              XML "<worksheet xmlns=\"" S_NS "\"><sheetData><row><c>\n</row></sheetData>");
    write_half("book.xlsx", "cut.xlsx");
    if (argc == 2) write_big_xlsx(); /* too large to be a seed */
    const member *x = with_root(extras, "word/document.xml");
    write_zip("extras.docx", x, NULL, NULL, NULL);
    return 0;
}
