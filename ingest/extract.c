/* ingest/extract.c: the extraction entry point (ing_extract), the default
 * limits, and the title fallback every extractor shares.
 *
 * ing_extract only dispatches and enforces what is common to all formats:
 * an empty file, an unknown type, a document that yields no text. The
 * format-specific rules live in extract_text.c, markdown.c, html.c, docx.c
 * and pdf.c. */
#include "ingest/ing_int.h"

#include <string.h>

void ing_limits_default(ing_limits *l)
{
    l->max_line = (size_t)1 << 20;       /* 1 MiB: minified blobs, not prose */
    l->max_text = (size_t)64 << 20;      /* 64 MiB of extracted text */
    l->max_unzipped = (size_t)256 << 20; /* DOCX members read, in total */
    l->max_zip_ratio = 200;              /* real documents compress < 20x */
    l->pdf_cpu_s = 30;
    l->pdf_mem = (size_t)1 << 30; /* 1 GiB of address space */
    l->pdf_timeout_s = 60;
}

void ing_text_default_title(ing_text *t)
{
    if (t->title || t->n_blocks == 0) return;
    const ing_block *b = NULL;
    for (size_t i = 0; i < t->n_blocks && !b; i++)
        if (t->blocks[i].kind == ING_HEADING) b = &t->blocks[i];
    const char *s;
    size_t len;
    if (b) {
        s = t->text.data + b->start;
        len = b->len;
    } else {
        s = t->text.data + t->blocks[0].start;
        const char *nl = memchr(s, '\n', t->blocks[0].len);
        len = nl ? (size_t)(nl - s) : t->blocks[0].len;
    }
    ing_text_set_title(t, s, len);
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
    if (n == 0) return rag_err_set(err, RAG_ERR_FORMAT, "%s: empty file", name);
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
    default:
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
    ing_text_default_title(out);
    return 0;
}
