/* ingest/extract_text.c: plain text files.
 *
 * The bytes are decoded to UTF-8 (decode.c), then cut into paragraphs at
 * blank lines (lines holding only spaces and tabs count as blank). Line
 * breaks inside a paragraph are kept: in plain text they are often meaningful
 * (lists, addresses, verse). The title is left to ing_extract: the first
 * non-empty line when it reads as a title. */
#include "ingest/ing_int.h"

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

int ing_extract_text(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    out->mime = "text/plain";
    rag_buf txt = {0};
    size_t repaired = 0;
    int rc = ing_decode_text(path, data, n, lim, &txt, &repaired, err);
    out->n_repaired += repaired;
    if (rc) {
        rag_buf_free(&txt);
        return rc;
    }
    const char *s = rag_buf_str(&txt);
    size_t len = txt.len, i = 0, para = 0;
    while (i < len) { /* lines end at LF, CR LF or a lone CR */
        size_t e = i;
        while (e < len && s[e] != '\n' && s[e] != '\r')
            e++;
        size_t next = e + (e + 1 < len && s[e] == '\r' && s[e + 1] == '\n' ? 2 : 1);
        if (is_blank(s + i, e - i)) {
            if (i > para) ing_text_add(out, ING_PARA, 0, s + para, i - para);
            para = next;
        }
        i = next;
    }
    if (para < len) ing_text_add(out, ING_PARA, 0, s + para, len - para);
    rag_buf_free(&txt);
    return 0;
}
