/* ingest/markdown.c: Markdown files, parsed by libcmark-gfm (CommonMark with
 * the GitHub table and strikethrough extensions).
 *
 * The bytes are decoded first like any text file (ing_decode_text: BOM,
 * UTF-16, Windows-1252 fallback, invalid UTF-8 repaired and counted), a
 * front matter block is read off the top, and the rest goes to cmark-gfm.
 * Its tree is walked without recursion (cmark_iter; block quotes and lists
 * nest without bound) and rendered as plain text blocks:
 *   - ATX headings (# .. ######, closing #s dropped) and setext headings
 *     (=== level 1, --- level 2) => ING_HEADING of that level;
 *   - fenced and indented code => ING_PRE, verbatim: "# x" inside code is
 *     never a heading;
 *   - a paragraph => ING_PARA (soft line breaks kept as line breaks); block
 *     quotes are read through (their paragraphs are paragraphs);
 *   - a list, nested lists included, is one ING_PARA with one line per item
 *     paragraph, "- " or "N. " in front of an item's first line (as the HTML
 *     extractor does); code, tables and HTML inside an item are blocks of
 *     their own, and a heading inside an item is a line of the list;
 *   - a GFM table is one ING_PARA with one line per row, the header row
 *     first, cells joined by " | " ("Name | Qty", "apples | 3"): compact,
 *     one row per line so that chunks cut between rows, and the same form as
 *     HTML, DOCX and spreadsheet tables, so one query finds them all;
 *   - an HTML block is read by the HTML extractor (ing_extract_html: tags
 *     stripped, entities decoded, script/style dropped, <h1>..<h6> are
 *     headings); inline HTML tags are dropped, the text between them kept;
 *   - inline markup is plain text: emphasis, strong and strikethrough
 *     delimiters go, code spans keep their content, links and images keep
 *     their text (alt text), the URL only when it is the only text
 *     ("<https://x>", "[](https://x)"). Intraword emphasis with '*' keeps
 *     its asterisks ("2*3*4", CommonMark's emphasis, stays 2*3*4);
 *   - thematic breaks, link reference definitions and footnote syntax give
 *     no text.
 *
 * Front matter is not body text. YAML: "---" alone on the first line, up
 * to a "---" or "..." line; TOML: "+++" up to "+++". Only top-level simple
 * scalars are read ("key: value", "key = value"; quoted or plain, a plain
 * value's " # comment" dropped), and one-line lists of them ("tags: [a, b]",
 * a JSON array of strings); block scalars, block lists and maps are skipped:
 * `title` becomes the title (title_in_text = 0), the others metadata via
 * ing_meta_str, keys lowercased and reduced to [a-z0-9_-] (at most 64
 * bytes; "type" and keys seen before are skipped), at most FM_MAX_KEYS keys,
 * values cut to FM_MAX_VALUE bytes. An unclosed block is no front matter.
 *
 * Limits: the decoded input is at most lim->max_text (ing_decode_text) and
 * lim->max_line per line; the rendered text stops with RAG_ERR_LIMIT once it
 * passes lim->max_text. The table extension pads rows to the header's width
 * (cells from nothing): an input whose lines times its widest line in '|'
 * exceed max(100000, twice its size) is read without it (tables_bounded). */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <pthread.h>
#include <string.h>

#define FM_MAX_KEYS 32
#define FM_MAX_VALUE 1024
#define FM_MAX_KEY 64
#define LIST_NEST_MAX 64       /* item numbers are tracked this deep */
#define TABLE_CELLS_MIN 100000 /* see tables_bounded */

/* ---- front matter ------------------------------------------------------- */

/* s[i..) starts a line that is exactly `mark` (3 chars), trailing blanks and
 * CR allowed. Returns the offset after the line (its '\n'), or 0. */
static size_t fence_line(const char *s, size_t n, size_t i, const char *mark)
{
    if (n - i < 3 || memcmp(s + i, mark, 3)) return 0;
    size_t j = i + 3;
    while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
        j++;
    if (j < n && s[j] != '\n') return 0;
    return j < n ? j + 1 : n;
}

