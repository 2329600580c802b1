/* cli/worker.c: `rag worker`, an ingest worker of a cluster.
 *
 * Claims jobs from the cluster's queue one at a time (cluster/jobs.c),
 * runs the ingest pipeline on each into a private staging SQLite database,
 * and publishes the document to the cluster in one transaction that also
 * ends the job (cluster/publish.c). A second connection renews the job's
 * lease while it runs. An unchanged file (same size and mtime, or the same
 * content) is not published again. A file that cannot be read or parsed
 * ends its job failed with the reason (it would fail again); a lost
 * connection leaves the job to its lease and the worker waits for
 * PostgreSQL to come back. */
#include "cli/cluster_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: rag worker [options]\n"
    "\n"
    "Processes the ingest queue of a cluster (--db postgresql://...): claims a\n"
    "job, extracts, chunks and embeds its document, and commits it to the\n"
    "cluster in one transaction. Run any number, on any machines; each file a\n"
    "job names must be readable where a worker runs (the same path), unless it\n"
    "was queued with its bytes (rag ingest --upload).\n"
    "\n"
    "  --once              exit when the queue is empty (default: wait for jobs)\n"
    "  --name NAME         this worker's name in 'rag jobs' (default host:pid)\n"
    "  --lease SECS        a job's lease (default 120; cluster.lease)\n"
    "  --embed-model FILE|URL\n"
    "                      the embedding model (must be the cluster's)\n"
    "  --threads N         compute threads of the embedding model (default: every\n"
    "                      CPU; model.threads). Several workers on one machine:\n"
    "                      their threads together at most the CPUs\n"
    "  --db URL, --config FILE, --json, -q\n"
    "\n"
    "SIGTERM or Ctrl-C: the current job is finished first, then the worker exits.\n";

static volatile sig_atomic_t stop;
static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- the lease keeper: a thread with its own connection ------------------------------ */
typedef struct keeper {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    clu *c;
    const clu_job *job; /* NULL: idle */
    int lease_s, quit;
} keeper;

