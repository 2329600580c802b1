/* ingest/email.c: email messages (RFC 5322, .eml) and mailboxes (mbox),
 * through GMime 3.
 *
 * A message is a document and a container at once:
 *   - ing_extract_email gives its text. The first block is a header block,
 *     "From: ...\nTo: ...\nCc: ...\nDate: ...\nSubject: ..." (lines only for
 *     the headers present), so that a search for a sender, a recipient or
 *     the subject finds the message; the Subject is the title and, being in
 *     that first block, title_in_text is 1. Then the body: in a
 *     multipart/alternative the text/plain alternative, else the text/html
 *     one (read by ing_extract_html, its blocks copied); in other multiparts
 *     (mixed, related, signed) every inline text part in order. A part with
 *     a file name or Content-Disposition: attachment is an attachment, never
 *     body; message/rfc822 parts are attachments too. Text is decoded from
 *     its transfer encoding (GMime) and from its declared charset (GMime's
 *     charset filter over iconv; an unknown charset, or none, or UTF-8 goes
 *     through ing_decode_text: UTF-8, else Windows-1252). HTML that declares
 *     its own charset in its first 4 KiB is handed over undecoded, so the
 *     document's declaration rules; other HTML is converted to UTF-8 first.
 *     Plain text is cut into blocks at blank lines and where quoting starts
 *     or stops ("> " lines are kept, as blocks of their own); a signature
 *     (after a "-- " line) is a block of its own.
 *   - Metadata (ing_meta_*): "from", "to", "cc": JSON arrays of strings,
 *     "Name <addr>" or "addr" (groups flattened); "date": ISO 8601 UTC
 *     ("2024-03-01T09:30:00Z"); "message_id", "in_reply_to": ids without
 *     angle brackets; "thread": the root of the thread, the first id of
 *     References, else In-Reply-To's, else the message's own id, so that the
 *     messages of one thread share it.
 *   - ing_email_members gives its attachments: "attachments/N/FILENAME"
 *     (N from 1 in document order; the file name with '/', '\\' and control
 *     characters replaced by '_', at most 200 bytes; "attachment" when none,
 *     "message.eml" for an unnamed message/rfc822), the decoded bytes, type
 *     ING_TYPE_EMAIL for message/rfc822 (its own attachments are its own
 *     members) else ING_TYPE_UNKNOWN, and "parent_message_id" as metadata.
 *     Signature parts (application/pgp-signature, pkcs7-signature) are left
 *     out. Multiparts nested deeper than MAX_DEPTH are not walked.
 *   - ing_mbox_members gives the messages of an mbox: member "N" (from 1, in
 *     file order: stable when messages are appended), type ING_TYPE_EMAIL,
 *     the message's bytes without its "From " line, mboxrd ">From "
 *     escaping undone, and "message_id" as metadata. Message-IDs are not
 *     used as names: they may be missing, repeated or unsafe in a path.
 *
 * A message with none of From, To, Subject, Date or Message-ID is not an
 * email (RAG_ERR_FORMAT). GMime copies the input into its own stream; the
 * parsed message lives in memory while it is read. */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 32
#define NAME_MAX_BYTES 200

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void)
{
    g_mime_init();
}

static void email_init(void)
{
    pthread_once(&gmime_once, gmime_init_once);
}

/* Parses one message from data[0..n) (format GMIME_FORMAT_MESSAGE or
 * _MBOX for the first of a mailbox); NULL when GMime finds none. */
static GMimeParser *parser_new(const uint8_t *data, size_t n, GMimeFormat format)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)data, n);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    g_object_unref(s);
    g_mime_parser_set_format(p, format);
    return p;
}

static int has_mail_header(GMimeMessage *m)
{
    static const char *const h[] = {"From", "To", "Subject", "Date", "Message-ID", NULL};
    for (size_t i = 0; h[i]; i++)
        if (g_mime_object_get_header(GMIME_OBJECT(m), h[i])) return 1;
    return 0;
}

