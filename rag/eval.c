/* rag/eval.c: trec_eval-compatible measures (see rag/eval.h). */
#include "rag/eval.h"
#include "base/file.h"
#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_FILE_MAX (256u << 20)

static int cmp_qrel(const void *a, const void *b)
{
    const rag_qrel *x = a, *y = b;
    int c = strcmp(x->qid, y->qid);
    return c ? c : strcmp(x->docid, y->docid);
}

static char *next_line(char **p)
{
    if (!*p || !**p) return NULL;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) {
        *nl = 0;
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[l - 1] = 0;
    return line;
}

int rag_qrels_load(const char *path, rag_qrels *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    char *text;
    int rc = rag_file_read(path, EVAL_FILE_MAX, &text, NULL, err);
    if (rc) return rc;
    char *p = text, *line;
    int lineno = 0;
    while ((line = next_line(&p)) != NULL) {
        lineno++;
        char *f[4];
        int nf = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t", &save); t && nf < 4; t = strtok_r(NULL, " \t", &save))
            f[nf++] = t;
        if (nf == 0) continue;
        if (nf != 3 && nf != 4) {
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s:%d: expected 'qid docid grade' or 'qid 0 docid grade'", path,
                             lineno);
            break;
        }
        char *qid = f[0], *docid = nf == 3 ? f[1] : f[2], *grade = nf == 3 ? f[2] : f[3], *end;
        long g = strtol(grade, &end, 10);
        if (*end) {
            rc = rag_err_set(err, RAG_ERR_FORMAT, "%s:%d: grade '%s' is not an integer", path,
                             lineno, grade);
            break;
        }
        out->v = rag_xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
        out->v[out->n++] = (rag_qrel){rag_xstrdup(qid), rag_xstrdup(docid), (int)g};
    }
    rag_free(text);
    if (rc) {
        rag_qrels_free(out);
        return rc;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_qrel);
    return 0;
}

void rag_qrels_free(rag_qrels *q)
{
    for (size_t i = 0; i < q->n; i++) {
        rag_free(q->v[i].qid);
        rag_free(q->v[i].docid);
    }
    rag_free(q->v);
    memset(q, 0, sizeof *q);
}

/* First judgment of qid (binary search), or q->n. */
static size_t first_of(const rag_qrels *q, const char *qid)
{
    size_t lo = 0, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(q->v[mid].qid, qid) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int grade_of(const rag_qrels *q, const char *qid, const char *docid)
{
    rag_qrel key = {(char *)qid, (char *)docid, 0};
    rag_qrel *r = bsearch(&key, q->v, q->n, sizeof *q->v, cmp_qrel);
    return r ? r->grade : 0;
}

size_t rag_qrels_n_relevant(const rag_qrels *q, const char *qid)
{
    size_t n = 0;
    for (size_t i = first_of(q, qid); i < q->n && !strcmp(q->v[i].qid, qid); i++)
        n += q->v[i].grade > 0;
    return n;
}

int rag_queries_load(const char *path, rag_strv *ids, rag_strv *texts, rag_err *err)
{
    char *text;
    int rc = rag_file_read(path, EVAL_FILE_MAX, &text, NULL, err);
    if (rc) return rc;
    char *p = text, *line;
    int lineno = 0;
    while ((line = next_line(&p)) != NULL) {
        lineno++;
        if (!*line) continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) {
            rc = rag_err_set(err, RAG_ERR_FORMAT, "%s:%d: expected 'qid<TAB>query text'", path,
                             lineno);
            break;
        }
        *tab = 0;
        rag_strv_push(ids, line);
        rag_strv_push(texts, tab + 1);
    }
    rag_free(text);
    return rc;
}

static int cmp_trec(const void *a, const void *b)
{
    const rag_ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return strcmp(y->docid, x->docid); /* trec_eval: ties by docno, descending */
}

static int cmp_int_desc(const void *a, const void *b)
{
    return *(const int *)b - *(const int *)a;
}

void rag_eval_query(const rag_qrels *q, const char *qid, rag_ranked *r, size_t n, rag_metrics *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) { /* the score as the run file carries it */
        char buf[64];
        snprintf(buf, sizeof buf, RAG_RUN_SCORE_FMT, r[i].score);
        r[i].score = strtod(buf, NULL);
    }
    if (n) qsort(r, n, sizeof *r, cmp_trec);
    size_t n_rel = rag_qrels_n_relevant(q, qid);
    if (n_rel == 0) return;

    double sum_prec = 0, dcg = 0;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        int g = grade_of(q, qid, r[i].docid);
        if (i < 10 && g > 0) dcg += g / log2((double)i + 2.0);
        if (g <= 0) continue;
        found++;
        sum_prec += (double)found / (double)(i + 1);
        if (found == 1) out->mrr = 1.0 / (double)(i + 1);
        if (i < 10) out->p10 += 0.1;
        if (i < 100) out->recall100 += 1.0 / (double)n_rel;
    }
    out->map = sum_prec / (double)n_rel;

    /* ideal DCG: all positive grades of the query, best first */
    size_t first = first_of(q, qid), m = 0;
    int *grades = rag_xcalloc(n_rel ? n_rel : 1, sizeof *grades);
    for (size_t i = first; i < q->n && !strcmp(q->v[i].qid, qid); i++)
        if (q->v[i].grade > 0) grades[m++] = q->v[i].grade;
    qsort(grades, m, sizeof *grades, cmp_int_desc);
    double idcg = 0;
    for (size_t i = 0; i < m && i < 10; i++)
        idcg += grades[i] / log2((double)i + 2.0);
    rag_free(grades);
    out->ndcg10 = idcg > 0 ? dcg / idcg : 0;
}
