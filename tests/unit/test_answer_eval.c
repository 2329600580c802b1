/* Answer evaluation (rag/answer_eval.h) against hand-computed values: SQuAD
 * normalisation, token F1 and exact match; gold-document recall and
 * citation precision; the stemmer and the content words; the lexical
 * faithfulness check (markers, the 60 % threshold, skipped sentences);
 * one question's scores and the totals with abstention precision and
 * recall; the judge's prompt and reply parsing, and the judge asked through
 * a canned OpenAI-compatible server on loopback; the questions file and its
 * errors (file, line, field); tests/answers/handcheck.jsonl. */
#include "base/file.h"
#include "base/mem.h"
#include "rag/answer_eval.h"
#include "test.h"

#include <arpa/inet.h>
#include <glob.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void check_norm(const char *text, int strip, const char *want)
{
    rag_buf b = {0};
    rag_answer_normalize(text, strlen(text), strip, &b);
    CHECK_STR(rag_buf_str(&b), want);
    rag_buf_free(&b);
}

static void test_normalize(void)
{
    check_norm("The Quick, brown fox [1].", 1, "quick brown fox");
    check_norm("[2][3] An answer [1, 2]", 1, "answer");
    check_norm("An answer [1]", 0, "answer 1"); /* not stripped: "[1]" -> "1" */
    /* folded, diacritics gone, "'" deleted inside the word, the dash alone vanishes */
    check_norm("M\xC3\xBCller's caf\xC3\xA9 \xE2\x80\x94 14 days", 1, "mullers cafe 14 days");
    check_norm("KP-20417, a.k.a. \"the pad\"", 1, "kp20417 aka pad");
    check_norm("\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAF", 1, "\xE6\x9D\xB1 \xE4\xBA\xAC \xE3\x81\xAF");
    check_norm("  The  a an ", 1, "");
    check_norm("bad \xFF byte", 1, "bad byte"); /* repaired to U+FFFD, then deleted */
    rag_buf b = {0};
    const char *t = "Refunds take 14 days [1]. Parts [2][3], [x] stay.";
    rag_answer_strip_markers(t, strlen(t), &b);
    CHECK_STR(rag_buf_str(&b), "Refunds take 14 days. Parts, [x] stay.");
    rag_buf_free(&b);
}

static void test_f1_exact(void)
{
    /* pred: workshop supervisor (2 tokens); gold: workshop supervisor places order (4):
     * same 2, P = 2/2, R = 2/4, F1 = 2 * 1 * 0.5 / 1.5 = 2/3 */
    CHECK(NEAR(
        rag_answer_f1("The workshop supervisor [1].", "the workshop supervisor places the order"),
        2.0 / 3.0));
    /* a bag: pred days x3, gold {14, days}: common min(3, 1) = 1, P = 1/3, R = 1/2,
     * F1 = 2 * (1/6) / (5/6) = 0.4 */
    CHECK(NEAR(rag_answer_f1("days days days", "14 days"), 0.4));
    CHECK(NEAR(rag_answer_f1("nothing in common", "23 days"), 0));
    CHECK(NEAR(rag_answer_f1("", "23 days"), 0)); /* one empty: 0 */
    CHECK(NEAR(rag_answer_f1("The.", "a"), 1));   /* both empty after normalisation: 1 */
    CHECK(NEAR(rag_answer_f1("23 days [1]", "23 Days."), 1));
    CHECK(NEAR(rag_answer_exact_match("The Workshop Supervisor [1].", "workshop supervisor"), 1));
    CHECK(NEAR(rag_answer_exact_match("workshop supervisors", "workshop supervisor"), 0));
    CHECK(NEAR(rag_answer_exact_match("", "the"), 1));
    CHECK(NEAR(rag_answer_exact_match(NULL, "x"), 0));
}

static void test_documents(void)
{
    rag_strv gold = {0};
    rag_strv_push(&gold, "a");
    rag_strv_push(&gold, "b");
    rag_strv_push(&gold, "c");
    /* given a, x, a, c: a and c of a, b, c = 2/3 (a counted once) */
    const char *given[] = {"a", "x", "a", "c"};
    size_t found;
    CHECK(NEAR(rag_answer_doc_recall(&gold, given, 4, &found), 2.0 / 3.0));
    CHECK_INT(found, 2);
    CHECK(NEAR(rag_answer_doc_recall(&gold, NULL, 0, &found), 0));
    /* cited passages from a, x, b, a: 3 of 4 from gold documents */
    rag_answer_passage cited[] = {{1, "a", ""}, {2, "x", ""}, {3, "b", ""}, {4, "a", ""}};
    CHECK(NEAR(rag_answer_citation_precision(&gold, cited, 4, &found), 0.75));
    CHECK_INT(found, 3);
    CHECK(isnan(rag_answer_citation_precision(&gold, cited, 0, NULL))); /* nothing cited */
    rag_strv none = {0};
    CHECK(isnan(rag_answer_doc_recall(&none, given, 4, NULL))); /* no gold document */
    CHECK(isnan(rag_answer_citation_precision(&none, cited, 4, NULL)));
    rag_strv_free(&gold);
}

