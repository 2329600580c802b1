/* cli/jobs.c: the ingest queue of a cluster from the command line: `rag
 * ingest` against a cluster (enqueue, and --wait), and `rag jobs`. */
#include "cli/cluster_int.h"
#include "base/mem.h"
#include "base/file.h"
#include "base/time.h"
#include "ingest/ingest.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "usage: rag jobs [options]\n"
                            "\n"
                            "The ingest queue of a cluster (--db postgresql://...): jobs queued,\n"
                            "running, done and failed, the workers with their rate over the last\n"
                            "minute, and the reasons of the latest failures.\n"
                            "\n"
                            "  --failed N   show the N latest failures (default 10)\n"
                            "  --db URL     the cluster (default $RAG_DB or db in the config)\n"
                            "  --config FILE, --json, -q\n";

static volatile sig_atomic_t stop;
static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

/* ", 12 added, 3 unchanged": the ended jobs by outcome */
static void print_outcomes(const clu_queue_stats *q)
{
    for (size_t i = 0; i < q->n_done_by; i++)
        printf("%s %lld %s", i ? "," : "", (long long)q->done_by[i].n, q->done_by[i].outcome);
}

static void print_stats(const clu_queue_stats *q)
{
    printf("jobs: %lld queued, %lld running, %lld done, %lld failed\n", (long long)q->queued,
           (long long)q->running, (long long)q->done, (long long)q->failed);
    if (q->n_done_by) {
        printf("outcomes:");
        print_outcomes(q);
        printf("\n");
    }
    for (size_t i = 0; i < q->n_workers; i++)
        printf("worker %-24s %8lld jobs  %6.2f jobs/s  seen %.0f s ago\n", q->workers[i].name,
               (long long)q->workers[i].jobs_done, q->workers[i].jobs_per_s,
               q->workers[i].seen_s_ago);
}

static cJSON *stats_json(const clu_queue_stats *q)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "queued", (double)q->queued);
    cJSON_AddNumberToObject(j, "running", (double)q->running);
    cJSON_AddNumberToObject(j, "done", (double)q->done);
    cJSON_AddNumberToObject(j, "failed", (double)q->failed);
    cJSON *o = cJSON_AddObjectToObject(j, "outcomes");
    for (size_t i = 0; i < q->n_done_by; i++)
        cJSON_AddNumberToObject(o, q->done_by[i].outcome, (double)q->done_by[i].n);
    cJSON *w = cJSON_AddArrayToObject(j, "workers");
    for (size_t i = 0; i < q->n_workers; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", q->workers[i].name);
        cJSON_AddNumberToObject(x, "jobs_done", (double)q->workers[i].jobs_done);
        cJSON_AddNumberToObject(x, "jobs_per_s", q->workers[i].jobs_per_s);
        cJSON_AddNumberToObject(x, "seen_s_ago", q->workers[i].seen_s_ago);
        cJSON_AddItemToArray(w, x);
    }
    return j;
}

int cli_jobs(int argc, char **argv)
{
    enum { O_FAILED = 1000 };
    static const struct option opts[] = {
        {"failed", required_argument, NULL, O_FAILED}, CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "jobs"};
    long n_failed = 10;
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case O_FAILED:
            n_failed = strtol(optarg, NULL, 10);
            if (n_failed < 0 || n_failed > 10000)
                return cli_usage_error(&cli, "--failed: 0 to 10000, not '%s'", optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_setup(&cli, CLI_DB_CLUSTER))) goto out;
    if (!cli.cluster) {
        rc = cli_usage_error(&cli, "the database is not a cluster: give --db postgresql://...");
        goto out;
    }
    clu_queue_stats q;
    rag_strv fails = {0};
    rag_err err = {0};
    if (clu_queue_stats_get(cli.clu, 0, 0, &q, &err) ||
        clu_queue_failures(cli.clu, (size_t)n_failed, &fails, &err)) {
        rc = cli_fail(&cli, &err);
        goto out;
    }
    if (cli.json) {
        cJSON *j = stats_json(&q);
        cJSON *f = cJSON_AddArrayToObject(j, "failures");
        for (size_t i = 0; i < fails.n; i++)
            cJSON_AddItemToArray(f, cJSON_CreateString(fails.v[i]));
        cli_print_json(j);
    } else {
        print_stats(&q);
        for (size_t i = 0; i < fails.n; i++) {
            char line[4096];
            printf("failed: %s\n", cli_safe(fails.v[i], line, sizeof line));
        }
    }
    clu_queue_stats_free(&q);
    rag_strv_free(&fails);
out:
    cli_teardown(&cli);
    return rc;
}

/* ---- rag ingest against a cluster ---------------------------------------------------- */
static void on_list_failure(void *ctx, const char *path, ing_status st, const char *reason)
{
    cli_ctx *cli = ctx;
    (void)st;
    char safe[4096];
    if (!cli->json)
        fprintf(stderr, "rag ingest: %s\n", cli_safe(reason ? reason : path, safe, sizeof safe));
}

/* A job that carries the file's bytes (--upload), for workers that cannot
 * read this machine's files. */
