/* ragd/daemon.c: ragd's main (also `rag serve`): the configuration, the
 * engine and the server, and the signals.
 *
 * Settings come from flags, then the environment, then the config file
 * (etc/ragd.conf documents every key), then defaults. The config file is
 * --config, else $RAGD_CONFIG, else $XDG_CONFIG_HOME/rag/ragd.conf when it
 * exists. Every value is checked at start: a bad one stops ragd with the
 * file and line, rather than failing the first request that needs it.
 *
 * Signals: SIGHUP reloads the API keys; SIGTERM and SIGINT stop gracefully
 * (see ragd_server_stop), and a second one stops at once. Their handlers
 * only note the signal and wake the main thread through a pipe, so that
 * whichever thread the kernel picks (threads that libraries start before
 * main cannot be made to block them) nothing but the main loop acts on it,
 * however often they come. Threads that ragd starts block them. */
#include "ragd/daemon.h"
#include "rag/converse.h"
#include "base/config.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "ingest/ingest.h"
#include "base/time.h"
#include "rag/settings.h"
#include "ragd/http.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RAG_VERSION
#define RAG_VERSION "0.1.0"
#endif

static const char usage[] =
    "usage: ragd [--config FILE] [--db PATH|URL] [--replica PATH] [--listen ADDR:PORT]\n"
    "            [--model GGUF] [--embed-model GGUF] [--rerank-model GGUF] [--slots N]\n"
    "            [--threads N]\n"
    "\n"
    "The query daemon: answers questions over HTTP (an OpenAI-compatible API\n"
    "and a chat page at /) from the documents each API key may see.\n"
    "\n"
    "  --config FILE        settings (default $RAGD_CONFIG, else\n"
    "                       $XDG_CONFIG_HOME/rag/ragd.conf when it exists)\n"
    "  --db PATH            the database (default $RAG_DB, then db, then\n"
    "                       ~/.local/share/rag/rag.db); a PostgreSQL URL makes this\n"
    "                       ragd a node of that cluster (README: Running on several\n"
    "                       machines)\n"
    "  --replica PATH       a node's replica of the cluster ($RAG_REPLICA,\n"
    "                       cluster.replica; default replica.db beside rag.db)\n"
    "  --listen ADDR:PORT   where to listen (default $RAGD_LISTEN, then\n"
    "                       server.listen, then 127.0.0.1:8080; port 0: any free)\n"
    "  --model GGUF         the generator (default $RAG_MODEL, then model.path;\n"
    "                       without one, answers are extractive). A server instead:\n"
    "                       an http(s) URL ending in /v1 here, $RAG_MODEL_URL or\n"
    "                       model.url, with model.remote_model (see etc/ragd.conf)\n"
    "  --embed-model GGUF   the embedding model ($RAG_EMBED_MODEL, embed.model; or a\n"
    "                       server: a URL, $RAG_EMBED_URL, embed.url)\n"
    "  --rerank-model GGUF  the reranker ($RAG_RERANK_MODEL, rerank.model)\n"
    "  --slots N            answers generated at once (model.slots, default 4)\n"
    "  --threads N          compute threads per model (model.threads, default all CPUs)\n"
    "  --print-config       print every setting, its value and where it came from\n"
    "\n"
    "API keys: 'rag keys add NAME --roles ROLE,...'. SIGHUP reloads them;\n"
    "SIGTERM stops after the requests in flight (server.shutdown_grace).\n";

/* The flags that set settings (rag/settings.c has the rest). */
typedef struct options {
    const char *config;
    int print; /* --print-config */
    rag_setting_flag flags[12];
    size_t n_flags;
} options;

static void flag(options *o, const char *key, const char *value, const char *name)
{
    if (o->n_flags < sizeof o->flags / sizeof *o->flags)
        o->flags[o->n_flags++] = (rag_setting_flag){key, value, name};
}

