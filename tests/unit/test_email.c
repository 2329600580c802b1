/* tests/unit/test_email.c: email messages and mailboxes (ingest/email.c):
 * detection, the body and header block of ing_extract, the metadata, the
 * attachments (ing_email_members) and the messages of an mbox
 * (ing_mbox_members). Fixtures are written here as strings. */
#include "test.h"

#include "base/mem.h"
#include "ingest/ing_int.h"

#include <stdint.h>

/* ---- helpers ------------------------------------------------------------ */

static int extract(const char *path, const char *s, ing_text *t, rag_err *e)
{
    memset(t, 0, sizeof *t);
    rag_err_clear(e);
    ing_type ty = ing_detect(path, (const uint8_t *)s, strlen(s));
    return ing_extract(ty, path, (const uint8_t *)s, strlen(s), NULL, t, e);
}

static const char *text_of(const ing_text *t)
{
    return t->text.data ? t->text.data : "";
}

/* The members collected by ing_*_members. */
#define MAX_MEMBERS 16
typedef struct got {
    int n;
    char *name[MAX_MEMBERS];
    char *data[MAX_MEMBERS]; /* NUL-terminated copies */
    size_t len[MAX_MEMBERS];
    ing_type type[MAX_MEMBERS];
    char *meta[MAX_MEMBERS];
} got;

static int collect(void *ctx, const ing_member *m, rag_err *err)
{
    (void)err;
    got *g = ctx;
    if (g->n >= MAX_MEMBERS) return 0;
    int i = g->n++;
    g->name[i] = rag_xstrdup(m->name);
    g->data[i] = rag_xmalloc(m->n + 1);
    memcpy(g->data[i], m->data, m->n);
    g->data[i][m->n] = 0;
    g->len[i] = m->n;
    g->type[i] = m->type;
    g->meta[i] = m->meta ? rag_xstrdup(m->meta) : NULL;
    return 0;
}

static void got_free(got *g)
{
    for (int i = 0; i < g->n; i++) {
        rag_free(g->name[i]);
        rag_free(g->data[i]);
        rag_free(g->meta[i]);
    }
    memset(g, 0, sizeof *g);
}

/* ---- fixtures --------------------------------------------------------------- */

static const char ALTERNATIVE[] =
    "From: Alice Example <alice@example.com>\r\n"
    "To: Bob <bob@example.org>, carol@example.net\r\n"
    "Cc: \"Dave D.\" <dave@example.com>\r\n"
    "Subject: Quarterly budget review\r\n"
    "Date: Fri, 01 Mar 2024 10:30:00 +0100\r\n"
    "Message-ID: <budget-1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hi Bob,\r\n"
    "\r\n"
    "the plain alternative speaks of zucchini.\r\n"
    "\r\n"
    "-- \r\n"
    "Alice, Finance\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<html><body><p>the html alternative speaks of aubergines.</p></body></html>\r\n"
    "--b1--\r\n";

static void test_detect(void)
{
    const uint8_t *a = (const uint8_t *)ALTERNATIVE;
    CHECK_INT(ing_detect("x.eml", a, strlen(ALTERNATIVE)), ING_TYPE_EMAIL);
    CHECK_INT(ing_detect("noext", a, strlen(ALTERNATIVE)), ING_TYPE_EMAIL);
    CHECK_INT(ing_detect(NULL, a, strlen(ALTERNATIVE)), ING_TYPE_EMAIL);
    static const char mbox[] = "From alice@example.com Fri Mar  1 10:30:00 2024\n"
                               "From: Alice <alice@example.com>\nSubject: x\n\nbody\n";
    CHECK_INT(ing_detect("inbox", (const uint8_t *)mbox, strlen(mbox)), ING_TYPE_MBOX);
    static const char plain[] = "some notes\nabout mail\n";
    CHECK_INT(ing_detect("a.mbox", (const uint8_t *)plain, strlen(plain)), ING_TYPE_MBOX);
    CHECK_INT(ing_detect("a.eml", (const uint8_t *)plain, strlen(plain)), ING_TYPE_EMAIL);
    /* prose that starts like a header is not mail */
    static const char prose1[] = "From: the desk of the editor\nThis week we look at mail.\n";
    CHECK_INT(ing_detect("n.txt", (const uint8_t *)prose1, strlen(prose1)), ING_TYPE_TEXT);
    static const char prose2[] = "From: me\n\nTo whom it may concern: hello.\n";
    CHECK_INT(ing_detect("n.txt", (const uint8_t *)prose2, strlen(prose2)), ING_TYPE_TEXT);
    static const char prose3[] = "From the start the plan was clear.\nWe went on.\n";
    CHECK_INT(ing_detect("n.txt", (const uint8_t *)prose3, strlen(prose3)), ING_TYPE_TEXT);
    static const char yaml[] = "title: Notes\nauthor: me\n\nbody\n";
    CHECK_INT(ing_detect("n.txt", (const uint8_t *)yaml, strlen(yaml)), ING_TYPE_TEXT);
    static const char md[] = "From: a\nTo: b\n\n# Heading\n";
    CHECK_INT(ing_detect("n.md", (const uint8_t *)md, strlen(md)), ING_TYPE_EMAIL);
    CHECK_STR(ing_type_name(ING_TYPE_EMAIL), "email");
    CHECK_STR(ing_type_name(ING_TYPE_MBOX), "mbox");
}