static void *keeper_main(void *arg)
{
    keeper *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += k->lease_s / 3 > 0 ? k->lease_s / 3 : 1;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
        if (k->quit || !k->job) continue;
        rag_err err = {0};
        if (clu_job_renew(k->c, k->job, k->lease_s, &err))
            rag_log(RAG_LOG_WARN, "rag worker: renewing the lease: %s", err.msg);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static void keeper_set(keeper *k, const clu_job *j)
{
    pthread_mutex_lock(&k->mu);
    k->job = j;
    pthread_mutex_unlock(&k->mu);
}

/* ---- one job ------------------------------------------------------------------------- */
typedef struct outcome {
    ing_status st;
    char *reason;
} outcome;

static void on_file(void *ctx, const char *path, ing_status st, const char *reason)
{
    outcome *o = ctx;
    (void)path;
    if (st == ING_FAILED || st == ING_SKIPPED || !o->reason) {
        o->st = st;
        rag_free(o->reason);
        o->reason = reason ? rag_xstrdup(reason) : NULL;
    }
}

typedef struct worker {
    cli_ctx *cli;
    store *staging;
    emb_model *embedder;
    rag_strv defaults_sv;
    size_t jobs, failed;
} worker;

/* Labels of the job's document: the job's, else the known document's,
 * else the job's defaults. */
static const char *job_labels(const clu_job *j, const clu_doc *known, int found)
{
    if (j->labels) return j->labels;
    if (found) return known->labels;
    return j->default_labels ? j->default_labels : "";
}

static int run_job(worker *w, clu *c, const clu_job *j, const char **said, int64_t *doc_id,
                   rag_err *err)
{
    clu_doc known;
    int found = clu_doc_find(c, j->source, &known, err);
    if (found < 0) return found;
    const char *labels = job_labels(j, &known, found);
    int rc = 0;
    *said = NULL;
    if (j->kind == CLU_JOB_PATH && found) {
        struct stat sb;
        if (stat(j->source, &sb) == 0 && (int64_t)sb.st_size == known.size &&
            (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec == known.mtime_ns &&
            (!j->ext_id || (known.ext_id && !strcmp(known.ext_id, j->ext_id)))) {
            int relabel = strcmp(labels, known.labels) != 0;
            if (relabel) rc = clu_doc_touch(c, known.id, known.mtime_ns, labels, err);
            if (!rc) rc = clu_job_end(c, j, relabel ? "updated" : "unchanged", NULL, known.id, err);
            *said = relabel ? "updated" : "unchanged";
            clu_doc_free(&known);
            return rc;
        }
    }
    /* the pipeline, into the staging database */
    rag_strv lab = {0};
    rc = rag_labels_parse(labels, "labels", &lab, err);
    ing_params p;
    ing_default_params(&p);
    const rag_settings *set = &w->cli->set;
    p.labels = &lab;
    p.max_file_size = set->ingest.max_size;
    p.chunk_tokens = (size_t)set->ingest.chunk_tokens;
    p.overlap_tokens = (size_t)set->ingest.overlap_tokens;
    p.include_hidden = 1; /* the enqueuer chose the files */
    p.ocr_mode = ing_ocr_mode_of(set->ingest.ocr);
    p.ocr_languages = set->ingest.ocr_languages;
    p.ocr_cpu_s = (unsigned)set->ingest.ocr_cpu_limit;
    p.threads = (int)set->ingest.threads;
    p.ext_id = j->ext_id;
    p.embedder = w->embedder;
    p.fetch_timeout = set->ingest.fetch_timeout;
    outcome o = {ING_ADDED, NULL};
    p.on_file = on_file;
    p.ctx = &o;
    ing_report rep;
    if (!rc) {
        if (j->kind == CLU_JOB_PATH) {
            const char *paths[] = {j->source};
            rc = ing_run(w->staging, paths, 1, &p, &rep, err);
        } else {
            rag_buf body = {0};
            char *ctype = NULL;
            const rag_buf *b = &j->bytes;
            const char *ct = j->content_type;
            if (j->kind == CLU_JOB_URL) {
                rag_err ferr = {0};
                if (ing_fetch_page(j->source, &p, &body, &ctype, &ferr)) {
                    o.st = ING_FAILED;
                    o.reason = rag_xstrdup(ferr.msg);
                } else {
                    b = &body, ct = ctype;
                }
            }
            if (o.st != ING_FAILED)
                rc = j->kind == CLU_JOB_BYTES && !ct
                         ? ing_run_bytes(w->staging, j->source, b, &p, &rep, err)
                         : ing_run_page(w->staging, j->source, b, ct, &p, &rep, err);
            rag_buf_free(&body);
            rag_free(ctype);
        }
    }
    rag_strv_free(&lab);
    if (!rc && (o.st == ING_FAILED || o.st == ING_SKIPPED)) {
        *said = o.st == ING_FAILED ? "failed" : "skipped";
        rc = clu_job_end(c, j, *said, o.reason ? o.reason : "", 0, err);
        if (o.st == ING_FAILED) w->failed++;
    } else if (!rc) {
        store_doc sd;
        int has = store_doc_get_by_uri(w->staging, j->source, &sd, err);
        if (has < 0) rc = has;
        if (has == 0)
            rc = rag_err_set(err, RAG_ERR_NOTFOUND, "%s: the pipeline stored no document",
                             j->source);
        if (has > 0 && found && !strcmp(sd.content_hash, known.content_hash) &&
            !strcmp(labels, known.labels) &&
            (!j->ext_id || (known.ext_id && !strcmp(known.ext_id, j->ext_id)))) {
            /* same content: a new mtime only */
            rc = clu_doc_touch(c, known.id, sd.mtime_ns, NULL, err);
            if (!rc) rc = clu_job_end(c, j, "unchanged", NULL, known.id, err);
            *said = "unchanged";
        } else if (has > 0) {
            rc = clu_publish(c, w->staging, j->source, j->id, j->lease_token, NULL, doc_id, err);
            *said = found ? "updated" : "added";
        }
        /* the staging database keeps nothing */
        if (has > 0) {
            rag_err e2 = {0};
            if (store_begin(w->staging, &e2) || store_doc_delete(w->staging, sd.id, &e2) ||
                store_commit(w->staging, &e2))
                store_rollback(w->staging);
            store_doc_free(&sd);
        }
    }
    rag_free(o.reason);
    if (found) clu_doc_free(&known);
    return rc;
}

static char *staging_path(void)
{
    const char *tmp = getenv("TMPDIR");
    return rag_xasprintf("%s/rag-worker-%ld.staging.db", tmp && *tmp ? tmp : "/tmp",
                         (long)getpid());
}

static void staging_remove(const char *path)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char *p = rag_xasprintf("%s%s", path, suffix[i]);
        unlink(p);
        rag_free(p);
    }
    char *v = rag_xasprintf("%s.vectors", path);
    rmdir(v); /* empty: the staging database never builds vector indexes */
    rag_free(v);
}