static void check_stem(const char *word, const char *want)
{
    char w[64];
    snprintf(w, sizeof w, "%s", word);
    rag_answer_stem(w);
    CHECK_STR(w, want);
}

static void test_stem_and_words(void)
{
    check_stem("policies", "policy");
    check_stem("policy", "policy");
    check_stem("classes", "class");
    check_stem("boxes", "box");
    check_stem("matches", "match");
    check_stem("takes", "tak");
    check_stem("take", "tak");
    check_stem("approve", "approv");
    check_stem("approved", "approv");
    check_stem("approves", "approv");
    check_stem("approving", "approv");
    check_stem("stopped", "stop");
    check_stem("planning", "plan");
    check_stem("ordering", "order");
    check_stem("quickly", "quick");
    check_stem("status", "status");
    check_stem("analysis", "analysis");
    check_stem("days", "day");
    check_stem("add", "add");
    check_stem("added", "add");
    check_stem("needed", "need");
    check_stem("things", "thing");
    check_stem("called", "call");
    check_stem("23", "23");
    CHECK(rag_answer_stopword("the"));
    CHECK(rag_answer_stopword("must"));
    CHECK(!rag_answer_stopword("not")); /* negations stay content words */
    CHECK(!rag_answer_stopword("driver"));

    /* drivers -> driver, must (stop), never, buy, parts -> part,
     * themselves -> themselve -> themselv; "!" splits nothing more */
    rag_strv w = {0};
    const char *s = "Drivers must never buy parts themselves!";
    rag_answer_content_words(s, strlen(s), &w);
    CHECK_INT(w.n, 5);
    if (w.n == 5) {
        CHECK_STR(w.v[0], "driver");
        CHECK_STR(w.v[1], "never");
        CHECK_STR(w.v[2], "buy");
        CHECK_STR(w.v[3], "part");
        CHECK_STR(w.v[4], "themselv");
    }
    rag_strv_free(&w);
    /* split at the hyphen and the apostrophe; the "s" and "e" left alone are
     * dropped */
    s = "The manager's e-mail address";
    rag_answer_content_words(s, strlen(s), &w);
    CHECK_INT(w.n, 3);
    if (w.n == 3) {
        CHECK_STR(w.v[0], "manager");
        CHECK_STR(w.v[1], "mail");
        CHECK_STR(w.v[2], "address");
    }
    rag_strv_free(&w);
    s = "It is what it is, and that is that.";
    rag_answer_content_words(s, strlen(s), &w);
    CHECK_INT(w.n, 0); /* all stop words */
    rag_strv_free(&w);
}

#define P1 "The workshop supervisor places VOR orders by phone with an approved supplier."
#define P2 "Full-time employees receive 23 days of paid annual leave."