/* The server's limits and defaults from the settings, resolved already. */
static int server_settings(const rag_settings *s, ragd_server_params *sp, rag_strv *default_labels)
{
    sp->listen = s->server.listen;
    sp->max_body = s->server.max_body;
    sp->max_upload = s->server.max_upload;
    sp->max_header = s->server.max_header;
    sp->max_json_depth = (int)s->server.max_json_depth;
    sp->max_connections = (int)s->server.max_connections;
    sp->max_connections_per_address = (int)s->server.max_connections_per_address;
    sp->reserved_connections = (int)s->server.reserved_connections;
    sp->header_timeout = (int)s->server.header_timeout;
    sp->idle_timeout = (int)s->server.idle_timeout;
    sp->request_timeout = (int)s->server.request_timeout;
    sp->shutdown_grace = (int)s->server.shutdown_grace;
    sp->max_tokens = (int)s->server.max_tokens;
    sp->default_max_tokens = (int)s->model.max_tokens;
    sp->default_top_p = s->model.top_p;
    sp->reasoning = s->model.reasoning;
    sp->answer_per_document = s->search.answer_per_document;
    sp->public_metrics = s->server.public_metrics;
    /* retrieval as rag search and rag ask do it */
    sp->search_mode = s->search.mode && strcmp(s->search.mode, "hybrid") ? s->search.mode : NULL;
    rag_retrieve_settings(s, sp->search_mode, &sp->retrieval);
    sp->search_rerank = s->search.rerank;
    sp->search_k = (int)s->search.k;
    sp->answer_k = (int)s->search.answer_k;
    rag_cutoff_settings(s, &sp->cutoff);
    sp->followup = (int)rag_followup_mode_of(s->answer.followup);
    sp->chunk_tokens = (size_t)s->ingest.chunk_tokens;
    sp->overlap_tokens = (size_t)s->ingest.overlap_tokens;
    sp->fetch_policy.allow_private = s->net.allow_private;
    sp->fetch_policy.allow = s->net.allow;
    sp->fetch_timeout = s->ingest.fetch_timeout;
    sp->ocr_mode = ing_ocr_mode_of(s->ingest.ocr);
    sp->ocr_languages = s->ingest.ocr_languages;
    sp->ocr_cpu_s = (unsigned)s->ingest.ocr_cpu_limit;
    if (s->acl.default_labels) {
        rag_err err = {0};
        if (rag_labels_parse(s->acl.default_labels, rag_settings_where(s, "acl.default_labels"),
                             default_labels, &err)) {
            fprintf(stderr, "ragd: %s\n", err.msg);
            return -1;
        }
        sp->default_labels = default_labels;
    }
    return 0;
}

/* The engine's sizes from the settings. */
static void engine_settings(const rag_settings *s, ragd_engine_params *ep)
{
    ep->settings = s;
    ep->slots = (int)s->model.slots;
    ep->queue = (int)s->model.queue;
    ep->n_threads = (int)s->model.threads;
    ep->db_connections = (int)s->server.db_connections;
    ep->answers_keep_days = s->feedback.keep_days;
    ep->answers_max = s->feedback.max_answers;
    ep->vindex.ef_search = (int)s->vector.ef_search;
    ep->vindex.large_group = s->vector.large_group;
    if (s->vector.large_factory) ep->vindex.large_factory = s->vector.large_factory;
}

/* "name", "name (remote URL)" or, without a model, none. */
static void describe_model(char *buf, size_t n, const char *name, const char *url, const char *none)
{
    if (!name)
        snprintf(buf, n, "%s", none);
    else if (url)
        snprintf(buf, n, "%s (remote %s)", name, url);
    else
        snprintf(buf, n, "%s", name);
}

static char *config_path(const options *o, int *optional)
{
    *optional = 0;
    if (o->config) return rag_xstrdup(o->config);
    const char *env = getenv("RAGD_CONFIG");
    if (env && *env) return rag_xstrdup(env);
    *optional = 1;
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) return rag_xasprintf("%s/rag/ragd.conf", xdg);
    return rag_xasprintf("%s/.config/rag/ragd.conf", home ? home : ".");
}

/* ---- signals ------------------------------------------------------------------ */

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_hup, sig_stop;

/* Any thread may run this: it notes the signal and wakes the main loop. A
 * second SIGTERM or SIGINT stops at once (the default action). */
