/* tests/tools/mkodf.c: writes OpenDocument and EPUB test files into the
 * directory given as argv[1], from literal XML, with libzip (the `mimetype`
 * member first and stored uncompressed, as the formats require). Files:
 *
 *   report.odt     meta.xml title and creator; headings of levels 1 and 2,
 *                  paragraphs with spans, <text:s text:c>, a tab, a line
 *                  break, a footnote; a nested list; a 2x2 table; a table of
 *                  contents (left out) and a comment (left out)
 *   sheet.ods      sheet "Prices": a header row and rows, a repeated cell,
 *                  an empty repeat of 16384 columns and a row repeated
 *                  1048000 times, empty; sheet "Notes": no header row
 *   deck.odp       two slides: a title frame, body text, speaker notes; the
 *                  second without title frame but with a draw:name
 *   book.epub      container.xml -> OEBPS/content.opf (title, two creators),
 *                  spine ch2 before ch1 (reading order is the spine's), a
 *                  percent-encoded href, a non-linear image item
 *   badxml.odt     content.xml not well-formed (line 2)
 *   nocontent.odt  an ODT without content.xml
 *   hole.epub      the spine names a chapter missing from the zip
 *   corrupt.odt    report.odt cut in half (no central directory) */
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
    fprintf(stderr, "mkodf: ");
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
    const char *name, *text;
} member;

/* mimetype first, stored; the members after it deflated. */
static void write_zip(const char *name, const char *mimetype, const member *m)
{
    int zerr = 0;
    zip_t *za = zip_open(path_of(name), ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) die("cannot create %s (libzip error %d)", path_of(name), zerr);
    if (mimetype) {
        zip_source_t *s = zip_source_buffer(za, mimetype, strlen(mimetype), 0);
        zip_int64_t i = s ? zip_file_add(za, "mimetype", s, ZIP_FL_ENC_UTF_8) : -1;
        if (i < 0 || zip_set_file_compression(za, (zip_uint64_t)i, ZIP_CM_STORE, 0) < 0)
            die("%s: mimetype: %s", name, zip_strerror(za));
    }
    for (; m->name; m++) {
        zip_source_t *s = zip_source_buffer(za, m->text, strlen(m->text), 0);
        if (!s || zip_file_add(za, m->name, s, ZIP_FL_ENC_UTF_8) < 0)
            die("%s: %s: %s", name, m->name, zip_strerror(za));
    }
    if (zip_close(za) < 0) die("cannot write %s: %s", path_of(name), zip_strerror(za));
}

#define NS                                                                                         \
    " xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\""                           \
    " xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\""                               \
    " xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\""                             \
    " xmlns:draw=\"urn:oasis:names:tc:opendocument:xmlns:drawing:1.0\""                            \
    " xmlns:presentation=\"urn:oasis:names:tc:opendocument:xmlns:presentation:1.0\""               \
    " xmlns:dc=\"http://purl.org/dc/elements/1.1/\""                                               \
    " xmlns:meta=\"urn:oasis:names:tc:opendocument:xmlns:meta:1.0\" office:version=\"1.3\""

#define MANIFEST(mt)                                                                               \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<manifest:manifest "                              \
    "xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">"                       \
    "<manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"" mt "\"/>"               \
    "<manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>"   \
    "</manifest:manifest>"

static const char odt_mime[] = "application/vnd.oasis.opendocument.text";
static const char ods_mime[] = "application/vnd.oasis.opendocument.spreadsheet";
static const char odp_mime[] = "application/vnd.oasis.opendocument.presentation";