static int parse_message(const char *name, const uint8_t *data, size_t n, GMimeMessage **out,
                         rag_err *err)
{
    email_init();
    *out = NULL;
    GMimeParser *p = parser_new(data, n, GMIME_FORMAT_MESSAGE);
    GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    if (!m) return rag_err_set(err, RAG_ERR_FORMAT, "%s: not an email message", name);
    if (!has_mail_header(m)) {
        g_object_unref(m);
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: not an email message: no From, To, Subject, Date or "
                           "Message-ID header",
                           name);
    }
    *out = m;
    return 0;
}

/* ---- text decoding ---------------------------------------------------------- */

/* The part's content with its transfer encoding undone, appended to out. */
static void part_bytes(GMimePart *part, rag_buf *out)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    if (!w) return;
    GMimeStream *mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(w, mem);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if (ba && ba->len) rag_buf_append(out, ba->data, ba->len);
    g_object_unref(mem);
}

static int is_utf8_name(const char *cs)
{
    return !cs || !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") ||
           !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii");
}

/* d[0..n) in `charset` converted to UTF-8 into out: 0, or -1 when the
 * charset is unknown to iconv. */
static int charset_to_utf8(const char *charset, const uint8_t *d, size_t n, rag_buf *out)
{
    GMimeFilter *f = g_mime_filter_charset_new(charset, "UTF-8");
    if (!f) return -1;
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeStream *fs = g_mime_stream_filter_new(mem);
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
    g_object_unref(f);
    g_mime_stream_write(fs, (const char *)d, n);
    g_mime_stream_flush(fs);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if (ba && ba->len) rag_buf_append(out, ba->data, ba->len);
    g_object_unref(fs);
    g_object_unref(mem);
    return 0;
}

/* The text of a part as UTF-8 (repairable: ing_text_add repairs what is
 * left). */
static void part_text(const char *name, GMimePart *part, const ing_limits *lim, rag_buf *out)
{
    rag_buf raw = {0};
    part_bytes(part, &raw);
    const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    if (!is_utf8_name(cs) && charset_to_utf8(cs, (const uint8_t *)raw.data, raw.len, out) == 0) {
        rag_buf_free(&raw);
        return;
    }
    rag_err e = {0};
    if (ing_decode_text(name, (const uint8_t *)raw.data, raw.len, lim, out, NULL, &e) != 0) {
        out->len = 0;
        rag_buf_append(out, raw.data, raw.len);
    }
    rag_buf_free(&raw);
}

/* ---- body ------------------------------------------------------------------- */

typedef struct body {
    const char *name;
    const ing_limits *lim;
    ing_text *out;
    int rc;
    rag_err *err;
} body;

static int is_attachment(GMimeObject *o)
{
    if (GMIME_IS_MESSAGE_PART(o)) return 1;
    if (!GMIME_IS_PART(o)) return 0;
    GMimePart *p = GMIME_PART(o);
    return g_mime_part_is_attachment(p) || g_mime_part_get_filename(p) != NULL;
}

static int is_type(GMimeObject *o, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

static int is_quote(const char *s, size_t n)
{
    return n > 0 && s[0] == '>';
}

/* Plain text to blocks: a blank line ends a block, so does a change between
 * quoted and unquoted lines; after a "-- " line the signature is one block. */
static void add_plain(ing_text *out, const char *s, size_t n)
{
    size_t blk = 0, i = 0;
    int blk_quote = -1; /* quoting of the block being built, -1: empty */
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t l = e - i;
        if (l && s[i + l - 1] == '\r') l--;
        int blank = 1;
        for (size_t k = i; k < i + l; k++)
            if (s[k] != ' ' && s[k] != '\t') blank = 0;
        if ((l == 3 && !memcmp(s + i, "-- ", 3)) || (l == 2 && !memcmp(s + i, "--", 2))) {
            if (blk_quote >= 0) ing_text_add(out, ING_PARA, 0, s + blk, i - blk);
            ing_text_add(out, ING_PARA, 0, s + i, n - i); /* the signature */
            return;
        }
        int q = is_quote(s + i, l);
        if (blank || (blk_quote >= 0 && q != blk_quote)) {
            if (blk_quote >= 0) ing_text_add(out, ING_PARA, 0, s + blk, i - blk);
            blk_quote = -1;
        }
        if (!blank && blk_quote < 0) {
            blk = i;
            blk_quote = q;
        }
        i = e < n ? e + 1 : e;
    }
    if (blk_quote >= 0) ing_text_add(out, ING_PARA, 0, s + blk, n - blk);
}