static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        sig_hup = 1;
    } else if (sig_stop++) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    char c = 0;
    if (write(sig_pipe[1], &c, 1) < 0) { /* full: the main loop is awake anyway */
    }
    errno = saved;
}

static int signals_install(sigset_t *sigs)
{
    if (pipe(sig_pipe)) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
    }
    sigemptyset(sigs);
    sigaddset(sigs, SIGTERM);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGHUP);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sa.sa_mask = *sigs; /* one handler at a time per thread */
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
        sigaction(SIGHUP, &sa, NULL))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Waits for a signal's note (the main thread, signals unblocked). */
static void signals_wait(void)
{
    struct pollfd pf = {.fd = sig_pipe[0], .events = POLLIN};
    if (!sig_hup && !sig_stop) poll(&pf, 1, 1000);
    char buf[256];
    while (read(sig_pipe[0], buf, sizeof buf) > 0) {
    }
}

static int parse_flags(int argc, char **argv, options *o)
{
    enum { O_MODEL = 1000, O_EMODEL, O_RMODEL, O_LISTEN, O_SLOTS, O_THREADS, O_VERSION, O_PRINT };
    static const struct option opts[] = {{"config", required_argument, NULL, 'C'},
                                         {"db", required_argument, NULL, 'D'},
                                         {"replica", required_argument, NULL, 'R'},
                                         {"listen", required_argument, NULL, O_LISTEN},
                                         {"model", required_argument, NULL, O_MODEL},
                                         {"embed-model", required_argument, NULL, O_EMODEL},
                                         {"rerank-model", required_argument, NULL, O_RMODEL},
                                         {"slots", required_argument, NULL, O_SLOTS},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"version", no_argument, NULL, O_VERSION},
                                         {"print-config", no_argument, NULL, O_PRINT},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'C':
            o->config = optarg;
            break;
        case 'D':
            flag(o, "db", optarg, "--db");
            break;
        case 'R':
            flag(o, "cluster.replica", optarg, "--replica");
            break;
        case O_LISTEN:
            flag(o, "server.listen", optarg, "--listen");
            break;
        case O_MODEL:
            flag(o, "model.path", optarg, "--model");
            break;
        case O_EMODEL:
            flag(o, "embed.model", optarg, "--embed-model");
            break;
        case O_RMODEL:
            flag(o, "rerank.model", optarg, "--rerank-model");
            break;
        case O_SLOTS:
            flag(o, "model.slots", optarg, "--slots");
            break;
        case O_THREADS:
            flag(o, "model.threads", optarg, "--threads");
            break;
        case O_PRINT:
            o->print = 1;
            break;
        case O_VERSION:
            printf("ragd %s\n", RAG_VERSION);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fprintf(stderr, "ragd: unknown option (see ragd --help)\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ragd: unexpected argument '%s' (see ragd --help)\n", argv[optind]);
        return 2;
    }
    return -1;
}