static const char odt_content[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<office:document-content" NS "><office:body><office:text>"
    "<text:sequence-decls><text:sequence-decl text:name=\"Table\"/></text:sequence-decls>"
    "<text:table-of-content><text:index-body><text:p>Contents entry 1</text:p>"
    "</text:index-body></text:table-of-content>"
    "<text:h text:outline-level=\"1\">Lighthouse Keeping</text:h>"
    "<text:p>The keeper trims the <text:span>wick</text:span> at dusk.<text:s text:c=\"3\"/>"
    "Then<text:tab/>waits.<text:line-break/>Second line of the paragraph."
    "<office:annotation><text:p>A reviewer comment</text:p></office:annotation></text:p>"
    "<text:h text:outline-level=\"2\">Fresnel Lenses</text:h>"
    "<text:p>A Fresnel lens bends light<text:note text:note-class=\"footnote\">"
    "<text:note-citation>1</text:note-citation><text:note-body><text:p>Augustin Fresnel, "
    "1822.</text:p></text:note-body></text:note> into a beam.</text:p>"
    "<text:list><text:list-item><text:p>first prism ring</text:p></text:list-item>"
    "<text:list-item><text:p>second prism ring</text:p><text:list><text:list-item>"
    "<text:p>nested bullseye</text:p></text:list-item></text:list></text:list-item></text:list>"
    "<table:table table:name=\"Lamps\"><table:table-column/>"
    "<table:table-row><table:table-cell><text:p>Lamp</text:p></table:table-cell>"
    "<table:table-cell><text:p>Fuel</text:p></table:table-cell></table:table-row>"
    "<table:table-row><table:table-cell><text:p>Argand</text:p></table:table-cell>"
    "<table:table-cell><text:p>colza oil</text:p></table:table-cell></table:table-row>"
    "</table:table>"
    "<text:p>Closing words about the foghorn.</text:p>"
    "</office:text></office:body></office:document-content>";

static const char odt_meta[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<office:document-meta" NS "><office:meta>"
                               "<dc:title>The Keeper's Manual</dc:title>"
                               "<dc:creator>Ada Lovelace</dc:creator>"
                               "</office:meta></office:document-meta>";

static const char ods_content[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<office:document-content" NS "><office:body><office:spreadsheet>"
    "<table:table table:name=\"Prices\">"
    "<table:table-column table:number-columns-repeated=\"3\"/>"
    "<table:table-row>"
    "<table:table-cell office:value-type=\"string\"><text:p>Item</text:p></table:table-cell>"
    "<table:table-cell office:value-type=\"string\"><text:p>Price</text:p></table:table-cell>"
    "<table:table-cell office:value-type=\"string\"><text:p>Colour</text:p></table:table-cell>"
    "</table:table-row>"
    "<table:table-row>"
    "<table:table-cell office:value-type=\"string\"><text:p>marmalade</text:p></table:table-cell>"
    "<table:table-cell office:value-type=\"float\" office:value=\"3.5\"><text:p>3.5</text:p>"
    "</table:table-cell>"
    "<table:table-cell office:value-type=\"string\"><text:p>orange</text:p></table:table-cell>"
    "<table:table-cell table:number-columns-repeated=\"16384\"/>"
    "</table:table-row>"
    "<table:table-row>"
    "<table:table-cell office:value-type=\"string\"><text:p>quince jelly</text:p>"
    "</table:table-cell><table:table-cell/>"
    "<table:table-cell office:value-type=\"string\"><text:p>amber</text:p></table:table-cell>"
    "</table:table-row>"
    "<table:table-row table:number-rows-repeated=\"1048000\">"
    "<table:table-cell table:number-columns-repeated=\"16384\"/></table:table-row>"
    "</table:table>"
    "<table:table table:name=\"Notes\">"
    "<table:table-row><table:table-cell office:value-type=\"float\" office:value=\"1\">"
    "<text:p>1</text:p></table:table-cell>"
    "<table:table-cell table:number-columns-repeated=\"2\" office:value-type=\"string\">"
    "<text:p>ditto</text:p></table:table-cell></table:table-row>"
    "<table:table-row><table:table-cell office:value-type=\"string\"><text:p>stock taken "
    "monthly</text:p></table:table-cell></table:table-row>"
    "</table:table>"
    "</office:spreadsheet></office:body></office:document-content>";

static const char odp_content[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<office:document-content" NS "><office:body><office:presentation>"
    "<draw:page draw:name=\"page1\">"
    "<draw:frame presentation:class=\"title\"><draw:text-box><text:p>Tide Tables</text:p>"
    "</draw:text-box></draw:frame>"
    "<draw:frame presentation:class=\"outline\"><draw:text-box><text:list><text:list-item>"
    "<text:p>High water at noon</text:p></text:list-item><text:list-item><text:p>Low water "
    "at six</text:p></text:list-item></text:list></draw:text-box></draw:frame>"
    "<presentation:notes><draw:page-thumbnail/><draw:frame presentation:class=\"notes\">"
    "<draw:text-box><text:p>Mention the spring tides.</text:p></draw:text-box></draw:frame>"
    "</presentation:notes></draw:page>"
    "<draw:page draw:name=\"Harbour Map\">"
    "<draw:custom-shape><text:p>The breakwater shelters the moorings.</text:p>"
    "</draw:custom-shape></draw:page>"
    "</office:presentation></office:body></office:document-content>";

static const char container_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">"
    "<rootfiles><rootfile full-path=\"OEBPS/content.opf\" "
    "media-type=\"application/oebps-package+xml\"/></rootfiles></container>";

static const char opf[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"id\">"
    "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
    "<dc:identifier id=\"id\">urn:uuid:1</dc:identifier>"
    "<dc:title>Voyages of the Narwhal</dc:title>"
    "<dc:creator>Grace Hopper</dc:creator><dc:creator>Alan Turing</dc:creator>"
    "<dc:language>en</dc:language></metadata>"
    "<manifest>"
    "<item id=\"ch1\" href=\"text/chapter%201.xhtml\" media-type=\"application/xhtml+xml\"/>"
    "<item id=\"ch2\" href=\"text/../text/ch2.xhtml\" media-type=\"application/xhtml+xml\"/>"
    "<item id=\"img\" href=\"cover.png\" media-type=\"image/png\"/>"
    "</manifest>"
    "<spine><itemref idref=\"ch2\"/><itemref idref=\"img\" linear=\"no\"/>"
    "<itemref idref=\"ch1\"/></spine></package>";

static const char ch1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>Chapter One</title></head>"
    "<body><h1>Arctic Waters</h1><p>The narwhal surfaced beside the ice floe.</p>"
    "<h2>Provisions</h2><p>Ship's biscuit and pemmican for ninety days.</p></body></html>";

static const char ch2[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>Preface"
                          "</title></head><body><h1>Preface</h1><p>Written aboard in "
                          "caf\xc3\xa9 latitude.</p></body></html>";

static char *read_file(const char *name, size_t *n)
{
    FILE *f = fopen(path_of(name), "rb");
    if (!f) die("cannot read %s: %s", path_of(name), strerror(errno));
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)l + 1);
    if (!d || fread(d, 1, (size_t)l, f) != (size_t)l) die("cannot read %s", path_of(name));
    fclose(f);
    *n = (size_t)l;
    return d;
}

int main(int argc, char **argv)
{
    if (argc != 2) die("usage: mkodf DIR");
    dir = argv[1];
    const member odt[] = {
        {"META-INF/manifest.xml", MANIFEST("application/vnd.oasis.opendocument.text")},
        {"content.xml", odt_content},
        {"meta.xml", odt_meta},
        {NULL, NULL}};
    write_zip("report.odt", odt_mime, odt);
    const member ods[] = {{"content.xml", ods_content}, {NULL, NULL}};
    write_zip("sheet.ods", ods_mime, ods);
    const member odp[] = {{"content.xml", odp_content}, {NULL, NULL}};
    write_zip("deck.odp", odp_mime, odp);
    const member epub[] = {{"META-INF/container.xml", container_xml},
                           {"OEBPS/content.opf", opf},
                           {"OEBPS/text/chapter 1.xhtml", ch1},
                           {"OEBPS/text/ch2.xhtml", ch2},
                           {NULL, NULL}};
    write_zip("book.epub", "application/epub+zip", epub);

    const member bad[] = {{"content.xml", "<?xml version=\"1.0\"?>\n<office:document-content" NS
                                          "><office:body><office:text><text:p>unclosed"
                                          "</office:text></office:body></office:document-content>"},
                          {NULL, NULL}};
    write_zip("badxml.odt", odt_mime, bad);
    const member none[] = {{"meta.xml", odt_meta}, {NULL, NULL}};
    write_zip("nocontent.odt", odt_mime, none);
    const member hole[] = {{"META-INF/container.xml", container_xml},
                           {"OEBPS/content.opf", opf},
                           {"OEBPS/text/ch2.xhtml", ch2},
                           {NULL, NULL}};
    write_zip("hole.epub", "application/epub+zip", hole);

    size_t n;
    char *d = read_file("report.odt", &n);
    FILE *f = fopen(path_of("corrupt.odt"), "wb");
    if (!f || fwrite(d, 1, n / 2, f) != n / 2 || fclose(f) != 0) die("cannot write corrupt.odt");
    free(d);
    return 0;
}
