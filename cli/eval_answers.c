/* cli/eval_answers.c: `rag eval --answers FILE`: answers every question of
 * a JSON Lines file as `rag ask` would (the same retrieval, cutoff,
 * follow-up rewrite and answer, as the item's principal) and scores the
 * answers (rag/answer_eval.h): gold documents in the prompt, citation
 * precision, token F1 and exact match, abstention on questions the
 * documents do not answer, and faithfulness (lexical, and by a judge
 * model when --judge names a server). Extractive answers also count how
 * often their first sentence is one of the item's evidence sentences. */
#include "base/buf.h"
#include "base/mem.h"
#include "base/time.h"
#include "cli/query_int.h"
#include "rag/answer_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char cli_eval_answers_usage[] =
    "usage: rag eval --answers FILE.jsonl [--as ROLE,...] [--extractive]\n"
    "                [--judge URL --judge-model NAME] [--json] [options of rag ask]\n"
    "\n"
    "Answers each question of FILE (JSON Lines: question, optional history,\n"
    "answer (null: the documents do not answer it), documents (gold document\n"
    "ids: the id given at ingest, else the file name without its extension),\n"
    "optional evidence sentences and \"as\" roles) as rag ask does, and prints per\n"
    "question and in total:\n"
    "  doc recall     gold documents among the passages the answer was written from\n"
    "  cite prec      cited passages that come from a gold document\n"
    "  F1, EM         SQuAD token F1 and exact match against the gold answer\n"
    "  abstention     precision and recall of \"the documents do not answer\" on\n"
    "                 the questions without a gold answer\n"
    "  faithful       answer sentences supported by a passage they cite (lexical:\n"
    "                 3/5 of its content words in it; --judge: a model's verdict)\n"
    "  evidence@1     the first sentence is one of the item's evidence sentences\n"
    "  evidence given the evidence sentences found whole in the passages as given\n"
    "                 (after the prompt trimmed them: answer.trim_passages)\n"
    "  prompt tokens  per generated answer; and the time of each stage\n"
    "\n"
    "  --extractive         answer extractively even when a generator is configured\n"
    "  --judge URL          an OpenAI-compatible server (base URL ending in /v1) that\n"
    "                       judges each answer sentence against the passages it cites\n"
    "  --judge-model NAME   the model asked of it ($RAG_JUDGE_API_KEY: its key)\n"
    "  --as ROLE,...        the principal of items without \"as\" (default: the\n"
    "                       administrator)\n"
    "  --model, --mode, -k, --embed-model, --rerank, ...   as for rag ask\n"
    "  --json               per question and totals as JSON\n";

/* Does the first sentence of the answer match an evidence sentence? A
 * match: token F1 of at least 0.8 (the quoted sentence may lose a list
 * marker or gain spacing). -1 when the item has no evidence. */
static int evidence_at_1(const rag_answer_item *it, const char *answer)
{
    if (!it->evidence.n || !answer) return -1;
    size_t len = strcspn(answer, "\n");
    char *first = rag_xstrndup(answer, len);
    int hit = 0;
    for (size_t i = 0; i < it->evidence.n && !hit; i++)
        hit = rag_answer_f1(first, it->evidence.v[i]) >= 0.8;
    rag_free(first);
    return hit;
}

/* How many of the item's evidence sentences the answerer was given: each
 * found, after SQuAD's normalisation, whole in one of the passages given
 * (what the model saw of them, trimmed as the prompt trimmed them). */
static size_t evidence_given(const rag_answer_item *it, const cli_ask_report *rep)
{
    size_t found = 0;
    rag_buf *texts = rag_xcalloc(rep->n_given ? rep->n_given : 1, sizeof *texts);
    for (size_t k = 0; k < rep->n_given; k++) {
        rag_buf_putc(&texts[k], ' ');
        rag_answer_normalize(rep->given[k].text, strlen(rep->given[k].text), 0, &texts[k]);
        rag_buf_putc(&texts[k], ' ');
    }
    for (size_t i = 0; i < it->evidence.n; i++) {
        rag_buf ev = {0};
        rag_buf_putc(&ev, ' ');
        rag_answer_normalize(it->evidence.v[i], strlen(it->evidence.v[i]), 0, &ev);
        rag_buf_putc(&ev, ' ');
        for (size_t k = 0; k < rep->n_given; k++)
            if (strstr(rag_buf_str(&texts[k]), rag_buf_str(&ev))) {
                found++;
                break;
            }
        rag_buf_free(&ev);
    }
    for (size_t k = 0; k < rep->n_given; k++)
        rag_buf_free(&texts[k]);
    rag_free(texts);
    return found;
}

