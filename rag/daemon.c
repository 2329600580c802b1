/* rag/daemon.c: ragd's main (also `rag serve`): the configuration, the
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
#include "rag/daemon.h"
#include "base/config.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "rag/http.h"

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
    "usage: ragd [--config FILE] [--db PATH] [--listen ADDR:PORT] [--model GGUF]\n"
    "            [--embed-model GGUF] [--rerank-model GGUF] [--slots N] [--threads N]\n"
    "\n"
    "The query daemon: answers questions over HTTP (an OpenAI-compatible API\n"
    "and a chat page at /) from the documents each API key may see.\n"
    "\n"
    "  --config FILE        settings (default $RAGD_CONFIG, else\n"
    "                       $XDG_CONFIG_HOME/rag/ragd.conf when it exists)\n"
    "  --db PATH            the database (default $RAG_DB, then db, then\n"
    "                       ~/.local/share/rag/rag.db)\n"
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
    "\n"
    "API keys: 'rag keys add NAME --roles ROLE,...'. SIGHUP reloads them;\n"
    "SIGTERM stops after the requests in flight (server.shutdown_grace).\n";

static const char *const known_keys[] = {"db",
                                         "server.listen",
                                         "server.max_body",
                                         "server.max_upload",
                                         "server.max_header",
                                         "server.max_json_depth",
                                         "server.max_connections",
                                         "server.idle_timeout",
                                         "server.max_connections_per_address",
                                         "server.reserved_connections",
                                         "server.header_timeout",
                                         "server.request_timeout",
                                         "server.shutdown_grace",
                                         "server.max_tokens",
                                         "server.default_max_tokens",
                                         "server.public_metrics",
                                         "server.uploads_dir",
                                         "server.db_connections",
                                         "model.path",
                                         "model.ctx",
                                         "model.chat_template",
                                         "model.slots",
                                         "model.queue",
                                         "model.threads",
                                         "model.url",
                                         "model.remote_model",
                                         "model.api_key",
                                         "model.remote_ctx",
                                         "model.timeout",
                                         "model.retries",
                                         "embed.model",
                                         "embed.query_prefix",
                                         "embed.doc_prefix",
                                         "embed.url",
                                         "embed.remote_model",
                                         "embed.api_key",
                                         "embed.remote_ctx",
                                         "embed.timeout",
                                         "embed.retries",
                                         "rerank.model",
                                         "search.k",
                                         "search.answer_k",
                                         "search.mode",
                                         "search.candidates",
                                         "search.rrf_k",
                                         "search.dedupe",
                                         "search.dup_similarity",
                                         "search.rerank",
                                         "vector.large_group",
                                         "vector.large_factory",
                                         "vector.ef_search",
                                         "acl.default_labels",
                                         "ingest.chunk_tokens",
                                         "ingest.overlap_tokens",
                                         "ingest.fetch_timeout",
                                         "net.allow_private",
                                         "net.allow",
                                         NULL};

typedef struct options {
    const char *config, *db, *listen, *model, *embed_model, *rerank_model;
    long slots, threads;
} options;

static const char *pick(const char *flag, const char *env, const rag_config *cfg, const char *key)
{
    if (flag) return flag;
    const char *e = env ? getenv(env) : NULL;
    if (e && *e) return e;
    return rag_config_get(cfg, key);
}

/* An integer setting in [lo, hi]; -1 after reporting a bad one. */
static int get_long(const rag_config *cfg, const char *key, long lo, long hi, long *out)
{
    const char *v = rag_config_get(cfg, key);
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "ragd: %s: %s: expected an integer from %ld to %ld, not '%s'\n",
                rag_config_where(cfg, key), key, lo, hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int get_size(const rag_config *cfg, const char *key, size_t *out)
{
    rag_err err = {0};
    if (rag_config_get_size(cfg, key, out, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int get_bool(const rag_config *cfg, const char *key, int *out)
{
    rag_err err = {0};
    if (rag_config_get_bool(cfg, key, out, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Reads [server], [search], [acl] and [ingest] into sp. */
static int server_settings(const rag_config *cfg, ragd_server_params *sp, rag_strv *default_labels)
{
    long v;
    int rc = 0;
#define LONG_INTO(key, lo, hi, field)                                                              \
    do {                                                                                           \
        v = (long)(field);                                                                         \
        if (get_long(cfg, key, lo, hi, &v))                                                        \
            rc = -1;                                                                               \
        else                                                                                       \
            (field) = (int)v;                                                                      \
    } while (0)
    LONG_INTO("server.max_json_depth", 2, 1000, sp->max_json_depth);
    LONG_INTO("server.max_connections", 1, 100000, sp->max_connections);
    LONG_INTO("server.max_connections_per_address", 1, 100000, sp->max_connections_per_address);
    LONG_INTO("server.reserved_connections", 0, 100000, sp->reserved_connections);
    LONG_INTO("server.header_timeout", 1, 3600, sp->header_timeout);
    LONG_INTO("server.idle_timeout", 1, 86400, sp->idle_timeout);
    LONG_INTO("server.request_timeout", 1, 86400, sp->request_timeout);
    LONG_INTO("server.shutdown_grace", 0, 3600, sp->shutdown_grace);
    LONG_INTO("server.max_tokens", 1, 1 << 20, sp->max_tokens);
    LONG_INTO("server.default_max_tokens", 1, 1 << 20, sp->default_max_tokens);
    LONG_INTO("search.k", 1, 100, sp->search_k);
    LONG_INTO("search.answer_k", 1, 50, sp->answer_k);
    LONG_INTO("search.rrf_k", 1, 100000, sp->retrieval.rrf_k);
#undef LONG_INTO
    if (sp->default_max_tokens > sp->max_tokens) sp->default_max_tokens = sp->max_tokens;
    if (!rc && sp->reserved_connections >= sp->max_connections) {
        fprintf(stderr,
                "ragd: server.reserved_connections (%d) must be less than server.max_connections "
                "(%d)\n",
                sp->reserved_connections, sp->max_connections);
        rc = -1;
    }
    if (get_size(cfg, "server.max_body", &sp->max_body) ||
        get_size(cfg, "server.max_upload", &sp->max_upload) ||
        get_size(cfg, "server.max_header", &sp->max_header) ||
        get_bool(cfg, "server.public_metrics", &sp->public_metrics) ||
        get_size(cfg, "search.candidates", &sp->retrieval.candidates) ||
        get_bool(cfg, "search.dedupe", &sp->retrieval.dedupe) ||
        get_bool(cfg, "search.rerank", &sp->search_rerank) ||
        get_size(cfg, "ingest.chunk_tokens", &sp->chunk_tokens) ||
        get_size(cfg, "ingest.overlap_tokens", &sp->overlap_tokens) ||
        get_bool(cfg, "net.allow_private", &sp->fetch_policy.allow_private))
        rc = -1;
    /* uploads by URL: private addresses refused unless [net] allows them */
    sp->fetch_policy.allow = rag_config_get(cfg, "net.allow");
    rag_err nerr = {0};
    if (sp->fetch_policy.allow && net_allow_list_check(sp->fetch_policy.allow, &nerr)) {
        fprintf(stderr, "ragd: %s: %s\n", rag_config_where(cfg, "net.allow"), nerr.msg);
        rc = -1;
    }
    long fetch_timeout = 30;
    if (get_long(cfg, "ingest.fetch_timeout", 1, 3600, &fetch_timeout)) rc = -1;
    sp->fetch_timeout = (double)fetch_timeout;
    const char *mode = rag_config_get(cfg, "search.mode");
    if (mode && strcmp(mode, "keyword") && strcmp(mode, "vector") && strcmp(mode, "hybrid")) {
        fprintf(stderr, "ragd: %s: search.mode '%s' is not keyword, vector or hybrid\n",
                rag_config_where(cfg, "search.mode"), mode);
        rc = -1;
    }
    sp->search_mode = mode && strcmp(mode, "hybrid") ? mode : NULL;
    const char *sim = rag_config_get(cfg, "search.dup_similarity");
    if (sim) {
        char *end;
        double d = strtod(sim, &end);
        if (end == sim || *end || !(d > 0 && d <= 1)) {
            fprintf(stderr, "ragd: %s: search.dup_similarity '%s' is not a number in (0, 1]\n",
                    rag_config_where(cfg, "search.dup_similarity"), sim);
            rc = -1;
        }
        sp->retrieval.dup_jaccard = d;
    }
    const char *labels = rag_config_get(cfg, "acl.default_labels");
    if (labels) {
        rag_err err = {0};
        if (rag_labels_parse(labels, "acl.default_labels", default_labels, &err)) {
            fprintf(stderr, "ragd: %s: %s\n", rag_config_where(cfg, "acl.default_labels"), err.msg);
            rc = -1;
        }
        sp->default_labels = default_labels;
    }
    if (sp->max_body < 1024 || sp->max_upload < 1024 || sp->max_header < 1024) {
        fprintf(stderr, "ragd: server.max_body, max_upload and max_header are at least 1K\n");
        rc = -1;
    }
    return rc;
}

/* Reads [model], [embed] (but where the models are: ragd_backend_read),
 * [vector] and the connection count into ep. */
static int engine_settings(const rag_config *cfg, const options *o, ragd_engine_params *ep)
{
    long v;
    int rc = 0;
    v = ep->n_ctx;
    if (get_long(cfg, "model.ctx", 16, 1 << 20, &v)) rc = -1;
    ep->n_ctx = (int)v;
    v = o->slots > 0 ? o->slots : ep->slots;
    if (!o->slots && get_long(cfg, "model.slots", 1, 64, &v)) rc = -1;
    ep->slots = (int)v;
    v = ep->queue;
    if (get_long(cfg, "model.queue", 0, 100000, &v)) rc = -1;
    ep->queue = (int)v;
    v = o->threads > 0 ? o->threads : 0;
    if (!o->threads && get_long(cfg, "model.threads", 1, 1024, &v)) rc = -1;
    ep->n_threads = (int)v;
    ep->embed.n_threads = (int)v;
    v = ep->db_connections;
    if (get_long(cfg, "server.db_connections", 1, 1024, &v)) rc = -1;
    ep->db_connections = (int)v;
    ep->chat_template = rag_config_get(cfg, "model.chat_template");
    ep->embed.query_prefix = rag_config_get(cfg, "embed.query_prefix");
    ep->embed.doc_prefix = rag_config_get(cfg, "embed.doc_prefix");
    v = (long)ep->vindex.ef_search;
    if (get_long(cfg, "vector.ef_search", 1, 65536, &v)) rc = -1;
    ep->vindex.ef_search = (int)v;
    if (get_size(cfg, "vector.large_group", &ep->vindex.large_group)) rc = -1;
    const char *f = rag_config_get(cfg, "vector.large_factory");
    if (f) ep->vindex.large_factory = f;
    return rc;
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
    enum { O_MODEL = 1000, O_EMODEL, O_RMODEL, O_LISTEN, O_SLOTS, O_THREADS, O_VERSION };
    static const struct option opts[] = {{"config", required_argument, NULL, 'C'},
                                         {"db", required_argument, NULL, 'D'},
                                         {"listen", required_argument, NULL, O_LISTEN},
                                         {"model", required_argument, NULL, O_MODEL},
                                         {"embed-model", required_argument, NULL, O_EMODEL},
                                         {"rerank-model", required_argument, NULL, O_RMODEL},
                                         {"slots", required_argument, NULL, O_SLOTS},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"version", no_argument, NULL, O_VERSION},
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
            o->db = optarg;
            break;
        case O_LISTEN:
            o->listen = optarg;
            break;
        case O_MODEL:
            o->model = optarg;
            break;
        case O_EMODEL:
            o->embed_model = optarg;
            break;
        case O_RMODEL:
            o->rerank_model = optarg;
            break;
        case O_SLOTS:
        case O_THREADS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || n < 1 || n > 1024) {
                fprintf(stderr, "ragd: --%s: '%s' is not a number from 1 to 1024\n",
                        c == O_SLOTS ? "slots" : "threads", optarg);
                return 2;
            }
            *(c == O_SLOTS ? &o->slots : &o->threads) = n;
            break;
        }
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
    if (rag_config_load(cpath, optional, &cfg, &err) ||
        rag_config_check_keys(cfg, known_keys, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        rag_free(cpath);
        rag_config_free(cfg);
        return 2;
    }
    rag_free(cpath);
    ragd_engine_params ep;
    ragd_engine_default_params(&ep);
    ragd_server_params sp;
    ragd_server_default_params(&sp);
    rag_strv default_labels = {0};
    char *db = NULL, *uploads = NULL;
    ragd_engine *engine = NULL;
    ragd_meter *meter = NULL;
    ragd_server *srv = NULL;
    rc = 2;
    if (engine_settings(cfg, &o, &ep) || server_settings(cfg, &sp, &default_labels)) goto out;
    const char *dbv = pick(o.db, "RAG_DB", cfg, "db");
    db = dbv ? rag_xstrdup(dbv) : store_default_path();
    ep.db_path = db;
    /* a file or a server each, read as `rag` reads them */
    if (ragd_backend_read(cfg, "model", o.model, &ep.generator, &err) ||
        ragd_backend_read(cfg, "embed", o.embed_model, &ep.embedder, &err)) {
        fprintf(stderr, "ragd: %s\n", err.msg);
        goto out;
    }
    ep.rerank_model_path = pick(o.rerank_model, "RAG_RERANK_MODEL", cfg, "rerank.model");
    const char *listen = pick(o.listen, "RAGD_LISTEN", cfg, "server.listen");
    if (listen) sp.listen = listen;
    const char *up = rag_config_get(cfg, "server.uploads_dir");
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
            "ragd: database %s; generator %s; embeddings %s; reranker %s (loaded in %.1f s)\n", db,
            gen, emb, in->rerank_name ? in->rerank_name : "none", rag_now_s() - t0);
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
    rag_free(uploads);
    rag_config_free(cfg);
    return rc;
}
