/* ragd/metrics.c: counters and histograms for /metrics (see ragd/metrics.h). */
#include "ragd/metrics.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Latency buckets in seconds: from a cached keyword search to a long answer. */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                0.5,   1,      2.5,   5,    10,    30,   60,  120};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])

typedef struct histo {
    char name[64];                           /* the label value */
    unsigned long long counts[N_BOUNDS + 1]; /* the last: above every bound */
    unsigned long long n;
    double sum;
} histo;

typedef struct counter {
    char route[64];
    int status;
    unsigned long long n;
} counter;

struct ragd_meter {
    pthread_mutex_t mu;
    counter *requests;
    size_t n_requests, cap_requests;
    histo *routes, *stages;
    size_t n_routes, cap_routes, n_stages, cap_stages;
    unsigned long long prompt_tokens, generated_tokens, generations, embedded_tokens;
    double gen_seconds, last_tokens_per_s;
};

ragd_meter *ragd_meter_new(void)
{
    ragd_meter *m = rag_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void ragd_meter_free(ragd_meter *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    rag_free(m->requests);
    rag_free(m->routes);
    rag_free(m->stages);
    rag_free(m);
}

static histo *histo_for(histo **v, size_t *n, size_t *cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].name, name)) return &(*v)[i];
    *v = rag_xgrow(*v, cap, *n + 1, sizeof **v);
    histo *h = &(*v)[(*n)++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    return h;
}

static void observe(histo *h, double seconds)
{
    size_t i = 0;
    while (i < N_BOUNDS && seconds > bounds[i])
        i++;
    h->counts[i]++;
    h->n++;
    h->sum += seconds;
}

void ragd_meter_request(ragd_meter *m, const char *route, int status, double seconds)
{
    pthread_mutex_lock(&m->mu);
    counter *c = NULL;
    for (size_t i = 0; i < m->n_requests && !c; i++)
        if (m->requests[i].status == status && !strcmp(m->requests[i].route, route))
            c = &m->requests[i];
    if (!c) {
        m->requests =
            rag_xgrow(m->requests, &m->cap_requests, m->n_requests + 1, sizeof *m->requests);
        c = &m->requests[m->n_requests++];
        memset(c, 0, sizeof *c);
        snprintf(c->route, sizeof c->route, "%s", route);
        c->status = status;
    }
    c->n++;
    observe(histo_for(&m->routes, &m->n_routes, &m->cap_routes, route), seconds);
    pthread_mutex_unlock(&m->mu);
}

void ragd_meter_stage(ragd_meter *m, const char *stage, double seconds)
{
    pthread_mutex_lock(&m->mu);
    observe(histo_for(&m->stages, &m->n_stages, &m->cap_stages, stage), seconds);
    pthread_mutex_unlock(&m->mu);
}

void ragd_meter_generation(ragd_meter *m, int prompt_tokens, int generated, double gen_seconds)
{
    pthread_mutex_lock(&m->mu);
    m->generations++;
    m->prompt_tokens += (unsigned long long)(prompt_tokens > 0 ? prompt_tokens : 0);
    m->generated_tokens += (unsigned long long)(generated > 0 ? generated : 0);
    m->gen_seconds += gen_seconds;
    if (gen_seconds > 0 && generated > 0) m->last_tokens_per_s = generated / gen_seconds;
    pthread_mutex_unlock(&m->mu);
}

void ragd_meter_embedded(ragd_meter *m, size_t tokens)
{
    pthread_mutex_lock(&m->mu);
    m->embedded_tokens += tokens;
    pthread_mutex_unlock(&m->mu);
}