static void test_alternative_prefers_plain(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract("budget.eml", ALTERNATIVE, &t, &e), 0);
    const char *s = text_of(&t);
    CHECK_CONTAINS(s, "zucchini");
    CHECK(!strstr(s, "aubergines"));
    CHECK_STR(t.title, "Quarterly budget review");
    CHECK_INT(t.title_in_text, 1);
    CHECK_STR(t.mime, "message/rfc822");
    /* the header block first */
    CHECK(!strncmp(s,
                   "From: Alice Example <alice@example.com>\nTo: Bob <bob@example.org>, "
                   "carol@example.net\nCc: Dave D. <dave@example.com>\n"
                   "Date: 2024-03-01T09:30:00Z\nSubject: Quarterly budget review\n\n",
                   108));
    CHECK_CONTAINS(s, "Date: 2024-03-01T09:30:00Z\nSubject: Quarterly budget review\n\nHi Bob,");
    /* the signature is a block of its own */
    CHECK_CONTAINS(s, "zucchini.\n\n--\nAlice, Finance");
    const char *m = rag_buf_str(&t.meta);
    CHECK_CONTAINS(m, "\"from\":[\"Alice Example <alice@example.com>\"]");
    CHECK_CONTAINS(m, "\"to\":[\"Bob <bob@example.org>\",\"carol@example.net\"]");
    CHECK_CONTAINS(m, "\"cc\":[\"Dave D. <dave@example.com>\"]");
    CHECK_CONTAINS(m, "\"date\":\"2024-03-01T09:30:00Z\"");
    CHECK_CONTAINS(m, "\"message_id\":\"budget-1@example.com\"");
    CHECK_CONTAINS(m, "\"thread\":\"budget-1@example.com\"");
    CHECK(!strstr(m, "in_reply_to"));
    ing_text_free(&t);
}

static void test_html_only(void)
{
    static const char msg[] = "From: news@example.com\n"
                              "To: you@example.com\n"
                              "Subject: Newsletter\n"
                              "Content-Type: text/html; charset=utf-8\n"
                              "\n"
                              "<html><head><title>ignored</title><style>p{}</style></head>"
                              "<body><h1>Spring issue</h1><p>Tulips &amp; daffodils.</p>"
                              "<script>var x;</script></body></html>\n";
    ing_text t;
    rag_err e;
    CHECK_INT(extract("news.eml", msg, &t, &e), 0);
    const char *s = text_of(&t);
    CHECK_CONTAINS(s, "Spring issue\n\nTulips & daffodils.");
    CHECK(!strstr(s, "var x"));
    CHECK(!strstr(s, "<p>"));
    CHECK_STR(t.title, "Newsletter");
    int heading = 0;
    for (size_t i = 0; i < t.n_blocks; i++)
        if (t.blocks[i].kind == ING_HEADING) heading = 1;
    CHECK(heading);
    ing_text_free(&t);
}