typedef struct fm {
    ing_text *out;
    int n_keys;
    char seen[FM_MAX_KEYS][FM_MAX_KEY + 1];
} fm;

/* Unquotes and cleans value v[0..n) into b; 0 when it is no simple scalar. */
static int fm_value(const char *v, size_t n, rag_buf *b)
{
    while (n && (v[0] == ' ' || v[0] == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    if (!n) return 0;
    char q = v[0];
    if (q == '"' || q == '\'') {
        size_t i = 1;
        for (; i < n; i++) {
            if (q == '\'' && v[i] == '\'') {
                if (i + 1 < n && v[i + 1] == '\'') { /* '' is one quote */
                    rag_buf_putc(b, '\'');
                    i++;
                    continue;
                }
                break;
            }
            if (q == '"' && v[i] == '\\' && i + 1 < n) {
                char c = v[++i];
                rag_buf_putc(b, c == 'n' ? '\n' : c == 't' ? '\t' : c);
                continue;
            }
            if (q == '"' && v[i] == '"') break;
            rag_buf_putc(b, v[i]);
        }
        return i < n; /* closed on this line */
    }
    /* block scalars, flow collections, anchors, aliases, tags */
    if (strchr("|>[{&*!", q)) return 0;
    for (size_t i = 1; i < n; i++) /* " # comment" */
        if (v[i] == '#' && (v[i - 1] == ' ' || v[i - 1] == '\t')) {
            n = i;
            break;
        }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    rag_buf_append(b, v, n);
    return n > 0;
}

/* "[a, 'b c', d]" on one line, items simple scalars: key's value becomes a
 * JSON array of strings (at most FM_MAX_VALUE bytes of items). 0 when the
 * value is no such list. */
static int fm_list(ing_text *out, const char *key, const char *v, size_t n)
{
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    if (n < 2 || v[n - 1] != ']') return 0;
    v++, n -= 2;
    if (memchr(v, '[', n) || memchr(v, '{', n) || n > FM_MAX_VALUE) return 0;
    cJSON *arr = cJSON_CreateArray();
    int ok = 1;
    for (size_t i = 0; i < n && ok;) {
        size_t e = i;
        char q = 0;
        while (e < n && v[e] == ' ')
            e++;
        if (e < n && (v[e] == '"' || v[e] == '\'')) q = v[e];
        size_t j = e + (q != 0);
        while (j < n && (q ? v[j] != q : v[j] != ','))
            j++;
        if (q) j = j < n ? j + 1 : j;
        while (j < n && v[j] != ',')
            j++;
        rag_buf b = {0};
        if (fm_value(v + i, j - i, &b) && b.len) {
            rag_buf r = {0};
            rag_utf8_repair((const uint8_t *)b.data, b.len, &r, NULL);
            cJSON_AddItemToArray(arr, cJSON_CreateString(rag_buf_str(&r)));
            rag_buf_free(&r);
        } else if (j > e) {
            ok = 0; /* an item that is no simple scalar */
        }
        rag_buf_free(&b);
        i = j + 1;
    }
    if (ok) {
        char *js = cJSON_PrintUnformatted(arr);
        ing_meta_json(out, key, js);
        cJSON_free(js);
    }
    cJSON_Delete(arr);
    return ok;
}

static void fm_pair(fm *f, const char *k, size_t kn, const char *v, size_t vn)
{
    char key[FM_MAX_KEY + 1];
    size_t kl = 0;
    for (size_t i = 0; i < kn && kl < FM_MAX_KEY; i++) {
        unsigned char c = (unsigned char)k[i];
        if (isalnum(c) || c == '_' || c == '-')
            key[kl++] = (char)tolower(c);
        else if (c == ' ' || c == '.')
            key[kl++] = '_';
    }
    key[kl] = 0;
    if (!kl || !strcmp(key, "type") || !strcmp(key, "encoding_repairs")) return;
    for (int i = 0; i < f->n_keys; i++)
        if (!strcmp(f->seen[i], key)) return;
    if (f->n_keys >= FM_MAX_KEYS) return;
    while (vn && (v[0] == ' ' || v[0] == '\t'))
        v++, vn--;
    if (vn && v[0] == '[') { /* a flow list of scalars: a JSON array */
        if (strcmp(key, "title") && fm_list(f->out, key, v, vn)) strcpy(f->seen[f->n_keys++], key);
        return;
    }
    rag_buf b = {0};
    if (fm_value(v, vn, &b) && b.len) {
        if (b.len > FM_MAX_VALUE) { /* cut at a character boundary */
            size_t cut = FM_MAX_VALUE;
            while (cut > 0 && ((unsigned char)b.data[cut] & 0xC0) == 0x80)
                cut--;
            b.len = cut;
            b.data[cut] = 0;
        }
        if (!strcmp(key, "title")) {
            ing_text_set_title(f->out, b.data, b.len);
            if (f->out->title) f->out->title_in_text = 0;
        } else {
            ing_meta_str(f->out, key, rag_buf_str(&b));
        }
        strcpy(f->seen[f->n_keys++], key);
    }
    rag_buf_free(&b);
}

/* Reads a front matter block at the top of s[0..n): returns the offset where
 * the body starts (0: none). */
static size_t front_matter(const char *s, size_t n, ing_text *out)
{
    const char *mark = NULL;
    size_t body = 0;
    if ((body = fence_line(s, n, 0, "---")))
        mark = "---";
    else if ((body = fence_line(s, n, 0, "+++")))
        mark = "+++";
    if (!mark || body >= n) return 0;
    int toml = mark[0] == '+';
    /* find the closing line first: an unclosed block is body text */
    size_t i = body, end = 0, after = 0;
    while (i < n) {
        size_t e = fence_line(s, n, i, mark);
        if (!e && !toml) e = fence_line(s, n, i, "...");
        if (e) {
            end = i;
            after = e;
            break;
        }
        const char *nl = memchr(s + i, '\n', n - i);
        i = nl ? (size_t)(nl - s) + 1 : n;
    }
    if (!after) return 0;
    fm f = {.out = out};
    for (i = body; i < end;) {
        const char *nl = memchr(s + i, '\n', end - i);
        size_t e = nl ? (size_t)(nl - s) : end;
        const char *l = s + i;
        size_t ln = e - i;
        i = e + 1;
        if (!ln || !isalpha((unsigned char)l[0])) continue; /* indented, comment, list */
        size_t k = 0;
        while (k < ln && (isalnum((unsigned char)l[k]) || strchr("_-. ", l[k])))
            k++;
        size_t kn = k;
        while (kn && l[kn - 1] == ' ')
            kn--;
        if (toml) {
            if (k < ln && l[k] == '=') fm_pair(&f, l, kn, l + k + 1, ln - k - 1);
        } else if (k < ln && l[k] == ':' && (k + 1 == ln || l[k + 1] == ' ' || l[k + 1] == '\t')) {
            fm_pair(&f, l, kn, l + k + 1, ln - k - 1);
        }
    }
    return after;
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct mw {
    ing_text *out;
    const ing_limits *lim;
    const char *path;
    rag_buf list;                /* the list being built (one block) */
    rag_buf leaf;                /* inline text of the paragraph, heading or cell */
    rag_buf table;               /* the table being built (one block) */
    int list_depth;              /* lists entered */
    int item_num[LIST_NEST_MAX]; /* next number of an ordered list, 0: bullets */
    int prefix_due;              /* the next line of the list starts an item */
    char prefix[16];
    int in_table, row_cells, table_rows;
    int too_big;
} mw;

static void check_size(mw *w)
{
    if (w->out->text.len + w->list.len + w->leaf.len + w->table.len > w->lim->max_text)
        w->too_big = 1;
}

static void flush_list(mw *w)
{
    if (w->list.len) ing_text_add(w->out, ING_PARA, 0, w->list.data, w->list.len);
    rag_buf_clear(&w->list);
}

/* A line of the list being built: the leaf, with the item prefix when due. */
static void list_line(mw *w, const char *s, size_t n)
{
    if (!n) return;
    if (w->list.len) rag_buf_putc(&w->list, '\n');
    if (w->prefix_due) rag_buf_puts(&w->list, w->prefix);
    w->prefix_due = 0;
    rag_buf_append(&w->list, s, n);
}

/* An HTML block: its text, through the HTML extractor. */
static void html_block(mw *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || ing_is_blank((const uint8_t *)s, n)) return;
    ing_text h = {0};
    rag_err e = {0};
    if (ing_extract_html(w->path, (const uint8_t *)s, n, w->lim, &h, &e) == 0) {
        for (size_t i = 0; i < h.n_blocks; i++) {
            const ing_block *b = &h.blocks[i];
            if (w->list_depth && b->kind != ING_PRE)
                list_line(w, h.text.data + b->start, b->len);
            else {
                flush_list(w);
                ing_text_add(w->out, b->kind, b->level, h.text.data + b->start, b->len);
            }
        }
    }
    ing_text_free(&h);
}

static int is_alnum_byte(int c)
{
    return isalnum(c) || c >= 0x80;
}

/* Emphasis inside a word ("2*3*4", "un*frigging*believable") keeps its
 * asterisks: '_' cannot open or close inside a word, so '*' it was. */
static int intraword(cmark_node *n)
{
    cmark_node *p = cmark_node_previous(n), *x = cmark_node_next(n);
    if (p && cmark_node_get_type(p) == CMARK_NODE_TEXT) {
        const char *l = cmark_node_get_literal(p);
        size_t ln = l ? strlen(l) : 0;
        if (ln && is_alnum_byte((unsigned char)l[ln - 1])) return 1;
    }
    if (x && cmark_node_get_type(x) == CMARK_NODE_TEXT) {
        const char *l = cmark_node_get_literal(x);
        if (l && is_alnum_byte((unsigned char)l[0])) return 1;
    }
    return 0;
}

static rag_buf *sink(mw *w)
{
    return w->in_table ? &w->table : &w->leaf;
}

static void walk(mw *w, cmark_node *root)
{
    cmark_iter *it = cmark_iter_new(root);
    cmark_event_type ev;
    while (!w->too_big && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        int enter = ev == CMARK_EVENT_ENTER;
        const char *ts = cmark_node_get_type_string(n);
        switch (cmark_node_get_type(n)) {
        case CMARK_NODE_LIST:
            if (enter) {
                if (w->list_depth == 0) flush_list(w);
                if (w->list_depth < LIST_NEST_MAX)
                    w->item_num[w->list_depth] = cmark_node_get_list_type(n) == CMARK_ORDERED_LIST
                                                     ? cmark_node_get_list_start(n)
                                                     : 0;
                w->list_depth++;
            } else {
                w->list_depth--;
                if (w->list_depth == 0) flush_list(w);
            }
            break;
        case CMARK_NODE_ITEM:
            if (enter) {
                int d = w->list_depth - 1;
                int num = d >= 0 && d < LIST_NEST_MAX ? w->item_num[d] : 0;
                if (num > 0) {
                    snprintf(w->prefix, sizeof w->prefix, "%d. ", num);
                    w->item_num[d]++;
                } else {
                    strcpy(w->prefix, "- ");
                }
                w->prefix_due = 1;
            }
            break;
        case CMARK_NODE_PARAGRAPH:
        case CMARK_NODE_HEADING:
            if (w->in_table) break;
            if (enter) {
                rag_buf_clear(&w->leaf);
                break;
            }
            if (w->list_depth)
                list_line(w, w->leaf.data, w->leaf.len);
            else if (cmark_node_get_type(n) == CMARK_NODE_HEADING)
                ing_text_add(w->out, ING_HEADING, cmark_node_get_heading_level(n),
                             rag_buf_str(&w->leaf), w->leaf.len);
            else
                ing_text_add(w->out, ING_PARA, 0, rag_buf_str(&w->leaf), w->leaf.len);
            rag_buf_clear(&w->leaf);
            break;
        case CMARK_NODE_CODE_BLOCK: {
            const char *l = cmark_node_get_literal(n);
            flush_list(w);
            if (l) ing_text_add(w->out, ING_PRE, 0, l, strlen(l));
            break;
        }
        case CMARK_NODE_HTML_BLOCK:
            html_block(w, cmark_node_get_literal(n));
            break;
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE: {
            const char *l = cmark_node_get_literal(n);
            if (l) rag_buf_puts(sink(w), l);
            break;
        }
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK:
            rag_buf_putc(sink(w), w->in_table ? ' ' : '\n');
            break;
        case CMARK_NODE_EMPH:
        case CMARK_NODE_STRONG:
            if (intraword(n))
                rag_buf_puts(sink(w), cmark_node_get_type(n) == CMARK_NODE_EMPH ? "*" : "**");
            break;
        case CMARK_NODE_LINK:
            /* the URL only when the link has no text */
            if (!enter && !cmark_node_first_child(n)) {
                const char *u = cmark_node_get_url(n);
                if (u) rag_buf_puts(sink(w), u);
            }
            break;
        default:
            /* the GFM table extension's nodes */
            if (!strcmp(ts, "table")) {
                if (enter) {
                    flush_list(w);
                    rag_buf_clear(&w->table);
                    w->in_table = 1;
                    w->table_rows = 0;
                } else {
                    ing_text_add(w->out, ING_PARA, 0, rag_buf_str(&w->table), w->table.len);
                    rag_buf_clear(&w->table);
                    w->in_table = 0;
                }
            } else if (!strcmp(ts, "table_row") || !strcmp(ts, "table_header")) {
                if (enter) {
                    if (w->table_rows++) rag_buf_putc(&w->table, '\n');
                    w->row_cells = 0;
                }
            } else if (!strcmp(ts, "table_cell")) {
                if (enter && w->row_cells++) rag_buf_puts(&w->table, " | ");
            }
            break;
        }
        check_size(w);
    }
    cmark_iter_free(it);
}

/* The table extension pads every row to the header's width, so a wide
 * header over many short lines makes cells (nodes, text) out of nothing:
 * 5000 columns over 2000 rows are ten million cells from 400 KB. Tables are
 * read only when lines x widest line (in '|') stays within TABLE_CELLS_MIN
 * or twice the input's size; otherwise the input is read without the
 * extension, and its tables are paragraphs of text with their pipes. */
static int tables_bounded(const char *s, size_t n)
{
    size_t lines = 1, pipes = 0, widest = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '|') {
            pipes++;
        } else if (s[i] == '\n') {
            lines++;
            if (pipes > widest) widest = pipes;
            pipes = 0;
        }
    }
    if (pipes > widest) widest = pipes;
    size_t budget = 2 * n > TABLE_CELLS_MIN ? 2 * n : TABLE_CELLS_MIN;
    return widest == 0 || lines <= budget / widest;
}