static void render_histos(rag_buf *out, const char *name, const char *help, const char *label,
                          const histo *v, size_t n)
{
    rag_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n; i++) {
        unsigned long long cum = 0;
        for (size_t b = 0; b < N_BOUNDS; b++) {
            cum += v[i].counts[b];
            rag_buf_printf(out, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, v[i].name,
                           bounds[b], cum);
        }
        rag_buf_printf(out, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, v[i].name,
                       v[i].n);
        rag_buf_printf(out, "%s_sum{%s=\"%s\"} %.6f\n", name, label, v[i].name, v[i].sum);
        rag_buf_printf(out, "%s_count{%s=\"%s\"} %llu\n", name, label, v[i].name, v[i].n);
    }
}

static void gauge(rag_buf *out, const char *name, const char *help, double v)
{
    rag_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void counter_line(rag_buf *out, const char *name, const char *help, double v)
{
    rag_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %.17g\n", name, help, name, name, v);
}

/* A label value as Prometheus reads it: \\, \" and \n escaped. */
static void label_value(rag_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            rag_buf_putc(out, '\\'), rag_buf_putc(out, *v);
        else if (*v == '\n')
            rag_buf_puts(out, "\\n");
        else
            rag_buf_putc(out, *v);
    }
}

/* One family of per-server series for both pools. */
static void pool_family(rag_buf *out, const ragd_meter_gauges *g, const char *name,
                        const char *type, const char *help, int what)
{
    const net_pool *pools[2] = {g->gen_pool, g->embed_pool};
    static const char *const roles[2] = {"generator", "embedding"};
    rag_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; pools[k] && i < net_pool_size(pools[k]); i++) {
            net_pool_stats st;
            net_pool_stats_get(pools[k], (int)i, &st);
            double v = what == 0   ? (double)st.requests
                       : what == 1 ? (double)st.failures
                       : what == 2 ? st.in_flight
                                   : st.up;
            rag_buf_printf(out, "%s{role=\"%s\",server=\"", name, roles[k]);
            label_value(out, st.label);
            rag_buf_printf(out, "\"} %.17g\n", v);
        }
}

/* The remote servers of the generator and the embedder (net/pool.c), each
 * labelled by its URL without userinfo: a password never shows here. */
static void render_pools(rag_buf *out, const ragd_meter_gauges *g)
{
    if (!g->gen_pool && !g->embed_pool) return;
    pool_family(out, g, "ragd_backend_requests_total", "counter",
                "Attempts sent to each remote generator or embedding server.", 0);
    pool_family(out, g, "ragd_backend_failures_total", "counter",
                "Attempts that failed there (a failed connection, a timeout, an error answer).", 1);
    pool_family(out, g, "ragd_backend_in_flight", "gauge", "Attempts there now.", 2);
    pool_family(out, g, "ragd_backend_up", "gauge",
                "1 when the server is up, 0 while it is marked down (backed off).", 3);
}