static void test_transfer_encodings_and_charsets(void)
{
    /* quoted-printable, ISO-8859-1 */
    static const char qp[] = "From: =?ISO-8859-1?Q?Ren=E9?= <rene@example.fr>\n"
                             "To: a@example.com\n"
                             "Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\n"
                             "Content-Type: text/plain; charset=ISO-8859-1\n"
                             "Content-Transfer-Encoding: quoted-printable\n"
                             "\n"
                             "Un caf=E9 cr=E8me, s'il vous pla=EEt, avec une tr=E8s long=\n"
                             "ue ligne coup=E9e.\n";
    ing_text t;
    rag_err e;
    CHECK_INT(extract("qp.eml", qp, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t),
                   "Un café crème, s'il vous plaît, avec une très longue ligne coupée.");
    CHECK_STR(t.title, "Café crème");
    CHECK_CONTAINS(rag_buf_str(&t.meta), "\"from\":[\"René <rene@example.fr>\"]");
    CHECK_INT(t.n_repaired, 0);
    ing_text_free(&t);

    /* base64, UTF-8 */
    static const char b64[] = "From: a@example.com\n"
                              "Subject: b64\n"
                              "Content-Type: text/plain; charset=utf-8\n"
                              "Content-Transfer-Encoding: base64\n"
                              "\n"
                              "R3LDvMOfZSBhdXMgS8O2bG4sIGRpZSBCYXNlNjQtTmFjaHJpY2h0Lgo=\n";
    CHECK_INT(extract("b64.eml", b64, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "Grüße aus Köln, die Base64-Nachricht.");
    ing_text_free(&t);

    /* 8bit ISO-8859-1 without encoding, raw bytes */
    static const char latin[] = "From: a@example.com\n"
                                "Subject: latin\n"
                                "Content-Type: text/plain; charset=iso-8859-1\n"
                                "Content-Transfer-Encoding: 8bit\n"
                                "\n"
                                "na\xefve fa\xe7"
                                "ade\n";
    CHECK_INT(extract("l.eml", latin, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "naïve façade");
    CHECK_INT(t.n_repaired, 0);
    ing_text_free(&t);

    /* no charset: Windows-1252 fallback, not U+FFFD */
    static const char nocs[] = "From: a@example.com\nSubject: x\n\nd\xe9j\xe0 vu\n";
    CHECK_INT(extract("n.eml", nocs, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "déjà vu");
    ing_text_free(&t);

    /* HTML in ISO-8859-1 without a meta charset, base64 */
    static const char html[] = "From: a@example.com\nSubject: h\n"
                               "Content-Type: text/html; charset=iso-8859-1\n"
                               "Content-Transfer-Encoding: base64\n\n"
                               "PHA+R3L832UgYXVzIEv2bG48L3A+Cg==\n";
    CHECK_INT(extract("h.eml", html, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "Grüße aus Köln");
    ing_text_free(&t);
}

static void test_reply_quotes_and_thread(void)
{
    static const char msg[] = "From: Bob <bob@example.org>\n"
                              "To: Alice Example <alice@example.com>\n"
                              "Subject: Re: Quarterly budget review\n"
                              "Date: Sat, 02 Mar 2024 08:00:00 -0500\n"
                              "Message-ID: <budget-3@example.org>\n"
                              "In-Reply-To: <budget-2@example.com>\n"
                              "References: <budget-1@example.com> <budget-2@example.com>\n"
                              "\n"
                              "Agreed, let's cut the catering.\n"
                              "\n"
                              "On Fri, Alice wrote:\n"
                              "> the plain alternative speaks of zucchini.\n"
                              "> and more\n"
                              "Thanks.\n";
    ing_text t;
    rag_err e;
    CHECK_INT(extract("re.eml", msg, &t, &e), 0);
    const char *s = text_of(&t);
    CHECK_CONTAINS(s, "On Fri, Alice wrote:\n\n> the plain alternative speaks of zucchini.\n> "
                      "and more\n\nThanks.");
    const char *m = rag_buf_str(&t.meta);
    CHECK_CONTAINS(m, "\"date\":\"2024-03-02T13:00:00Z\"");
    CHECK_CONTAINS(m, "\"in_reply_to\":\"budget-2@example.com\"");
    CHECK_CONTAINS(m, "\"thread\":\"budget-1@example.com\"");
    ing_text_free(&t);
}

static const char WITH_ATTACHMENTS[] =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Minutes and the forwarded note\n"
    "Message-ID: <minutes-7@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "The minutes are attached.\n"
    "--outer\n"
    "Content-Type: text/plain; name=\"minutes.txt\"\n"
    "Content-Disposition: attachment; filename=\"../../etc/min\x01utes.txt\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "TWludXRlczogdGhlIGJvYXJkIGFwcHJvdmVkIHRoZSBwaXN0YWNoaW8gYnVkZ2V0Lgo=\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: attachment\n"
    "\n"
    "From: Carol <carol@example.net>\n"
    "To: alice@example.com\n"
    "Subject: The forwarded note\n"
    "Message-ID: <note-1@example.net>\n"
    "\n"
    "Inner body about walnuts.\n"
    "--outer\n"
    "Content-Type: application/pgp-signature; name=\"signature.asc\"\n"
    "\n"
    "-----BEGIN PGP SIGNATURE-----\n"
    "--outer--\n";

static void test_attachments(void)
{
    ing_text t;
    rag_err e;
    CHECK_INT(extract("m.eml", WITH_ATTACHMENTS, &t, &e), 0);
    const char *s = text_of(&t);
    CHECK_CONTAINS(s, "The minutes are attached.");
    CHECK(!strstr(s, "pistachio")); /* attachments are members, not body */
    CHECK(!strstr(s, "walnuts"));
    ing_text_free(&t);

    got g = {0};
    rag_err_clear(&e);
    CHECK_INT(ing_email_members("m.eml", (const uint8_t *)WITH_ATTACHMENTS,
                                strlen(WITH_ATTACHMENTS), NULL, collect, &g, &e),
              0);
    CHECK_INT(g.n, 2);
    if (g.n == 2) {
        CHECK_STR(g.name[0], "attachments/1/.._.._etc_min_utes.txt");
        CHECK_STR(g.data[0], "Minutes: the board approved the pistachio budget.\n");
        CHECK_INT(g.type[0], ING_TYPE_UNKNOWN);
        CHECK_STR(g.meta[0], "\"parent_message_id\":\"minutes-7@example.com\"");
        CHECK_STR(g.name[1], "attachments/2/message.eml");
        CHECK_INT(g.type[1], ING_TYPE_EMAIL);
        /* the nested message extracts on its own */
        CHECK_INT(ing_extract(ING_TYPE_EMAIL, "inner", (const uint8_t *)g.data[1], g.len[1], NULL,
                              &t, &e),
                  0);
        CHECK_CONTAINS(text_of(&t), "Inner body about walnuts.");
        CHECK_STR(t.title, "The forwarded note");
        CHECK_CONTAINS(rag_buf_str(&t.meta), "\"message_id\":\"note-1@example.net\"");
        ing_text_free(&t);
    }
    got_free(&g);

    /* a message without attachments has no members */
    CHECK_INT(ing_email_members("a.eml", (const uint8_t *)ALTERNATIVE, strlen(ALTERNATIVE), NULL,
                                collect, &g, &e),
              0);
    CHECK_INT(g.n, 0);
    got_free(&g);
}

static int stop_at_first(void *ctx, const ing_member *m, rag_err *err)
{
    (void)m;
    (*(int *)ctx)++;
    return rag_err_set(err, RAG_ERR_LIMIT, "stop");
}

static const char MBOX[] = "From alice@example.com Fri Mar  1 10:30:00 2024\n"
                           "From: Alice <alice@example.com>\n"
                           "To: team@example.com\n"
                           "Subject: Offsite venue\n"
                           "Date: Fri, 01 Mar 2024 10:30:00 +0000\n"
                           "Message-ID: <venue-1@example.com>\n"
                           "\n"
                           "Shall we go to the lighthouse?\n"
                           ">From the top it is a fine view.\n"
                           "\n"
                           "From bob@example.org Fri Mar  1 11:00:00 2024\n"
                           "From: Bob <bob@example.org>\n"
                           "To: team@example.com\n"
                           "Subject: Re: Offsite venue\n"
                           "Date: Fri, 01 Mar 2024 11:00:00 +0000\n"
                           "Message-ID: <venue-2@example.org>\n"
                           "In-Reply-To: <venue-1@example.com>\n"
                           "References: <venue-1@example.com>\n"
                           "\n"
                           "The lighthouse is booked in March.\n"
                           "\n"
                           "From carol@example.net Fri Mar  1 12:00:00 2024\n"
                           "From: Carol <carol@example.net>\n"
                           "To: team@example.com\n"
                           "Subject: Re: Re: Offsite venue\n"
                           "Date: Fri, 01 Mar 2024 12:00:00 +0000\n"
                           "Message-ID: <venue-3@example.net>\n"
                           "In-Reply-To: <venue-2@example.org>\n"
                           "References: <venue-1@example.com> <venue-2@example.org>\n"
                           "\n"
                           "Then April for the picnic.\n";

static void test_mbox_thread(void)
{
    got g = {0};
    rag_err e = {0};
    CHECK_INT(
        ing_mbox_members("inbox.mbox", (const uint8_t *)MBOX, strlen(MBOX), NULL, collect, &g, &e),
        0);
    CHECK_INT(g.n, 3);
    static const char *const ids[] = {"venue-1@example.com", "venue-2@example.org",
                                      "venue-3@example.net"};
    static const char *const words[] = {"lighthouse?", "booked in March", "April"};
    for (int i = 0; i < g.n && i < 3; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i + 1);
        CHECK_STR(g.name[i], want);
        CHECK_INT(g.type[i], ING_TYPE_EMAIL);
        CHECK(strncmp(g.data[i], "From ", 5) != 0); /* the separator line is not the message's */
        char meta[128];
        snprintf(meta, sizeof meta, "\"message_id\":\"%s\"", ids[i]);
        CHECK_STR(g.meta[i], meta);
        ing_text t = {0};
        rag_err_clear(&e);
        CHECK_INT(ing_extract(ing_detect(g.name[i], (const uint8_t *)g.data[i], g.len[i]),
                              g.name[i], (const uint8_t *)g.data[i], g.len[i], NULL, &t, &e),
                  0);
        CHECK_CONTAINS(text_of(&t), words[i]);
        CHECK(!strstr(text_of(&t), "From bob")); /* no bleeding into the next message */
        CHECK_CONTAINS(rag_buf_str(&t.meta), "\"thread\":\"venue-1@example.com\"");
        if (i == 0) CHECK_CONTAINS(text_of(&t), "\nFrom the top it is a fine view."); /* mboxrd */
        ing_text_free(&t);
    }
    got_free(&g);

    /* the callback's error stops the walk and is returned */
    int calls = 0;
    rag_err_clear(&e);
    CHECK_INT(ing_mbox_members("inbox.mbox", (const uint8_t *)MBOX, strlen(MBOX), NULL,
                               stop_at_first, &calls, &e),
              RAG_ERR_LIMIT);
    CHECK_INT(calls, 1);

    /* not an mbox */
    rag_err_clear(&e);
    CHECK_INT(ing_mbox_members("x.mbox", (const uint8_t *)"hello\n", 6, NULL, collect, &g, &e),
              RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "x.mbox");
    got_free(&g);
}

static void test_malformed(void)
{
    ing_text t;
    rag_err e;
    /* not mail at all, named .eml */
    CHECK(extract("broken.eml", "just some words\nand more words\n", &t, &e) != 0);
    CHECK_INT(e.code, RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "broken.eml");
    ing_text_free(&t);

    /* truncated multipart, bad base64, unknown charset: what is there is read */
    static const char trunc[] = "From: a@example.com\nSubject: cut\n"
                                "Content-Type: multipart/mixed; boundary=zz\n\n"
                                "--zz\nContent-Type: text/plain; charset=x-no-such-charset\n"
                                "Content-Transfer-Encoding: base64\n\n"
                                "SGVsbG8gd29ybGQ!!!$$$\n--zz\nContent-Type: text/plain\n\n"
                                "second part cut off";
    CHECK_INT(extract("cut.eml", trunc, &t, &e), 0);
    CHECK_CONTAINS(text_of(&t), "Hello wor"); /* the whole quanta of broken base64 */
    CHECK_CONTAINS(text_of(&t), "second part cut off");
    ing_text_free(&t);

    /* deep nesting and NUL bytes */
    rag_buf deep = {0};
    rag_buf_puts(&deep, "From: a@example.com\nSubject: deep\n");
    for (int i = 0; i < 200; i++)
        rag_buf_printf(&deep, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    rag_buf_puts(&deep, "Content-Type: text/plain\n\nbottom\n");
    rag_buf_append(&deep, "\0\0\0", 3);
    memset(&t, 0, sizeof t);
    rag_err_clear(&e);
    int rc =
        ing_extract(ING_TYPE_EMAIL, "deep.eml", (const uint8_t *)deep.data, deep.len, NULL, &t, &e);
    CHECK(rc == 0 || rc == RAG_ERR_FORMAT);
    ing_text_free(&t);
    got g = {0};
    ing_email_members("deep.eml", (const uint8_t *)deep.data, deep.len, NULL, collect, &g, &e);
    got_free(&g);
    rag_buf_free(&deep);

    /* members of a non-message */
    rag_err_clear(&e);
    CHECK_INT(
        ing_email_members("junk.eml", (const uint8_t *)"\x01\x02 junk", 7, NULL, collect, &g, &e),
        RAG_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, "junk.eml");
    got_free(&g);
}

int main(void)
{
    RUN(test_detect);
    RUN(test_alternative_prefers_plain);
    RUN(test_html_only);
    RUN(test_transfer_encodings_and_charsets);
    RUN(test_reply_quotes_and_thread);
    RUN(test_attachments);
    RUN(test_mbox_thread);
    RUN(test_malformed);
    return test_summary();
}