static int enqueue_bytes(cli_ctx *cli, clu_job_in *j, const char *path, size_t max, int64_t *id,
                         rag_err *err)
{
    rag_map m;
    rag_err ferr = {0};
    if (rag_file_map(path, max, &m, &ferr)) {
        char safe[4096];
        cli_error(cli, "%s", cli_safe(ferr.msg, safe, sizeof safe));
        return 1; /* this file only */
    }
    j->kind = CLU_JOB_BYTES;
    j->bytes = m.data;
    j->n_bytes = m.size;
    int rc = clu_job_enqueue(cli->clu, j, id, err);
    rag_file_unmap(&m);
    j->bytes = NULL;
    j->n_bytes = 0;
    return rc;
}

int cli_enqueue(cli_ctx *cli, const char *const *paths, size_t n, const ing_params *p,
                const char *labels, const char *default_labels, int upload, int wait)
{
    rag_err err = {0};
    if (p->crawl_depth > 0) {
        cli_error(cli, "--crawl is not supported against a cluster yet: a URL job fetches its "
                       "page only (give the pages as URLs)");
        return CLI_EXIT_USAGE;
    }
    if (p->prune) {
        cli_error(cli, "--prune is not supported against a cluster yet: remove documents with "
                       "'rag docs rm ID'");
        return CLI_EXIT_USAGE;
    }
    rag_strv uris = {0};
    size_t n_failed = 0;
    ing_params lp = *p;
    lp.on_file = on_list_failure;
    lp.ctx = cli;
    const char **local = rag_xcalloc(n ? n : 1, sizeof *local);
    size_t n_local = 0;
    for (size_t i = 0; i < n; i++)
        if (!rag_is_url(paths[i])) local[n_local++] = paths[i];
    ing_list(local, n_local, &lp, &uris, &n_failed);
    rag_free(local);
    int64_t first = 0, last = 0, id = 0;
    size_t queued = 0;
    int rc = 0;
    clu_job_in j = {.labels = labels,
                    .default_labels = default_labels,
                    .ext_id = p->ext_id,
                    .max_attempts = (int)cli->set.cluster.max_attempts};
    for (size_t i = 0; !rc && i < uris.n; i++) {
        j.kind = CLU_JOB_PATH;
        j.source = uris.v[i];
        rc = upload ? enqueue_bytes(cli, &j, uris.v[i], p->max_file_size, &id, &err)
                    : clu_job_enqueue(cli->clu, &j, &id, &err);
        if (rc == 1) { /* a file that could not be read: said, and the others go on */
            rc = 0;
            n_failed++;
            continue;
        }
        if (!rc && !first) first = id;
        if (!rc) last = id, queued++;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        if (!rag_is_url(paths[i])) continue;
        j.kind = CLU_JOB_URL;
        j.source = paths[i];
        rc = clu_job_enqueue(cli->clu, &j, &id, &err);
        if (!rc && !first) first = id;
        if (!rc) last = id, queued++;
    }
    rag_strv_free(&uris);
    if (rc) return cli_fail(cli, &err);
    if (!wait) {
        if (cli->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "queued", (double)queued);
            cJSON_AddNumberToObject(o, "first_job", (double)first);
            cJSON_AddNumberToObject(o, "last_job", (double)last);
            cJSON_AddNumberToObject(o, "failed", (double)n_failed);
            cli_print_json(o);
        } else {
            printf("ingest: %zu job%s queued on %s (ids %lld-%lld); 'rag jobs' shows the queue, "
                   "'rag ingest --wait' waits for them\n",
                   queued, queued == 1 ? "" : "s", clu_name(cli->clu), (long long)first,
                   (long long)last);
        }
        return n_failed ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
    }
    return cli_wait_jobs(cli, first, last, n_failed);
}

int cli_wait_jobs(cli_ctx *cli, int64_t first, int64_t last, size_t n_failed)
{
    rag_err err = {0};
    cli_bar bar = {.enabled = isatty(2) && !cli->quiet && !cli->json};
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    double t0 = rag_now_s();
    clu_queue_stats q = {0};
    int rc = 0;
    while (first && !stop) {
        clu_queue_stats_free(&q);
        rc = clu_queue_stats_get(cli->clu, first, last, &q, &err);
        if (rc) {
            if (rc != RAG_ERR_IO) break;
            rc = 0; /* PostgreSQL away for a while: keep waiting */
        }
        int64_t total = last - first + 1, done = q.done + q.failed;
        cli_bar_draw(&bar, "jobs", (size_t)done, (size_t)total, 0, 0, rag_now_s() - t0);
        if (done >= total) break;
        usleep(200000);
    }
    cli_bar_clear(&bar);
    if (rc) {
        clu_queue_stats_free(&q);
        return cli_fail(cli, &err);
    }
    if (cli->json) {
        cJSON *j = stats_json(&q);
        cJSON_AddNumberToObject(j, "seconds", rag_now_s() - t0);
        cJSON_AddBoolToObject(j, "interrupted", stop != 0);
        cli_print_json(j);
    } else {
        printf("ingest: %lld jobs in %.1f s:", (long long)(q.done + q.failed), rag_now_s() - t0);
        print_outcomes(&q);
        printf("%s\n", stop ? " (stopped waiting; the jobs go on)" : "");
    }
    int failed = q.failed > 0 || n_failed;
    clu_queue_stats_free(&q);
    /* this machine's replica shows the new documents now */
    if (!stop) cli_cluster_follow(cli);
    return stop ? CLI_EXIT_INTERRUPTED : failed ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
}