static void test_faithfulness(void)
{
    rag_answer_passage cited[] = {{1, "ordering-spare-parts", P1}, {2, "leave-and-holidays", P2}};
    rag_answer_claim *c;
    size_t n;
    rag_answer_claims("The workshop supervisor places the order by phone [1]. Employees receive "
                      "23 days of annual leave [1]. Drivers never buy parts. Yes [2].",
                      cited, 2, &c, &n);
    CHECK_INT(n, 4);
    if (n == 4) {
        /* workshop, supervisor, plac, order, phon: all 5 in P1 -> supported */
        CHECK_STR(c[0].text, "The workshop supervisor places the order by phone.");
        CHECK_INT(c[0].n_cites, 1);
        CHECK_INT(c[0].cites[0], 1);
        CHECK_INT(c[0].n_words, 5);
        CHECK_INT(c[0].n_found, 5);
        CHECK_INT(c[0].lexical, 1);
        /* employe, receiv, 23, day, annual, leav: checked against [1] only (its
         * marker), where none is: 0/6 -> not supported (P2 would have had them) */
        CHECK_INT(c[1].n_words, 6);
        CHECK_INT(c[1].n_found, 0);
        CHECK_INT(c[1].lexical, 0);
        /* no marker: checked against both; driver, never, buy, part in neither */
        CHECK_INT(c[2].n_cites, 0);
        CHECK_INT(c[2].n_words, 4);
        CHECK_INT(c[2].lexical, 0);
        /* "yes": 1 content word -> skipped */
        CHECK_STR(c[3].text, "Yes.");
        CHECK_INT(c[3].n_words, 1);
        CHECK_INT(c[3].lexical, -1);
        CHECK_INT(c[3].judge, -1);
    }
    rag_answer_claims_free(c, n);

    /* the threshold: 3 of 5 (5 * 3 >= 3 * 5) is supported, 2 of 4 (10 < 12) is
     * not; a marker after the period ("echo. [1]") is the first sentence's;
     * [2, 1] and [2][1] both name 2 then 1; [9] names no cited passage */
    rag_answer_passage greek[] = {{0, "d1", "alpha bravo charlie"}, {0, "d2", "foxtrot golf"}};
    rag_answer_claims("Alpha bravo charlie delta echo. [1] Foxtrot golf hotel india [2].\n"
                      "Foxtrot golf [2, 1]. Alpha bravo.[2][1] Golf hotel [9].",
                      greek, 2, &c, &n);
    CHECK_INT(n, 5);
    if (n == 5) {
        CHECK_INT(c[0].n_cites, 1);
        CHECK_INT(c[0].cites[0], 1);
        CHECK_INT(c[0].n_words, 5);
        CHECK_INT(c[0].n_found, 3);
        CHECK_INT(c[0].lexical, 1);
        CHECK_STR(c[1].text, "Foxtrot golf hotel india.");
        CHECK_INT(c[1].cites[0], 2);
        CHECK_INT(c[1].n_found, 2);
        CHECK_INT(c[1].lexical, 0);
        CHECK_INT(c[2].n_cites, 2);
        CHECK_INT(c[2].cites[0], 2);
        CHECK_INT(c[2].cites[1], 1);
        CHECK_INT(c[2].lexical, 1);
        CHECK_STR(c[3].text, "Alpha bravo.");
        CHECK_INT(c[3].n_cites, 2);
        CHECK_INT(c[3].lexical, 1); /* 2/2 in passage 1 */
        CHECK_INT(c[4].n_cites, 0); /* [9]: as if unmarked: against both, golf found: 1/2 */
        CHECK_INT(c[4].n_found, 1);
        CHECK_INT(c[4].lexical, 0);
    }
    rag_answer_claims_free(c, n);

    /* edge cases: empty, nothing but markers, nothing cited */
    rag_answer_claims("", greek, 2, &c, &n);
    CHECK_INT(n, 0);
    rag_answer_claims(NULL, NULL, 0, &c, &n);
    CHECK_INT(n, 0);
    rag_answer_claims(" [1] [2].", greek, 2, &c, &n);
    CHECK_INT(n, 0);
    rag_answer_claims("Alpha bravo charlie.", NULL, 0, &c, &n);
    CHECK_INT(n, 1);
    if (n == 1) CHECK_INT(c[0].lexical, 0); /* nothing to be supported by */
    rag_answer_claims_free(c, n);
}

/* ---- one question and the totals ---------------------------------------------------- */

static rag_answer_item item(const char *answer, const char *doc)
{
    rag_answer_item it;
    memset(&it, 0, sizeof it);
    it.id = (char *)"q";
    it.question = (char *)"?";
    it.answer = (char *)answer;
    if (doc) rag_strv_push(&it.documents, doc);
    return it;
}