int cli_worker(int argc, char **argv)
{
    enum { O_ONCE = 1000, O_NAME, O_LEASE, O_EMBED, O_THREADS };
    static const struct option opts[] = {{"once", no_argument, NULL, O_ONCE},
                                         {"name", required_argument, NULL, O_NAME},
                                         {"lease", required_argument, NULL, O_LEASE},
                                         {"embed-model", required_argument, NULL, O_EMBED},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "worker"};
    int once = 0, c, rc;
    const char *name_flag = NULL;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case O_ONCE:
            once = 1;
            break;
        case O_NAME:
            name_flag = optarg;
            break;
        case O_LEASE:
            cli_flag(&cli, "cluster.lease", optarg, "--lease");
            break;
        case O_EMBED:
            cli_flag(&cli, "embed.model", optarg, "--embed-model");
            break;
        case O_THREADS:
            cli_flag(&cli, "model.threads", optarg, "--threads");
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_setup(&cli, CLI_DB_NONE))) goto out_early;
    if (!clu_is_url(cli.set.db)) {
        rc = cli_usage_error(&cli, "the database is not a cluster: give --db postgresql://...");
        goto out_early;
    }
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    char *name = name_flag ? rag_xstrdup(name_flag) : rag_xasprintf("%s:%ld", host, (long)getpid());
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);

    /* the cluster, waited for when it is not up yet */
    rag_err err = {0};
    clu_params cp;
    clu_default_params(&cp);
    cp.statement_timeout_s = (int)cli.set.cluster.statement_timeout;
    clu *db = NULL;
    keeper k = {.lease_s = (int)cli.set.cluster.lease};
    worker w = {.cli = &cli};
    char *spath = staging_path();
    int said_waiting = 0;
    rc = CLI_EXIT_OK;
    for (double delay = 0.25; !stop;) {
        if (!clu_open(cli.set.db, &cp, &db, &err)) break;
        if (err.code != RAG_ERR_IO || once) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        if (!said_waiting++ && !cli.quiet)
            fprintf(stderr, "rag worker: %s; waiting for it\n", err.msg);
        usleep((useconds_t)(delay * 1e6));
        delay = delay * 2 > 5 ? 5 : delay * 2;
    }
    if (stop) goto out;
    if (clu_open(cli.set.db, &cp, &k.c, &err)) {
        rc = cli_fail(&cli, &err);
        goto out;
    }
    if ((rc = cli_open_embedder(&cli, 0, &w.embedder))) goto out;
    staging_remove(spath);
    if (store_open(spath, NULL, &w.staging, &err)) {
        rc = cli_fail(&cli, &err);
        goto out;
    }
    pthread_mutex_init(&k.mu, NULL);
    pthread_cond_init(&k.cv, NULL);
    pthread_create(&k.th, NULL, keeper_main, &k);
    if (!cli.quiet)
        fprintf(stderr, "rag worker %s: processing the queue of %s%s\n", name, clu_name(db),
                once ? " until it is empty" : "");
    double idle_since = rag_now_s();
    int down = 0; /* claims failing since: said once */
    while (!stop) {
        clu_job j;
        rag_err e = {0};
        int got = clu_job_claim(db, name, k.lease_s, &j, &e);
        if (got < 0) {
            if (e.code != RAG_ERR_IO) {
                rc = cli_fail(&cli, &e);
                break;
            }
            if (!down++) fprintf(stderr, "rag worker %s: %s; retrying\n", name, e.msg);
            usleep(500000);
            continue;
        }
        if (down) fprintf(stderr, "rag worker %s: connected again\n", name);
        down = 0;
        if (got == 0) {
            if (once) break;
            usleep(rag_now_s() - idle_since < 5 ? 100000 : 500000);
            continue;
        }
        keeper_set(&k, &j);
        double t0 = rag_now_s();
        const char *said = NULL;
        int64_t doc_id = 0;
        int jr = run_job(&w, db, &j, &said, &doc_id, &e);
        keeper_set(&k, NULL);
        w.jobs++;
        char safe[4096];
        if (jr == RAG_ERR_IO) {
            /* PostgreSQL went away mid-job: once it is back, the job goes
             * back to the queue (this attempt not counted); if the lease ran
             * out meanwhile, another worker has it already */
            fprintf(stderr, "rag worker %s: job %lld (%s): %s; it goes back to the queue\n", name,
                    (long long)j.id, cli_safe(j.source, safe, sizeof safe), e.msg);
            for (double delay = 0.25; !stop; delay = delay * 2 > 5 ? 5 : delay * 2) {
                rag_err e3 = {0};
                if (clu_job_release(db, &j, &e3) != RAG_ERR_IO) break;
                usleep((useconds_t)(delay * 1e6));
            }
        } else if (jr) {
            fprintf(stderr, "rag worker %s: job %lld (%s): %s\n", name, (long long)j.id,
                    cli_safe(j.source, safe, sizeof safe), e.msg);
            if (e.code != RAG_ERR_BUSY) { /* BUSY: the lease is another worker's now */
                rag_err e3 = {0};
                clu_job_end(db, &j, "failed", e.msg, 0, &e3);
                w.failed++;
            }
        } else if (!cli.quiet) {
            fprintf(stderr, "rag worker %s: job %lld %s: %s (%.2f s)\n", name, (long long)j.id,
                    cli_safe(j.source, safe, sizeof safe), said ? said : "done", rag_now_s() - t0);
        }
        clu_job_free(&j);
        idle_since = rag_now_s();
    }
    pthread_mutex_lock(&k.mu);
    k.quit = 1;
    pthread_cond_signal(&k.cv);
    pthread_mutex_unlock(&k.mu);
    pthread_join(k.th, NULL);
    if (cli.json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "worker", name);
        cJSON_AddNumberToObject(o, "jobs", (double)w.jobs);
        cJSON_AddNumberToObject(o, "failed", (double)w.failed);
        cli_print_json(o);
    } else if (!cli.quiet) {
        fprintf(stderr, "rag worker %s: %zu jobs, %zu failed\n", name, w.jobs, w.failed);
    }
out:
    store_close(w.staging);
    staging_remove(spath);
    rag_free(spath);
    emb_model_close(w.embedder);
    clu_close(k.c);
    clu_close(db);
    rag_free(name);
out_early:
    cli_teardown(&cli);
    return rc;
}