int ragd_main(int argc, char **argv)
{
    options o = {0};
    int rc = parse_flags(argc, argv, &o);
    if (rc >= 0) return rc;
    int optional;
    char *cpath = config_path(&o, &optional);
    rag_config *cfg = NULL;
    rag_err err = {0};
    if (rag_config_load(cpath, optional, &cfg, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        rag_free(cpath);
        rag_config_free(cfg);
        return 2;
    }
    rag_free(cpath);
    rag_settings set;
    rc = rag_settings_resolve(&set, RAG_PROG_RAGD, cfg, o.flags, o.n_flags, &err);
    rag_config_free(cfg);
    if (rc) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        rag_settings_free(&set);
        return 2;
    }
    if (o.print) {
        rag_settings_print(&set, stdout, 0);
        rag_settings_free(&set);
        return 0;
    }
    ragd_engine_params ep;
    ragd_engine_default_params(&ep);
    ragd_server_params sp;
    ragd_server_default_params(&sp);
    rag_strv default_labels = {0};
    char *db = NULL, *uploads = NULL, *shown_db = NULL;
    ragd_engine *engine = NULL;
    ragd_meter *meter = NULL;
    ragd_server *srv = NULL;
    rc = 2;
    engine_settings(&set, &ep);
    if (server_settings(&set, &sp, &default_labels)) goto out;
    ragd_replica_params rp = {0};
    if (clu_is_url(set.db)) {
        /* cluster mode: the node serves its replica (ragd/replica.h) */
        db = set.cluster.replica ? rag_xstrdup(set.cluster.replica) : clu_replica_default_path();
        char *dir = rag_xstrdup(db), *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            if (rag_mkdir_p(dir, &err)) {
                fprintf(stderr, "ragd: replica folder: %s\n", err.msg);
                rag_free(dir);
                goto out;
            }
        }
        rag_free(dir);
        rp.url = set.db;
        rp.path = db;
        rp.poll = set.cluster.poll;
        rp.max_lag = set.cluster.max_lag;
        rp.statement_timeout_s = (int)set.cluster.statement_timeout;
        ep.cluster = &rp;
        char *u = clu_redact(set.db);
        shown_db = rag_xasprintf("%s (replica %s)", u, db);
        rag_free(u);
    } else {
        db = set.db ? rag_xstrdup(set.db) : store_default_path();
    }
    ep.db_path = db;
    const char *up = set.server.uploads_dir;
    uploads = up ? rag_xstrdup(up) : rag_xasprintf("%s.uploads", db);
    /* documents are known by their absolute, resolved path */
    if (rag_mkdir_p(uploads, &err)) {
        fprintf(stderr, "ragd: uploads directory: %s\n", err.msg);
        goto out;
    }
    char *real = realpath(uploads, NULL);
    if (real) {
        rag_free(uploads);
        uploads = rag_xstrdup(real);
        free(real);
    }
    sp.uploads_dir = uploads;

    /* Handlers first (threads started before main take signals too), then
     * blocked here so that the threads ragd starts inherit the block; the
     * main thread takes them again once everything runs. */
    sigset_t sigs;
    if (signals_install(&sigs)) {
        fprintf(stderr, "ragd: cannot install the signal handlers\n");
        goto out;
    }
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rc = 1;
    double t0 = rag_now_s();
    if (ragd_engine_open(&ep, &engine, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        goto out;
    }
    const ragd_engine_info *in = ragd_engine_get_info(engine);
    char gen[512], emb[512];
    describe_model(gen, sizeof gen, in->model_name, in->model_url, "none (extractive answers)");
    describe_model(emb, sizeof emb, in->embed_name, in->embed_url, "none (keyword search)");
    fprintf(stderr,
            "ragd: database %s; generator %s; embeddings %s; reranker %s (loaded in %.1f s)\n",
            shown_db ? shown_db : db, gen, emb, in->rerank_name ? in->rerank_name : "none",
            rag_now_s() - t0);
    meter = ragd_meter_new();
    char bound[64];
    if (ragd_server_start(&sp, engine, meter, &srv, bound, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr, "ragd: listening on %s\n", bound);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    while (!sig_stop) {
        signals_wait();
        if (sig_hup && !sig_stop) {
            /* SIGHUPs that come while reloading make one more reload */
            sig_hup = 0;
            size_t n = 0;
            if (ragd_server_reload_keys(srv, &n, &err))
                fprintf(stderr, "ragd: reloading the keys: %s\n", err.msg);
            else
                fprintf(stderr, "ragd: reloaded %zu API key%s\n", n, n == 1 ? "" : "s");
        }
    }
    /* A second SIGTERM or SIGINT while draining stops at once (on_signal);
     * SIGHUP is noted and ignored. */
    fprintf(stderr, "ragd: stopping (in-flight requests get %d s)\n", sp.shutdown_grace);
    ragd_server_stop(srv);
    srv = NULL;
    if (ragd_engine_persist(engine, &err))
        fprintf(stderr, "ragd: saving the vector indexes: %s\n", err.msg);
    fprintf(stderr, "ragd: stopped\n");
    rc = 0;
out:
    ragd_server_stop(srv);
    ragd_engine_close(engine);
    ragd_meter_free(meter);
    rag_strv_free(&default_labels);
    rag_free(db);
    rag_free(shown_db);
    rag_free(uploads);
    rag_settings_free(&set);
    return rc;
}