static pthread_once_t ext_once = PTHREAD_ONCE_INIT;

static void ext_init(void)
{
    cmark_gfm_core_extensions_ensure_registered();
}

int ing_extract_markdown(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                         ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "text/markdown";
    rag_buf txt = {0};
    size_t repaired = 0;
    int rc = ing_decode_text(path, data, n, lim, &txt, &repaired, err);
    out->n_repaired += repaired;
    if (rc) {
        rag_buf_free(&txt);
        return rc;
    }
    const char *s = rag_buf_str(&txt);
    size_t body = front_matter(s, txt.len, out);

    pthread_once(&ext_once, ext_init);
    cmark_parser *p = cmark_parser_new(CMARK_OPT_DEFAULT);
    static const char *const exts[] = {"strikethrough", "table"};
    int n_ext = tables_bounded(s + body, txt.len - body) ? 2 : 1;
    for (int i = 0; i < n_ext; i++) {
        cmark_syntax_extension *x = cmark_find_syntax_extension(exts[i]);
        if (x) cmark_parser_attach_syntax_extension(p, x);
    }
    cmark_parser_feed(p, s + body, txt.len - body);
    cmark_node *doc = cmark_parser_finish(p);
    rag_buf_free(&txt);
    mw w = {.out = out, .lim = lim, .path = path};
    if (doc) walk(&w, doc);
    if (!w.too_big) {
        flush_list(&w);
        check_size(&w);
    }
    rag_buf_free(&w.list);
    rag_buf_free(&w.leaf);
    rag_buf_free(&w.table);
    if (doc) cmark_node_free(doc);
    cmark_parser_free(p);
    if (w.too_big)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                           name, lim->max_text);
    return 0;
}