static void add_html(body *b, GMimePart *part)
{
    rag_buf raw = {0}, conv = {0};
    part_bytes(part, &raw);
    const uint8_t *d = (const uint8_t *)raw.data;
    size_t n = raw.len;
    const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    char head[4097];
    size_t h = n < 4096 ? n : 4096;
    for (size_t i = 0; i < h; i++)
        head[i] = d[i] ? (char)d[i] : ' ';
    head[h] = 0;
    if (!is_utf8_name(cs) && !strcasestr(head, "charset") &&
        charset_to_utf8(cs, d, n, &conv) == 0) {
        d = (const uint8_t *)conv.data;
        n = conv.len;
    }
    ing_text t = {0};
    rag_err e = {0};
    if (n && ing_extract_html(b->name, d, n, b->lim, &t, &e) == 0) {
        for (size_t i = 0; i < t.n_blocks; i++)
            ing_text_add(b->out, t.blocks[i].kind, t.blocks[i].level,
                         t.text.data + t.blocks[i].start, t.blocks[i].len);
        b->out->n_repaired += t.n_repaired;
    } else if (e.code == RAG_ERR_LIMIT && !b->rc) {
        b->rc = rag_err_set(b->err, e.code, "%s", e.msg);
    }
    ing_text_free(&t);
    rag_buf_free(&raw);
    rag_buf_free(&conv);
}

static void add_part(body *b, GMimePart *part)
{
    GMimeObject *o = GMIME_OBJECT(part);
    if (is_type(o, "text", "html")) {
        add_html(b, part);
    } else if (is_type(o, "text", "*")) {
        rag_buf t = {0};
        part_text(b->name, part, b->lim, &t);
        add_plain(b->out, t.data ? t.data : "", t.len);
        rag_buf_free(&t);
    }
}

/* The alternative to read in a multipart/alternative: the text/plain one
 * (directly or as the first part of a nested multipart), else text/html,
 * else the last. */
static GMimeObject *pick_alternative(GMimeMultipart *mp)
{
    int n = g_mime_multipart_get_count(mp);
    GMimeObject *html = NULL, *last = NULL;
    for (int i = 0; i < n; i++) {
        GMimeObject *c = g_mime_multipart_get_part(mp, i);
        if (is_attachment(c)) continue;
        GMimeObject *leaf = c;
        while (GMIME_IS_MULTIPART(leaf) && g_mime_multipart_get_count(GMIME_MULTIPART(leaf)) > 0)
            leaf = g_mime_multipart_get_part(GMIME_MULTIPART(leaf), 0);
        if (is_type(leaf, "text", "plain")) return c;
        if (is_type(leaf, "text", "html") && !html) html = c;
        last = c;
    }
    return html ? html : last;
}

static void walk_body(body *b, GMimeObject *o, int depth)
{
    if (!o || depth > MAX_DEPTH || b->rc || is_attachment(o)) return;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        if (is_type(o, "multipart", "alternative")) {
            walk_body(b, pick_alternative(mp), depth + 1);
            return;
        }
        int n = g_mime_multipart_get_count(mp);
        if (is_type(o, "multipart", "related") && n > 1) n = 1; /* the root part */
        for (int i = 0; i < n; i++)
            walk_body(b, g_mime_multipart_get_part(mp, i), depth + 1);
    } else if (GMIME_IS_PART(o)) {
        add_part(b, GMIME_PART(o));
    }
}

/* ---- headers -------------------------------------------------------------- */

static void add_addresses(cJSON *arr, InternetAddressList *l, rag_buf *line, int depth)
{
    if (!l || depth > 4) return;
    int n = internet_address_list_length(l);
    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_GROUP(a)) {
            add_addresses(arr, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), line,
                          depth + 1);
            continue;
        }
        if (!INTERNET_ADDRESS_IS_MAILBOX(a)) continue;
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
        const char *nm = internet_address_get_name(a);
        rag_buf one = {0}, ok = {0};
        if (nm && *nm && addr && *addr)
            rag_buf_printf(&one, "%s <%s>", nm, addr);
        else if (addr && *addr)
            rag_buf_puts(&one, addr);
        else if (nm && *nm)
            rag_buf_puts(&one, nm);
        if (one.len) {
            rag_utf8_repair((const uint8_t *)one.data, one.len, &ok, NULL);
            cJSON_AddItemToArray(arr, cJSON_CreateString(rag_buf_str(&ok)));
            if (line->len) rag_buf_puts(line, ", ");
            rag_buf_append(line, ok.data, ok.len);
        }
        rag_buf_free(&one);
        rag_buf_free(&ok);
    }
}

