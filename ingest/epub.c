/* ingest/epub.c: EPUB books (2 and 3).
 *
 * Structure: a zip (read through odfzip.c, with docx.c's limits) whose
 * `mimetype` member reads application/epub+zip. META-INF/container.xml
 * names the package document (the OPF, <rootfile full-path=...>; the first
 * one of media type application/oebps-package+xml, else the first one). The
 * OPF holds <metadata> (dc:title becomes the title, the dc:creator
 * elements the "author" metadata, joined by ", "), <manifest> (id -> href,
 * media-type; hrefs are relative to the OPF's folder and may be
 * percent-encoded) and <spine>, the reading order of manifest ids.
 *
 * Each spine item that is XHTML or HTML is read in spine order through the
 * HTML extractor (ing_extract_html) into a temporary ing_text, whose blocks
 * (headings with their levels, paragraphs, preformatted text) are appended
 * to the book's; chapter <title>s are not used. Spine items of other types
 * (SVG pages, images) are passed over. A spine entry that names no manifest
 * item, or an item missing from the zip, fails the book with a message
 * naming it: a book with holes is reported rather than silently shortened. */
#include "ingest/ing_int.h"
#include "ingest/odfzip.h"
#include "base/mem.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char CONTAINER_NS[] = "urn:oasis:names:tc:opendocument:xmlns:container";
static const char OPF_NS[] = "http://www.idpf.org/2007/opf";
static const char DC_NS[] = "http://purl.org/dc/elements/1.1/";

static xmlNodePtr child(xmlNodePtr n, const char *ns, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (ozip_is(c, ns, name)) return c;
    return NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The zip member an href names: dir (ending in '/' or empty) + href,
 * percent-decoded, without fragment, with "." and ".." resolved. NULL when
 * the href leaves the archive or is absolute (a URL). */
static char *resolve(const char *dir, const char *href)
{
    if (strstr(href, "://") || href[0] == '/') return NULL;
    rag_buf b = {0};
    rag_buf_puts(&b, dir);
    for (const char *p = href; *p && *p != '#' && *p != '?'; p++) {
        int h1, h2;
        if (*p == '%' && (h1 = hexval(p[1])) >= 0 && (h2 = hexval(p[2])) >= 0) {
            rag_buf_putc(&b, (char)(h1 * 16 + h2));
            p += 2;
        } else {
            rag_buf_putc(&b, *p);
        }
    }
    /* resolve segments */
    char *s = rag_buf_steal(&b);
    if (!s) return NULL;
    rag_buf o = {0};
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        size_t l = j - i;
        if (l == 0 || (l == 1 && s[i] == '.')) {
            /* skip */
        } else if (l == 2 && s[i] == '.' && s[i + 1] == '.') {
            if (!o.len) {
                rag_free(s);
                rag_buf_free(&o);
                return NULL;
            }
            while (o.len && o.data[o.len - 1] != '/')
                o.len--;
            if (o.len) o.len--; /* the '/' */
            o.data[o.len] = 0;
        } else {
            if (o.len) rag_buf_putc(&o, '/');
            rag_buf_append(&o, s + i, l);
        }
        i = j + 1;
    }
    rag_free(s);
    if (!o.len) {
        rag_buf_free(&o);
        return NULL;
    }
    return rag_buf_steal(&o);
}

static void one_line(const char *s, size_t n, rag_buf *out)
{
    ing_text tmp = {0};
    ing_text_set_title(&tmp, s, n);
    if (tmp.title) rag_buf_puts(out, tmp.title);
    ing_text_free(&tmp);
}

static void read_metadata(xmlNodePtr md, ing_text *out)
{
    rag_buf authors = {0};
    for (xmlNodePtr c = md ? md->children : NULL; c; c = c->next) {
        rag_buf t = {0};
        if (ozip_is(c, DC_NS, "title") && !out->title) {
            ozip_text(c, &t);
            ing_text_set_title(out, rag_buf_str(&t), t.len);
            if (out->title) out->title_in_text = 0;
        } else if (ozip_is(c, DC_NS, "creator")) {
            ozip_text(c, &t);
            size_t before = authors.len;
            if (before) rag_buf_puts(&authors, ", ");
            one_line(rag_buf_str(&t), t.len, &authors);
            if (authors.len == before + (before ? 2 : 0)) authors.len = before; /* empty */
            if (authors.data) authors.data[authors.len] = 0;
        }
        rag_buf_free(&t);
    }
    if (authors.len) ing_meta_str(out, "author", authors.data);
    rag_buf_free(&authors);
}