static void test_evaluate_and_totals(void)
{
    rag_answer_passage p1[] = {{1, "ordering-spare-parts", P1}};
    const char *given1[] = {"ordering-spare-parts", "leave-and-holidays"};
    const char *given2[] = {"ordering-spare-parts"};
    rag_answer_totals t;
    rag_answer_totals_init(&t);
    CHECK(isnan(t.f1.mean) && isnan(t.abstention_precision));
    rag_answer_score s;

    /* 1: answerable, answered from the gold document.
     * doc recall 1/1; citation precision 1/1;
     * F1: pred workshop supervisor places order by phone (6), gold workshop
     * supervisor (2): same 2, P = 1/3, R = 1, F1 = 2 * 1/3 / (4/3) = 0.5; EM 0;
     * faithfulness 1/1 (5 of 5 content words in P1) */
    rag_answer_item i1 = item("the workshop supervisor", "ordering-spare-parts");
    rag_answer_output o1 = {.text = "The workshop supervisor places the order by phone [1].",
                            .cited = p1,
                            .n_cited = 1,
                            .given = given1,
                            .n_given = 2,
                            .timings = {.retrieve_ms = 10, .generate_ms = 100}};
    rag_answer_evaluate(&i1, &o1, NULL, &s);
    CHECK(s.answerable && !s.abstained);
    CHECK(NEAR(s.doc_recall, 1));
    CHECK_INT(s.n_gold, 1);
    CHECK_INT(s.n_gold_given, 1);
    CHECK(NEAR(s.citation_precision, 1));
    CHECK(NEAR(s.f1, 0.5));
    CHECK(NEAR(s.exact_match, 0));
    CHECK(NEAR(s.faithfulness, 1));
    CHECK_INT(s.n_counted, 1);
    CHECK(isnan(s.judge_faithfulness));
    rag_answer_totals_add(&t, &s);
    rag_answer_score_free(&s);

    /* 2: answerable, but the system abstained with the wrong document given:
     * doc recall 0/1; nothing cited: citation precision undefined; F1 and EM
     * of an empty answer: 0; faithfulness undefined */
    rag_answer_item i2 = item("23 days", "leave-and-holidays");
    rag_answer_output o2 = {.abstained = 1,
                            .text = "I cannot find it in the documents.",
                            .given = given2,
                            .n_given = 1,
                            .timings = {.retrieve_ms = 20, .generate_ms = 200}};
    rag_answer_evaluate(&i2, &o2, NULL, &s);
    CHECK(NEAR(s.doc_recall, 0));
    CHECK(isnan(s.citation_precision));
    CHECK(NEAR(s.f1, 0) && NEAR(s.exact_match, 0));
    CHECK(isnan(s.faithfulness));
    CHECK_INT(s.n_claims, 0);
    rag_answer_totals_add(&t, &s);
    rag_answer_score_free(&s);

    /* 3: unanswerable, abstained: everything undefined */
    rag_answer_item i3 = item(NULL, NULL);
    rag_answer_output o3 = {.abstained = 1, .text = "Not found.", .timings = {.retrieve_ms = 30}};
    rag_answer_evaluate(&i3, &o3, NULL, &s);
    CHECK(!s.answerable);
    CHECK(isnan(s.doc_recall) && isnan(s.citation_precision) && isnan(s.f1) &&
          isnan(s.exact_match) && isnan(s.faithfulness));
    rag_answer_totals_add(&t, &s);
    rag_answer_score_free(&s);

    /* 4: unanswerable, answered anyway, citing P1 for something it does not
     * say: faithfulness 0/1 (driver, never, buy, part: none in P1); no gold
     * document: recall and citation precision undefined */
    rag_answer_item i4 = item(NULL, NULL);
    rag_answer_output o4 = {.text = "Drivers never buy parts [1].",
                            .cited = p1,
                            .n_cited = 1,
                            .given = given2,
                            .n_given = 1,
                            .timings = {.retrieve_ms = 40}};
    rag_answer_evaluate(&i4, &o4, NULL, &s);
    CHECK(isnan(s.doc_recall) && isnan(s.citation_precision) && isnan(s.f1));
    CHECK(NEAR(s.faithfulness, 0));
    rag_answer_totals_add(&t, &s);
    rag_answer_score_free(&s);

    rag_answer_totals_finish(&t);
    CHECK_INT(t.n_questions, 4);
    CHECK_INT(t.n_answerable, 2);
    CHECK_INT(t.n_unanswerable, 2);
    CHECK_INT(t.n_abstained, 2);
    CHECK_INT(t.n_abstained_unanswerable, 1);
    CHECK_INT(t.n_abstained_answerable, 1);
    CHECK(NEAR(t.abstention_precision, 0.5));  /* 1 of 2 abstentions was right */
    CHECK(NEAR(t.abstention_recall, 0.5));     /* 1 of 2 unanswerable caught */
    CHECK(NEAR(t.wrong_abstention_rate, 0.5)); /* 1 of 2 answerable refused */
    CHECK(NEAR(t.doc_recall.mean, 0.5));       /* (1 + 0) / 2 */
    CHECK_INT(t.doc_recall.n, 2);
    CHECK(NEAR(t.citation_precision.mean, 1)); /* question 1 only */
    CHECK_INT(t.citation_precision.n, 1);
    CHECK(NEAR(t.f1.mean, 0.25)); /* (0.5 + 0) / 2 */
    CHECK(NEAR(t.exact_match.mean, 0));
    CHECK(NEAR(t.faithfulness.mean, 0.5)); /* (1 + 0) / 2 */
    CHECK_INT(t.faithfulness.n, 2);
    CHECK_INT(t.n_counted, 2);
    CHECK_INT(t.n_supported, 1);
    CHECK(isnan(t.judge_faithfulness.mean));
    CHECK(NEAR(t.retrieve_ms.mean, 25));  /* (10 + 20 + 30 + 40) / 4 */
    CHECK(NEAR(t.generate_ms.mean, 150)); /* (100 + 200) / 2: the others took none */
    CHECK(isnan(t.judge_ms.mean));
    rag_strv_free(&i1.documents);
    rag_strv_free(&i2.documents);

    /* judge verdicts: used when their count matches the sentences */
    rag_answer_item i5 = item("x", NULL);
    rag_answer_output o5 = {
        .text = "The workshop supervisor orders [1]. Yes.", .cited = p1, .n_cited = 1};
    int v[] = {1, 0};
    rag_judge_verdicts jv = {v, 2, 7.5};
    rag_answer_evaluate(&i5, &o5, &jv, &s);
    CHECK_INT(s.n_claims, 2);
    CHECK_INT(s.n_judged, 2);
    CHECK(NEAR(s.judge_faithfulness, 0.5));
    CHECK(NEAR(s.timings.judge_ms, 7.5));
    CHECK_INT(s.n_counted, 1); /* "Yes." is skipped by the lexical check only */
    rag_answer_score_free(&s);
    jv.n = 1; /* another count: not used */
    rag_answer_evaluate(&i5, &o5, &jv, &s);
    CHECK(isnan(s.judge_faithfulness));
    CHECK_INT(s.claims[0].judge, -1);
    rag_answer_score_free(&s);
}