/* Adds meta `key` (an array) and the header line "Label: a, b" to hdr. */
static void meta_addresses(ing_text *out, const char *key, const char *label,
                           InternetAddressList *l, rag_buf *hdr)
{
    cJSON *arr = cJSON_CreateArray();
    rag_buf line = {0};
    add_addresses(arr, l, &line, 0);
    if (cJSON_GetArraySize(arr) > 0) {
        char *j = cJSON_PrintUnformatted(arr);
        ing_meta_json(out, key, j);
        cJSON_free(j);
        rag_buf_printf(hdr, "%s: %s\n", label, rag_buf_str(&line));
    }
    cJSON_Delete(arr);
    rag_buf_free(&line);
}

/* The first message id of header `h`, malloc'd, or NULL. */
static char *first_id(GMimeMessage *m, const char *h)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(m), h);
    if (!v) return NULL;
    GMimeReferences *r = g_mime_references_parse(NULL, v);
    if (!r) return NULL;
    char *id = NULL;
    if (g_mime_references_length(r) > 0) {
        const char *s = g_mime_references_get_message_id(r, 0);
        if (s && *s) id = rag_xstrdup(s);
    }
    g_mime_references_free(r);
    return id;
}

static void add_headers(GMimeMessage *m, ing_text *out)
{
    rag_buf hdr = {0};
    meta_addresses(out, "from", "From", g_mime_message_get_from(m), &hdr);
    meta_addresses(out, "to", "To", g_mime_message_get_to(m), &hdr);
    meta_addresses(out, "cc", "Cc", g_mime_message_get_cc(m), &hdr);
    GDateTime *dt = g_mime_message_get_date(m);
    if (dt) {
        GDateTime *utc = g_date_time_to_utc(dt);
        gchar *iso = utc ? g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ") : NULL;
        if (iso) {
            ing_meta_str(out, "date", iso);
            rag_buf_printf(&hdr, "Date: %s\n", iso);
        }
        g_free(iso);
        if (utc) g_date_time_unref(utc);
    }
    const char *subj = g_mime_message_get_subject(m);
    if (subj && *subj) {
        rag_buf_printf(&hdr, "Subject: %s\n", subj);
        ing_text_set_title(out, subj, strlen(subj));
    }
    const char *mid = g_mime_message_get_message_id(m);
    if (mid && !*mid) mid = NULL;
    if (mid) ing_meta_str(out, "message_id", mid);
    char *irt = first_id(m, "In-Reply-To");
    char *root = first_id(m, "References");
    if (irt) ing_meta_str(out, "in_reply_to", irt);
    const char *thread = root ? root : irt ? irt : mid;
    if (thread) ing_meta_str(out, "thread", thread);
    rag_free(irt);
    rag_free(root);
    if (hdr.len) ing_text_add(out, ING_PARA, 0, hdr.data, hdr.len);
    out->title_in_text = out->title != NULL && hdr.len > 0;
    rag_buf_free(&hdr);
}

static int extract_email_glib(const char *path, const uint8_t *data, size_t n,
                              const ing_limits *lim, ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    ing_limits defaults;
    if (!lim) {
        ing_limits_default(&defaults);
        lim = &defaults;
    }
    out->mime = "message/rfc822";
    GMimeMessage *m;
    int rc = parse_message(name, data, n, &m, err);
    if (rc) return rc;
    add_headers(m, out);
    body b = {.name = name, .lim = lim, .out = out, .err = err};
    walk_body(&b, g_mime_message_get_mime_part(m), 0);
    g_object_unref(m);
    if (b.rc) return b.rc;
    if (out->text.len > lim->max_text)
        return rag_err_set(err, RAG_ERR_LIMIT,
                           "%s: the extracted text is larger than the limit of %zu bytes", name,
                           lim->max_text);
    return 0;
}