void ragd_meter_render(ragd_meter *m, const ragd_meter_gauges *g, rag_buf *out)
{
    pthread_mutex_lock(&m->mu);
    rag_buf_puts(out, "# HELP ragd_requests_total HTTP requests by route and status.\n"
                      "# TYPE ragd_requests_total counter\n");
    for (size_t i = 0; i < m->n_requests; i++)
        rag_buf_printf(out, "ragd_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                       m->requests[i].route, m->requests[i].status, m->requests[i].n);
    render_histos(out, "ragd_request_duration_seconds",
                  "Time from request to the last byte of the response.", "route", m->routes,
                  m->n_routes);
    render_histos(
        out, "ragd_stage_duration_seconds",
        "Time per stage: rewrite, embed, keyword, vector, fuse, rerank, queue, prompt, generate.",
        "stage", m->stages, m->n_stages);
    counter_line(out, "ragd_generations_total", "Answers generated by the local model.",
                 (double)m->generations);
    counter_line(out, "ragd_prompt_tokens_total", "Prompt tokens processed.",
                 (double)m->prompt_tokens);
    counter_line(out, "ragd_generated_tokens_total", "Tokens generated.",
                 (double)m->generated_tokens);
    counter_line(out, "ragd_generation_seconds_total",
                 "Time spent generating tokens (after the prompt).", m->gen_seconds);
    gauge(out, "ragd_generation_tokens_per_second", "Decoding speed of the last generation.",
          m->last_tokens_per_s);
    counter_line(out, "ragd_embedded_tokens_total", "Tokens embedded for /v1/embeddings.",
                 (double)m->embedded_tokens);
    pthread_mutex_unlock(&m->mu);
    if (g->batching) {
        counter_line(out, "ragd_decode_steps_total",
                     "Decoding steps of the local model (each reads the weights once).",
                     (double)g->batch.steps);
        counter_line(
            out, "ragd_decode_step_tokens_total",
            "Tokens those steps decoded, one per answer in the step: over steps, the mean batch.",
            (double)g->batch.step_tokens);
        counter_line(out, "ragd_prompt_chunks_total", "Prompt chunks run between decoding steps.",
                     (double)g->batch.prompt_chunks);
    }
    if (g->embed_batching) {
        counter_line(out, "ragd_embed_requests_total",
                     "Callers that needed vectors (embedding requests, queries).",
                     (double)g->embed.requests);
        counter_line(out, "ragd_embed_batches_total",
                     "Embedding model calls made for them (several callers share one).",
                     (double)g->embed.batches);
        counter_line(out, "ragd_embed_batch_texts_total", "Texts in those calls.",
                     (double)g->embed.texts);
    }
    counter_line(out, "ragd_answers_recorded_total", "Answers recorded for feedback.",
                 (double)g->answers.recorded);
    counter_line(out, "ragd_answers_not_recorded_total",
                 "Answers that could not be recorded (a full queue, a database error: logged).",
                 (double)g->answers.failed);
    rag_buf_printf(out,
                   "# HELP ragd_feedback_ratings_total Ratings given to answers (a new rating of "
                   "an answer rated before counts again).\n"
                   "# TYPE ragd_feedback_ratings_total counter\n"
                   "ragd_feedback_ratings_total{rating=\"up\"} %llu\n"
                   "ragd_feedback_ratings_total{rating=\"down\"} %llu\n",
                   (unsigned long long)g->answers.rated_up,
                   (unsigned long long)g->answers.rated_down);
    gauge(out, "ragd_queue_waiting", "Generations waiting for a slot.", g->queue_waiting);
    gauge(out, "ragd_generations_running", "Generations running now.", g->generations_running);
    gauge(out, "ragd_connections", "Open HTTP connections.", g->connections);
    gauge(out, "ragd_documents", "Documents in the database.", (double)g->documents);
    gauge(out, "ragd_chunks", "Chunks in the database.", (double)g->chunks);
    gauge(out, "ragd_api_keys", "API keys loaded.", (double)g->api_keys);
    gauge(out, "ragd_ready", "1 when models and indexes are loaded.", g->ready);
    if (g->cluster) {
        gauge(out, "ragd_replica_seq", "The last change of the cluster's log applied here.",
              (double)g->replica.seq);
        gauge(out, "ragd_replica_lag_seconds",
              "Seconds since the replica was last known to hold the whole log (-1: never).",
              g->replica.lag_s);
        gauge(out, "ragd_replica_stale", "1 when the lag is over cluster.max_lag.",
              g->replica.stale);
        gauge(out, "ragd_cluster_up", "1 when the last look at the cluster's database succeeded.",
              g->replica.connected);
        counter_line(out, "ragd_replica_documents_applied_total",
                     "Documents the replica applied from the cluster.", (double)g->replica.applied);
        counter_line(out, "ragd_cluster_failures_total",
                     "Looks at the cluster's database that failed.", (double)g->replica.failures);
    }
    gauge(out, "process_resident_memory_bytes", "Resident memory (anonymous and mapped files).",
          (double)g->rss_bytes);
    gauge(out, "ragd_heap_bytes", "Memory allocated by ragd itself.", (double)g->heap_bytes);
    render_pools(out, g);
}