/* ---- the judge ------------------------------------------------------------------------ */

static void test_judge_prompt_and_parse(void)
{
    rag_answer_passage cited[] = {{1, "ordering-spare-parts", P1}};
    rag_answer_claim *c;
    size_t n;
    rag_answer_claims("The supervisor orders by phone [1]. Drivers never buy parts.", cited, 1, &c,
                      &n);
    char *p = rag_judge_prompt(cited, 1, c, n);
    CHECK_CONTAINS(p, "[1] (ordering-spare-parts)\n" P1 "\n");
    CHECK_CONTAINS(p, "1. The supervisor orders by phone. (cites [1])\n");
    CHECK_CONTAINS(p, "2. Drivers never buy parts. (cites no passage)\n");
    CHECK_CONTAINS(p, "JSON array of 2 booleans");
    rag_free(p);
    rag_answer_claims_free(c, n);

    int v[3] = {-1, -1, -1};
    rag_err err = {0};
    CHECK_INT(rag_judge_parse("```json\n[true, false]\n```", 2, v, &err), 0);
    CHECK(v[0] == 1 && v[1] == 0);
    /* a citation "[1]" before the array is passed over; strings are read */
    CHECK_INT(rag_judge_parse("Sentence 1 [1] holds. Verdicts: [\"Yes\", \"no\"]", 2, v, &err), 0);
    CHECK(v[0] == 1 && v[1] == 0);
    CHECK_INT(rag_judge_parse("[[false, true, \"supported\"]]", 3, v, &err), 0);
    CHECK(v[0] == 0 && v[1] == 1 && v[2] == 1);
    CHECK_INT(rag_judge_parse("[true]", 2, v, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "1 verdicts for 2 sentences");
    CHECK_INT(rag_judge_parse("All supported.", 1, v, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "no JSON array of 1 verdicts: 'All supported.'");
    CHECK_INT(rag_judge_parse("[true, maybe]", 2, v, &err), RAG_ERR_FORMAT);
}

/* A server on loopback that answers each connection with the next canned
 * response, after reading the request (kept). */
typedef struct fake {
    int fd, port;
    const char *const *responses;
    size_t n;
    rag_buf request;
    pthread_t th;
} fake;

static void *serve(void *arg)
{
    fake *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[4096];
        size_t start = f->request.len, want = 0;
        while (!want || f->request.len - start < want) {
            ssize_t got = read(c, buf, sizeof buf);
            if (got <= 0) break;
            rag_buf_append(&f->request, buf, (size_t)got);
            const char *req = rag_buf_str(&f->request) + start;
            const char *end = strstr(req, "\r\n\r\n"), *cl = strcasestr(req, "content-length:");
            if (end && !want)
                want = (size_t)(end + 4 - req) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        }
        const char *r = f->responses[i];
        if (send(c, r, strlen(r), MSG_NOSIGNAL) < 0) perror("send");
        close(c);
    }
    return NULL;
}

static void fake_start(fake *f, const char *const *responses, size_t n)
{
    memset(f, 0, sizeof *f);
    f->responses = responses;
    f->n = n;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(f->fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(f->fd, 4) == 0);
    getsockname(f->fd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->th, NULL, serve, f);
}

static char *fake_stop(fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
    pthread_join(f->th, NULL);
    close(f->fd);
    return rag_buf_steal(&f->request);
}

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
#define CHUNK(s)                                                                                   \
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" s                                 \
    "\"},\"finish_reason\":null}]}\r\n\r\n"

/* Asks the judge at a fake server answering `response`. */
static int judge(const char *response, const rag_answer_output *o, rag_judge_verdicts *v,
                 rag_err *err, char **request)
{
    fake f;
    fake_start(&f, &response, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f.port);
    rag_judge_params p;
    rag_judge_default_params(&p);
    p.url = url;
    p.model = "judge-m";
    p.api_key = "k";
    p.timeout = 10;
    p.retries = 0;
    int rc = rag_judge_ask(&p, o, v, err);
    *request = fake_stop(&f);
    return rc;
}

static void test_judge_server(void)
{
    rag_answer_passage cited[] = {{1, "ordering-spare-parts", P1}};
    rag_answer_output o = {.text = "The supervisor orders by phone [1]. Drivers never buy parts.",
                           .cited = cited,
                           .n_cited = 1};
    rag_judge_verdicts v;
    rag_err err = {0};
    char *req;
    int rc =
        judge(SSE_HEAD CHUNK("[true,") CHUNK(" false]") "data: [DONE]\r\n\r\n", &o, &v, &err, &req);
    CHECK_INT(rc, 0);
    CHECK_INT(v.n, 2);
    if (v.n == 2) CHECK(v.v[0] == 1 && v.v[1] == 0);
    CHECK(v.ms > 0);
    CHECK_CONTAINS(req, "POST /v1/chat/completions ");
    CHECK_CONTAINS(req, "Authorization: Bearer k");
    CHECK_CONTAINS(req, "\"model\":\"judge-m\"");
    CHECK_CONTAINS(req, "\"temperature\":0");
    CHECK_CONTAINS(req, "{\"role\":\"system\",\"content\":\"You check answers");
    CHECK_CONTAINS(req, "2. Drivers never buy parts. (cites no passage)");
    rag_free(req);
    rag_answer_item it = item(NULL, NULL);
    rag_answer_score s;
    rag_answer_evaluate(&it, &o, &v, &s);
    CHECK(NEAR(s.judge_faithfulness, 0.5));
    rag_answer_score_free(&s);
    rag_judge_verdicts_free(&v);

    /* a reply without the verdicts, an HTTP error: errors naming the server */
    rc = judge(SSE_HEAD CHUNK("Both look fine.") "data: [DONE]\r\n\r\n", &o, &v, &err, &req);
    CHECK_INT(rc, RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "judge server http://127.0.0.1:");
    CHECK_CONTAINS(err.msg, "/v1: the reply holds no JSON array of 2 verdicts");
    CHECK(v.v == NULL && v.n == 0);
    rag_free(req);
    rc = judge("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: "
               "4\r\nConnection: close\r\n\r\noops",
               &o, &v, &err, &req);
    CHECK(rc != 0);
    CHECK_CONTAINS(err.msg, "judge server http://127.0.0.1:");
    CHECK_CONTAINS(err.msg, "/v1/chat/completions: ");
    CHECK_CONTAINS(err.msg, "500");
    rag_free(req);

    /* nothing asked: an abstention, an answer citing nothing (all unsupported) */
    rag_judge_params p;
    rag_judge_default_params(&p);
    p.url = "http://127.0.0.1:1/v1"; /* nobody there */
    p.model = "m";
    rag_answer_output ab = {.abstained = 1, .text = "Not in the documents."};
    CHECK_INT(rag_judge_ask(&p, &ab, &v, &err), 0);
    CHECK_INT(v.n, 0);
    rag_answer_output bare = {.text = "Alpha bravo. Charlie delta."};
    CHECK_INT(rag_judge_ask(&p, &bare, &v, &err), 0);
    CHECK_INT(v.n, 2);
    if (v.n == 2) CHECK(v.v[0] == 0 && v.v[1] == 0);
    rag_judge_verdicts_free(&v);
    p.url = NULL;
    CHECK_INT(rag_judge_ask(&p, &bare, &v, &err), RAG_ERR_INVALID);
}

/* ---- the questions file ------------------------------------------------------------- */

static void write_file(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", test_tmpdir(), name);
    rag_err err = {0};
    CHECK_INT(rag_file_write_atomic(path, text, strlen(text), &err), 0);
}

static void test_load(void)
{
    char path[512];
    write_file("good.jsonl",
               "# a comment\n"
               "{\"id\": \"q1\", \"question\": \"Who places VOR orders?\", \"answer\": \"the "
               "workshop supervisor\", \"documents\": [\"ordering-spare-parts\", \"a\", "
               "\"ordering-spare-parts\"], \"kind\": \"lookup\", \"as\": \"Ops, staff\", "
               "\"_note\": \"ignored\"}\n"
               "\n"
               "{\"question\": \"And at night?\", \"history\": [{\"role\": \"user\", \"content\": "
               "\"Who places VOR orders?\"}, {\"role\": \"assistant\", \"content\": \"The "
               "workshop supervisor [1].\"}], \"answer\": null, \"as\": [\"staff\", \"ops\"], "
               "\"evidence\": [\"x\"]}\r\n"
               "   {\"question\": \"Unanswerable?\", \"documents\": []}",
               path, sizeof path);
    rag_answer_items items;
    rag_err err = {0};
    CHECK_INT(rag_answer_items_load(path, &items, &err), 0);
    CHECK_INT(items.n, 3);
    if (items.n == 3) {
        rag_answer_item *a = &items.v[0], *b = &items.v[1], *c = &items.v[2];
        CHECK_STR(a->id, "q1");
        CHECK_INT(a->line, 2);
        CHECK_STR(a->answer, "the workshop supervisor");
        CHECK_INT(a->documents.n, 2); /* the repeat kept once, in order */
        CHECK_STR(a->documents.v[0], "ordering-spare-parts");
        CHECK_STR(a->documents.v[1], "a");
        CHECK_STR(a->as, "ops,staff");
        CHECK_STR(a->kind, "lookup");
        CHECK_STR(b->id, "line 4");
        CHECK_INT(b->n_history, 2);
        CHECK_STR(b->history[1].role, "assistant");
        CHECK_STR(b->history[1].content, "The workshop supervisor [1].");
        CHECK(b->answer == NULL);
        CHECK_STR(b->as, "ops,staff");
        CHECK_INT(b->evidence.n, 1);
        CHECK_STR(c->id, "line 5");
        CHECK(c->answer == NULL && c->as == NULL && c->kind == NULL);
        CHECK_INT(c->documents.n, 0);
    }
    rag_answer_items_free(&items);

    write_file("bom.jsonl", "\xEF\xBB\xBF{\"question\": \"q\"}\r\n", path, sizeof path);
    CHECK_INT(rag_answer_items_load(path, &items, &err), 0);
    CHECK_INT(items.n, 1);
    rag_answer_items_free(&items);
    write_file("empty.jsonl", "", path, sizeof path);
    CHECK_INT(rag_answer_items_load(path, &items, &err), 0);
    CHECK_INT(items.n, 0);
    rag_answer_items_free(&items);
}

/* Loading text fails with code and a message holding want. */
static void expect_error(const char *text, int code, const char *want)
{
    char path[512];
    write_file("bad.jsonl", text, path, sizeof path);
    rag_answer_items items;
    rag_err err = {0};
    int rc = rag_answer_items_load(path, &items, &err);
    if (rc != code) printf("    for: %.120s\n", text);
    CHECK_INT(rc, code);
    CHECK_CONTAINS(err.msg, want);
    CHECK_INT(items.n, 0);
}

static void test_load_errors(void)
{
    const int F = RAG_ERR_FORMAT;
    expect_error("{\"question\": \"a\"}\n{\"question\": \"x\",}\n", F,
                 "bad.jsonl:2: not valid JSON (column 18)");
    expect_error("{\"answer\": \"x\"}", F, "bad.jsonl:1: question: missing");
    expect_error("{\"question\": \" \\n\"}", F, "bad.jsonl:1: question: empty");
    expect_error("{\"question\": 7}", F, "bad.jsonl:1: question: expected a string");
    expect_error("# c\n\n{\"question\": \"q\", \"answer\": 5}", F,
                 "bad.jsonl:3: answer: expected a string or null");
    expect_error("{\"question\": \"q\", \"answer\": \"\"}", F, "bad.jsonl:1: answer: empty");
    expect_error("{\"question\": \"q\", \"documents\": \"a\"}", F,
                 "documents: expected an array of strings");
    expect_error("{\"question\": \"q\", \"documents\": [\"a\", 3]}", F,
                 "bad.jsonl:1: documents[1]: expected a string");
    expect_error("{\"question\": \"q\", \"evidence\": [\"\"]}", F, "evidence[0]: empty");
    expect_error("{\"question\": \"q\", \"history\": {}}", F, "history: expected an array");
    expect_error("{\"question\": \"q\", \"history\": [{\"role\": \"system\", \"content\": \"x\"}]}",
                 F, "history[0].role: expected \"user\" or \"assistant\"");
    expect_error("{\"question\": \"q\", \"history\": [{\"role\": \"user\", \"content\": \"x\"}, "
                 "{\"role\": \"assistant\"}]}",
                 F, "history[1].content: missing");
    expect_error("{\"question\": \"q\", \"history\": [\"hi\"]}", F,
                 "history[0]: expected an object");
    expect_error("{\"question\": \"q\", \"as\": \"ops team\"}", F,
                 "bad.jsonl:1: as: label 'ops team' has a character outside");
    expect_error("{\"question\": \"q\", \"as\": 5}", F, "as: expected a string of roles");
    expect_error("{\"question\": \"q\", \"as\": [\"a,b\"]}", F, "as[0]: one role per string");
    expect_error("{\"question\": \"q\", \"as\": []}", F, "as: no role");
    expect_error("{\"question\": \"q\", \"kind\": 1}", F, "kind: expected a string");
    expect_error("{\"question\": \"q\", \"answers\": \"x\"}", F,
                 "bad.jsonl:1: unknown field 'answers'");
    expect_error("{\"question\": \"a\", \"question\": \"b\"}", F, "question: given twice");
    expect_error("[1, 2]", F, "bad.jsonl:1: expected a JSON object");
    expect_error("{\"question\": \"q\"} x", F, "text after the JSON object (column 19)");
    expect_error("{\"question\": \"bad \xFF byte\"}", F, "question: not valid UTF-8");
    expect_error("{\"id\": \"a\", \"question\": \"q\"}\n{\"id\": \"b\", \"question\": \"q\"}\n"
                 "{\"id\": \"a\", \"question\": \"q\"}\n{\"id\": \"b\", \"question\": \"q\"}\n",
                 F, "bad.jsonl:3: id: 'a' is also the id of line 1");

    /* limits: 65 turns, a line over 1 MiB, 100,001 questions */
    rag_buf b = {0};
    rag_buf_puts(&b, "{\"question\": \"q\", \"history\": [");
    for (int i = 0; i < 65; i++)
        rag_buf_printf(&b, "%s{\"role\": \"user\", \"content\": \"t%d\"}", i ? ", " : "", i);
    rag_buf_puts(&b, "]}\n");
    expect_error(rag_buf_str(&b), RAG_ERR_LIMIT, "bad.jsonl:1: history: 65 turns, more than 64");
    rag_buf_clear(&b);
    rag_buf_puts(&b, "{\"question\": \"q\"}\n{\"question\": \"");
    for (int i = 0; i < (1 << 20); i++)
        rag_buf_putc(&b, 'x');
    rag_buf_puts(&b, "\"}\n");
    expect_error(rag_buf_str(&b), RAG_ERR_LIMIT, "bad.jsonl:2: a line longer than 1048576 bytes");
    rag_buf_clear(&b);
    for (int i = 0; i <= RAG_ANSWER_ITEMS_MAX; i++)
        rag_buf_puts(&b, "{\"question\": \"q\"}\n");
    expect_error(rag_buf_str(&b), RAG_ERR_LIMIT, "bad.jsonl:100001: more than 100000 questions");
    rag_buf_free(&b);

    rag_answer_items items;
    rag_err err = {0};
    CHECK_INT(rag_answer_items_load("/nonexistent/q.jsonl", &items, &err), RAG_ERR_IO);
    CHECK_CONTAINS(err.msg, "/nonexistent/q.jsonl");
}

/* The hand-written questions over the demo corpus load, and every gold
 * document is a file of demo/corpus (run from the top of the tree, as
 * tests/run.sh does). */
static void test_handcheck_file(void)
{
    rag_answer_items items;
    rag_err err = {0};
    int rc = rag_answer_items_load("tests/answers/handcheck.jsonl", &items, &err);
    if (rc == RAG_ERR_IO) SKIP("tests/answers/handcheck.jsonl not found: run from the tree's top");
    CHECK_INT(rc, 0);
    CHECK(items.n >= 6 && items.n <= 8);
    size_t unanswerable = 0, with_history = 0;
    for (size_t i = 0; i < items.n; i++) {
        const rag_answer_item *it = &items.v[i];
        unanswerable += it->answer == NULL;
        with_history += it->n_history > 0;
        CHECK(it->as != NULL);
        for (size_t j = 0; j < it->documents.n; j++) {
            char pattern[512];
            snprintf(pattern, sizeof pattern, "demo/corpus/*/%s.*", it->documents.v[j]);
            glob_t g;
            int found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1;
            if (!found) printf("    %s: no document %s\n", it->id, it->documents.v[j]);
            CHECK(found);
            globfree(&g);
        }
    }
    CHECK(unanswerable >= 1);
    CHECK(with_history >= 1);
    rag_answer_items_free(&items);
}

int main(void)
{
    RUN(test_normalize);
    RUN(test_f1_exact);
    RUN(test_documents);
    RUN(test_stem_and_words);
    RUN(test_faithfulness);
    RUN(test_evaluate_and_totals);
    RUN(test_judge_prompt_and_parse);
    RUN(test_judge_server);
    RUN(test_load);
    RUN(test_load_errors);
    RUN(test_handcheck_file);
    return test_summary();
}