static void add_mean(cJSON *o, const char *name, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddNumberToObject(o, name, v);
}

/* A measure as the summary prints it: "-" where it is not defined. */
static const char *fmt(char buf[16], double v)
{
    if (isnan(v)) return "-";
    snprintf(buf, 16, "%.3f", v);
    return buf;
}

static void print_cell(double v)
{
    if (isnan(v))
        printf("  %6s", "-");
    else
        printf("  %6.3f", v);
}

int cli_eval_answers(int argc, char **argv)
{
    cli_query_opts q = {.cli = {.cmd = "eval"}, .is_ask = 1, .is_chat = 1, .is_eval = 1};
    cli_ask_session *as = NULL;
    rag_answer_items items = {0};
    rag_answer_totals tot;
    rag_answer_totals_init(&tot);
    rag_err err = {0};
    cJSON *per = NULL;
    int rc;
    if (cli_parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if (!q.answers_file) {
        rc = cli_usage_error(&q.cli, "--answers FILE is required");
        goto out;
    }
    if (q.judge_url && !q.judge_model) {
        rc = cli_usage_error(&q.cli, "--judge needs --judge-model");
        goto out;
    }
    if (rag_answer_items_load(q.answers_file, &items, &err)) {
        rc = cli_fail(&q.cli, &err);
        goto out;
    }
    if ((rc = cli_ask_session_open(&q, &as))) goto out;
    rag_judge_params jp;
    rag_judge_default_params(&jp);
    jp.url = q.judge_url;
    jp.model = q.judge_model;
    jp.api_key = getenv("RAG_JUDGE_API_KEY");
    rag_principal fallback = q.cli.who; /* --as, else the administrator */
    size_t ev_n = 0, ev_hit = 0, gen_n = 0, evg_n = 0, evg_found = 0;
    double prompt_tokens = 0;
    per = cJSON_CreateArray();
    if (!q.cli.json)
        printf("%-10s %-17s %6s  %6s  %6s  %6s  %6s  %-10s %s\n", "id", "as", "docrec", "cite",
               "F1", "EM", "faith", "answer", "question");
    double t0 = rag_now_s();
    for (size_t i = 0; i < items.n; i++) {
        const rag_answer_item *it = &items.v[i];
        rag_principal who = {0};
        if (it->as && rag_principal_from_roles(it->as, &who, &err)) {
            rc = cli_fail(&q.cli, &err);
            goto out;
        }
        q.cli.who = it->as ? who : fallback;
        cli_ask_report rep;
        int r = cli_ask_report_one(as, it->history, it->n_history, it->question, &rep);
        q.cli.who = fallback;
        rag_principal_free(&who);
        if (r != 0 && r != CLI_EXIT_NO_ANSWER) {
            cli_ask_report_free(&rep);
            rc = r;
            goto out;
        }
        /* what the measures read */
        rag_answer_passage *cited = rag_xcalloc(rep.n_given ? rep.n_given : 1, sizeof *cited);
        const char **given = rag_xcalloc(rep.n_given ? rep.n_given : 1, sizeof *given);
        size_t n_cited = 0;
        for (size_t k = 0; k < rep.n_given; k++) {
            given[k] = rep.given[k].doc_id;
            if (rep.given[k].n)
                cited[n_cited++] =
                    (rag_answer_passage){rep.given[k].n, rep.given[k].doc_id, rep.given[k].text};
        }
        rag_answer_output o = {.abstained = rep.abstained,
                               .text = rep.text,
                               .cited = cited,
                               .n_cited = n_cited,
                               .given = given,
                               .n_given = rep.n_given};
        o.timings.retrieve_ms = rep.retrieve_ms;
        o.timings.prompt_ms = rep.prompt_ms;
        o.timings.generate_ms = rep.generate_ms;
        rag_judge_verdicts jv = {0};
        int judged = 0;
        if (jp.url && !rep.abstained && n_cited) {
            if (rag_judge_ask(&jp, &o, &jv, &err)) {
                rag_free(cited);
                rag_free(given);
                cli_ask_report_free(&rep);
                rc = cli_fail(&q.cli, &err);
                goto out;
            }
            judged = 1;
        }
        rag_answer_score sc;
        rag_answer_evaluate(it, &o, judged ? &jv : NULL, &sc);
        rag_answer_totals_add(&tot, &sc);
        int ev = rep.abstained ? (it->evidence.n ? 0 : -1) : evidence_at_1(it, rep.text);
        if (ev >= 0 && it->answer) ev_n++, ev_hit += (size_t)ev;
        size_t evg = it->answer ? evidence_given(it, &rep) : 0;
        if (it->answer) evg_n += it->evidence.n, evg_found += evg;
        if (!strcmp(rep.mode, "generated")) gen_n++, prompt_tokens += rep.prompt_tokens;
        if (q.cli.json) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "id", it->id);
            cJSON_AddStringToObject(e, "question", it->question);
            if (it->as)
                cJSON_AddStringToObject(e, "as", it->as);
            else
                cJSON_AddNullToObject(e, "as");
            cJSON_AddBoolToObject(e, "answerable", it->answer != NULL);
            cJSON_AddStringToObject(e, "answer", rep.text ? rep.text : "");
            cJSON_AddStringToObject(e, "mode", rep.mode);
            cJSON_AddBoolToObject(e, "abstained", rep.abstained);
            if (rep.rewrite)
                cJSON_AddStringToObject(e, "rewrite", rep.rewrite);
            else
                cJSON_AddNullToObject(e, "rewrite");
            cJSON *docs = cJSON_AddArrayToObject(e, "given_documents");
            cJSON *cdocs = cJSON_AddArrayToObject(e, "cited_documents");
            for (size_t k = 0; k < rep.n_given; k++) {
                cJSON_AddItemToArray(docs, cJSON_CreateString(rep.given[k].doc_id));
                if (rep.given[k].n)
                    cJSON_AddItemToArray(cdocs, cJSON_CreateString(rep.given[k].doc_id));
            }
            add_mean(e, "doc_recall", sc.doc_recall);
            add_mean(e, "citation_precision", sc.citation_precision);
            add_mean(e, "f1", sc.f1);
            add_mean(e, "exact_match", sc.exact_match);
            add_mean(e, "faithfulness", sc.faithfulness);
            add_mean(e, "judge_faithfulness", sc.judge_faithfulness);
            if (ev >= 0)
                cJSON_AddBoolToObject(e, "evidence_at_1", ev);
            else
                cJSON_AddNullToObject(e, "evidence_at_1");
            if (it->answer && it->evidence.n)
                cJSON_AddNumberToObject(e, "evidence_given", (double)evg / (double)it->evidence.n);
            else
                cJSON_AddNullToObject(e, "evidence_given");
            cJSON_AddNumberToObject(e, "prompt_tokens", rep.prompt_tokens);
            cJSON *tm = cJSON_AddObjectToObject(e, "timings");
            cJSON_AddNumberToObject(tm, "retrieve_ms", rep.retrieve_ms);
            cJSON_AddNumberToObject(tm, "prompt_ms", rep.prompt_ms);
            cJSON_AddNumberToObject(tm, "generate_ms", rep.generate_ms);
            cJSON_AddNumberToObject(tm, "judge_ms", jv.ms);
            cJSON_AddNumberToObject(tm, "total_ms", rep.total_ms);
            cJSON_AddItemToArray(per, e);
        } else {
            char qs[48];
            snprintf(qs, sizeof qs, "%s", it->question);
            printf("%-10.10s %-17.17s", it->id, it->as ? it->as : "-");
            print_cell(sc.doc_recall);
            print_cell(sc.citation_precision);
            print_cell(sc.f1);
            print_cell(sc.exact_match);
            print_cell(sc.faithfulness);
            printf("  %-10s %s\n", rep.abstained ? "none" : rep.mode, qs);
        }
        rag_answer_score_free(&sc);
        rag_judge_verdicts_free(&jv);
        rag_free(cited);
        rag_free(given);
        cli_ask_report_free(&rep);
    }
    double secs = rag_now_s() - t0;
    rag_answer_totals_finish(&tot);
    double ev_rate = ev_n ? (double)ev_hit / (double)ev_n : NAN;
    double tokens = gen_n ? prompt_tokens / (double)gen_n : NAN;
    double evg_rate = evg_n ? (double)evg_found / (double)evg_n : NAN;
    if (q.cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", q.answers_file);
        cJSON *t = cJSON_AddObjectToObject(j, "totals");
        cJSON_AddNumberToObject(t, "questions", (double)tot.n_questions);
        cJSON_AddNumberToObject(t, "answerable", (double)tot.n_answerable);
        cJSON_AddNumberToObject(t, "unanswerable", (double)tot.n_unanswerable);
        cJSON_AddNumberToObject(t, "abstained", (double)tot.n_abstained);
        add_mean(t, "doc_recall", tot.doc_recall.mean);
        add_mean(t, "citation_precision", tot.citation_precision.mean);
        add_mean(t, "f1", tot.f1.mean);
        add_mean(t, "exact_match", tot.exact_match.mean);
        add_mean(t, "abstention_precision", tot.abstention_precision);
        add_mean(t, "abstention_recall", tot.abstention_recall);
        add_mean(t, "wrong_abstention_rate", tot.wrong_abstention_rate);
        add_mean(t, "faithfulness", tot.faithfulness.mean);
        add_mean(t, "judge_faithfulness", tot.judge_faithfulness.mean);
        add_mean(t, "evidence_at_1", ev_rate);
        add_mean(t, "evidence_given", evg_rate);
        add_mean(t, "prompt_tokens_per_answer", tokens);
        cJSON *tm = cJSON_AddObjectToObject(t, "timings");
        add_mean(tm, "retrieve_ms", tot.retrieve_ms.mean);
        add_mean(tm, "prompt_ms", tot.prompt_ms.mean);
        add_mean(tm, "generate_ms", tot.generate_ms.mean);
        add_mean(tm, "judge_ms", tot.judge_ms.mean);
        cJSON_AddNumberToObject(tm, "seconds", secs);
        cJSON_AddItemToObject(j, "questions", per);
        per = NULL;
        cli_print_json(j);
    } else {
        char a[5][16];
        printf("\n%zu questions (%zu answerable, %zu not), %.2f s\n", tot.n_questions,
               tot.n_answerable, tot.n_unanswerable, secs);
        printf("doc recall          %s\n", fmt(a[0], tot.doc_recall.mean));
        printf("citation precision  %s\n", fmt(a[0], tot.citation_precision.mean));
        printf("F1 / exact match    %s / %s\n", fmt(a[0], tot.f1.mean),
               fmt(a[1], tot.exact_match.mean));
        printf("abstention          precision %s, recall %s; wrong on answerable %s (%zu of %zu)\n",
               fmt(a[0], tot.abstention_precision), fmt(a[1], tot.abstention_recall),
               fmt(a[2], tot.wrong_abstention_rate), tot.n_abstained_answerable, tot.n_answerable);
        printf("faithfulness        %s lexical", fmt(a[0], tot.faithfulness.mean));
        if (jp.url) printf(", %s judged", fmt(a[0], tot.judge_faithfulness.mean));
        printf("\nevidence@1          %s (%zu of %zu)\n", fmt(a[0], ev_rate), ev_hit, ev_n);
        printf("evidence given      %s (%zu of %zu sentences)\n", fmt(a[0], evg_rate), evg_found,
               evg_n);
        if (gen_n) printf("prompt tokens       %.0f per answer\n", tokens);
        printf("stage means (ms)    retrieve %s, prompt %s, generate %s",
               fmt(a[0], tot.retrieve_ms.mean), fmt(a[1], tot.prompt_ms.mean),
               fmt(a[2], tot.generate_ms.mean));
        if (jp.url) printf(", judge %s", fmt(a[3], tot.judge_ms.mean));
        putchar('\n');
    }
out:
    cJSON_Delete(per);
    cli_ask_session_close(as);
    rag_answer_items_free(&items);
    rag_free(q.query);
    cli_teardown(&q.cli);
    return rc;
}