int ing_extract_email(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_text *out, rag_err *err)
{
    ing_fork_lock();
    int rc = extract_email_glib(path, data, n, lim, out, err);
    ing_fork_unlock();
    return rc;
}

/* ---- attachments ---------------------------------------------------------- */

/* A file name safe as one path component: valid UTF-8, no '/', '\\' or
 * control characters, not "." or "..", at most NAME_MAX_BYTES. */
static void safe_name(const char *s, const char *fallback, rag_buf *out)
{
    size_t start = out->len;
    if (s) {
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
            int32_t cp;
            size_t l = rag_utf8_decode((const uint8_t *)s + i, n - i, &cp);
            if (!l) {
                cp = '_';
                l = 1;
            }
            if (out->len - start + 4 > NAME_MAX_BYTES) break;
            if (cp == '/' || cp == '\\' || rag_cp_is_control(cp) || cp == '\n' || cp == '\t')
                rag_buf_putc(out, '_');
            else if (cp < 0x80)
                rag_buf_putc(out, (char)cp);
            else
                rag_buf_append(out, s + i, l);
            i += l;
        }
    }
    size_t len = out->len - start;
    const char *p = out->data ? out->data + start : "";
    int dots = len > 0 && strspn(p, ".") == len;
    int spaces = strspn(p, " ") == len;
    if (!len || spaces || (dots && len <= 2)) {
        out->len = start;
        rag_buf_puts(out, fallback);
    }
}

typedef struct members {
    const char *name;
    ing_member_fn fn;
    void *ctx;
    rag_err *err;
    char *parent_meta; /* "parent_message_id":"..." or NULL */
    int index;
    int rc;
} members;

static void emit_attachment(members *w, GMimeObject *o)
{
    rag_buf name = {0}, bytes = {0};
    ing_type type = ING_TYPE_UNKNOWN;
    const char *fname = NULL;
    if (GMIME_IS_MESSAGE_PART(o)) {
        type = ING_TYPE_EMAIL;
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        GMimeContentDisposition *cd = g_mime_object_get_content_disposition(o);
        fname = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
        if (!fname) fname = g_mime_object_get_content_type_parameter(o, "name");
        if (inner) {
            GMimeStream *mem = g_mime_stream_mem_new();
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
            GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
            if (ba && ba->len) rag_buf_append(&bytes, ba->data, ba->len);
            g_object_unref(mem);
        }
    } else {
        fname = g_mime_part_get_filename(GMIME_PART(o));
        part_bytes(GMIME_PART(o), &bytes);
    }
    w->index++;
    rag_buf_printf(&name, "attachments/%d/", w->index);
    safe_name(fname, type == ING_TYPE_EMAIL ? "message.eml" : "attachment", &name);
    ing_member mb = {.name = rag_buf_str(&name),
                     .data = bytes.data ? (const uint8_t *)bytes.data : (const uint8_t *)"",
                     .n = bytes.len,
                     .type = type,
                     .meta = w->parent_meta};
    w->rc = w->fn(w->ctx, &mb, w->err);
    rag_buf_free(&name);
    rag_buf_free(&bytes);
}

static void walk_attachments(members *w, GMimeObject *o, int depth)
{
    if (!o || depth > MAX_DEPTH || w->rc) return;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n && !w->rc; i++)
            walk_attachments(w, g_mime_multipart_get_part(mp, i), depth + 1);
        return;
    }
    if (!is_attachment(o)) return;
    if (is_type(o, "application", "pgp-signature") ||
        is_type(o, "application", "pkcs7-signature") ||
        is_type(o, "application", "x-pkcs7-signature"))
        return;
    emit_attachment(w, o);
}

/* `"key":"val"` with val repaired and escaped, malloc'd. */
static char *meta_member(const char *key, const char *val)
{
    ing_text t = {0};
    ing_meta_str(&t, key, val);
    char *s = rag_buf_steal(&t.meta);
    ing_text_free(&t);
    return s;
}