/* Appends the blocks of one chapter. */
static int chapter(ozip *z, const char *member, ing_text *out, rag_err *err)
{
    rag_buf b = {0};
    int rc = ozip_read(z, member, &b, err);
    if (rc == 1)
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt EPUB: %s (in the spine) is missing",
                         z->path, member);
    if (rc) {
        rag_buf_free(&b);
        return rc;
    }
    ing_text t = {0};
    char *where = rag_xasprintf("%s!/%s", z->path, member);
    ing_limits lim = *z->lim;
    lim.max_text = out->text.len < lim.max_text ? lim.max_text - out->text.len : 0;
    if (!ing_is_blank((const uint8_t *)rag_buf_str(&b), b.len))
        rc = ing_extract_html(where, (const uint8_t *)rag_buf_str(&b), b.len, &lim, &t, err);
    for (size_t i = 0; !rc && i < t.n_blocks; i++)
        ing_text_add(out, t.blocks[i].kind, t.blocks[i].level, t.text.data + t.blocks[i].start,
                     t.blocks[i].len);
    out->n_repaired += t.n_repaired;
    if (!rc && out->text.len > z->lim->max_text)
        rc = rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                         z->path, z->lim->max_text);
    ing_text_free(&t);
    rag_free(where);
    rag_buf_free(&b);
    return rc;
}

int ing_extract_epub(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    out->mime = "application/epub+zip";
    ozip z;
    int rc = ozip_open(&z, path, "EPUB", data, n, lim, err);
    if (rc) return rc;
    xmlDocPtr cdoc = NULL, opf = NULL;
    char *opf_path = NULL;
    rc = ozip_xml(&z, "META-INF/container.xml", &cdoc, err);
    if (rc == 1)
        rc = rag_err_set(err, RAG_ERR_FORMAT,
                         "%s: not an EPUB: the archive has no META-INF/container.xml", z.path);
    if (!rc) {
        xmlNodePtr rfs = child(xmlDocGetRootElement(cdoc), CONTAINER_NS, "rootfiles");
        const char *full = NULL;
        for (xmlNodePtr c = rfs ? rfs->children : NULL; c; c = c->next) {
            if (!ozip_is(c, CONTAINER_NS, "rootfile")) continue;
            const char *fp = ozip_attr(c, NULL, "full-path");
            const char *mt = ozip_attr(c, NULL, "media-type");
            if (!fp || !*fp) continue;
            if (!full) full = fp;
            if (mt && !strcmp(mt, "application/oebps-package+xml")) {
                full = fp;
                break;
            }
        }
        if (!full || !(opf_path = resolve("", full)))
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: corrupt EPUB: META-INF/container.xml names no package "
                             "document (<rootfile full-path>)",
                             z.path);
    }
    if (!rc) {
        rc = ozip_xml(&z, opf_path, &opf, err);
        if (rc == 1)
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: corrupt EPUB: the package document %s is missing", z.path,
                             opf_path);
    }
    xmlNodePtr pkg = opf ? xmlDocGetRootElement(opf) : NULL;
    xmlNodePtr manifest = child(pkg, OPF_NS, "manifest"), spine = child(pkg, OPF_NS, "spine");
    if (!rc && (!ozip_is(pkg, OPF_NS, "package") || !manifest || !spine))
        rc = rag_err_set(err, RAG_ERR_FORMAT,
                         "%s: corrupt EPUB: %s is not a package document (no <package> with "
                         "<manifest> and <spine>)",
                         z.path, opf_path);
    if (!rc) {
        read_metadata(child(pkg, OPF_NS, "metadata"), out);
        char *dir = rag_xstrdup(opf_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[1] = 0;
        else
            dir[0] = 0;
        for (xmlNodePtr ir = spine->children; ir && !rc; ir = ir->next) {
            if (!ozip_is(ir, OPF_NS, "itemref")) continue;
            const char *idref = ozip_attr(ir, NULL, "idref");
            xmlNodePtr item = NULL;
            for (xmlNodePtr it = manifest->children; it && idref && !item; it = it->next) {
                const char *id = ozip_attr(it, NULL, "id");
                if (ozip_is(it, OPF_NS, "item") && id && !strcmp(id, idref)) item = it;
            }
            const char *href = item ? ozip_attr(item, NULL, "href") : NULL;
            if (!href) {
                rc = rag_err_set(err, RAG_ERR_FORMAT,
                                 "%s: corrupt EPUB: %s: spine item '%s' is not in the manifest",
                                 z.path, opf_path, idref ? idref : "(no idref)");
                break;
            }
            const char *mt = ozip_attr(item, NULL, "media-type");
            if (mt && strcmp(mt, "application/xhtml+xml") && strcmp(mt, "text/html")) continue;
            char *member = resolve(dir, href);
            if (!member) {
                rc = rag_err_set(err, RAG_ERR_FORMAT,
                                 "%s: corrupt EPUB: %s: spine item '%s' points outside the book "
                                 "(%s)",
                                 z.path, opf_path, idref, href);
                break;
            }
            rc = chapter(&z, member, out, err);
            rag_free(member);
        }
        rag_free(dir);
    }
    rag_free(opf_path);
    if (cdoc) xmlFreeDoc(cdoc);
    if (opf) xmlFreeDoc(opf);
    ozip_close(&z);
    return rc;
}