static int email_members_glib(const char *path, const uint8_t *data, size_t n,
                              const ing_limits *lim, ing_member_fn fn, void *ctx, rag_err *err)
{
    (void)lim;
    const char *name = path ? path : "(input)";
    GMimeMessage *m;
    int rc = parse_message(name, data, n, &m, err);
    if (rc) return rc;
    members w = {.name = name, .fn = fn, .ctx = ctx, .err = err};
    const char *mid = g_mime_message_get_message_id(m);
    if (mid && *mid) w.parent_meta = meta_member("parent_message_id", mid);
    walk_attachments(&w, g_mime_message_get_mime_part(m), 0);
    g_object_unref(m);
    rag_free(w.parent_meta);
    return w.rc;
}

int ing_email_members(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_member_fn fn, void *ctx, rag_err *err)
{
    ing_fork_lock();
    int rc = email_members_glib(path, data, n, lim, fn, ctx, err);
    ing_fork_unlock();
    return rc;
}

/* ---- mbox ----------------------------------------------------------------- */

/* data[0..n) with mboxrd escaping undone: one '>' dropped from lines that
 * read ">From ", ">>From ", ... */
static void unescape_mboxrd(const uint8_t *d, size_t n, rag_buf *out)
{
    size_t i = 0;
    while (i < n) {
        size_t k = i;
        while (k < n && d[k] == '>')
            k++;
        if (k > i && k + 5 <= n && !memcmp(d + k, "From ", 5)) i++;
        const uint8_t *nl = memchr(d + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - d) + 1 : n;
        rag_buf_append(out, d + i, e - i);
        i = e;
    }
}

typedef struct pending {
    int have;
    gint64 begin; /* offset of the headers */
    char *msgid;
} pending;

static int emit_message(const uint8_t *data, size_t n, pending *p, gint64 end, int index,
                        ing_member_fn fn, void *ctx, rag_err *err)
{
    if (p->begin < 0) p->begin = 0;
    if (end > (gint64)n) end = (gint64)n;
    if (end < p->begin) end = p->begin;
    size_t b = (size_t)p->begin, e = (size_t)end;
    /* the blank line that separates it from the next "From " line */
    if (e > b && data[e - 1] == '\n') e--;
    if (e > b && data[e - 1] == '\r') e--;
    rag_buf bytes = {0};
    unescape_mboxrd(data + b, e - b, &bytes);
    char nm[32];
    snprintf(nm, sizeof nm, "%d", index);
    char *meta = p->msgid ? meta_member("message_id", p->msgid) : NULL;
    ing_member mb = {.name = nm,
                     .data = bytes.data ? (const uint8_t *)bytes.data : (const uint8_t *)"",
                     .n = bytes.len,
                     .type = ING_TYPE_EMAIL,
                     .meta = meta};
    int rc = fn(ctx, &mb, err);
    rag_free(meta);
    rag_buf_free(&bytes);
    rag_free(p->msgid);
    p->msgid = NULL;
    p->have = 0;
    return rc;
}

static int mbox_members_glib(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                             ing_member_fn fn, void *ctx, rag_err *err)
{
    (void)lim;
    const char *name = path ? path : "(input)";
    if (n < 5 || memcmp(data, "From ", 5) != 0)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: not an mbox: the file does not start with a \"From \" line", name);
    email_init();
    GMimeParser *p = parser_new(data, n, GMIME_FORMAT_MBOX);
    pending prev = {0};
    int index = 0, rc = 0;
    while (!rc && !g_mime_parser_eos(p)) {
        GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
        if (!m) break;
        gint64 marker = g_mime_parser_get_mbox_marker_offset(p);
        gint64 begin = g_mime_parser_get_headers_begin(p);
        if (prev.have) rc = emit_message(data, n, &prev, marker, index, fn, ctx, err);
        const char *mid = g_mime_message_get_message_id(m);
        prev.have = 1;
        prev.begin = begin;
        prev.msgid = mid && *mid ? rag_xstrdup(mid) : NULL;
        index++;
        g_object_unref(m);
    }
    if (!rc && prev.have) rc = emit_message(data, n, &prev, (gint64)n, index, fn, ctx, err);
    rag_free(prev.msgid);
    g_object_unref(p);
    if (!rc && index == 0)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: not an mbox: no message found", name);
    return rc;
}

int ing_mbox_members(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_member_fn fn, void *ctx, rag_err *err)
{
    ing_fork_lock();
    int rc = mbox_members_glib(path, data, n, lim, fn, ctx, err);
    ing_fork_unlock();
    return rc;
}
