/* cli/reembed.c: `rag reembed`: every chunk embedded with (another)
 * embedding model, resumable, which then becomes the database's model. */
#include "ingest/ingest.h"
#include "cli/cli.h"

#include <signal.h>
#include <unistd.h>

static const char reembed_usage[] =
    "usage: rag reembed [--embed-model FILE|URL] [--db PATH] [--json]\n"
    "\n"
    "Embeds every chunk with the embedding model (default $RAG_EMBED_MODEL, then\n"
    "embed.model in the config) and makes it the database's model; the old\n"
    "model's vectors are dropped when every chunk has a new one. Interrupted\n"
    "or killed, it resumes where it stopped; until it completes, the old\n"
    "vectors stay in use. Also fills in chunks stored without vectors.\n";

static volatile sig_atomic_t reembed_interrupted;

static void on_reembed_sigint(int sig)
{
    (void)sig;
    reembed_interrupted = 1;
    signal(SIGINT, SIG_DFL);
}

static void reembed_progress(void *ctx, const ing_progress *p)
{
    cli_bar_draw(ctx, "chunks", p->files_done, p->files_total, 0, -1, p->seconds);
}

int cli_reembed(int argc, char **argv)
{
    static const struct option opts[] = {
        {"embed-model", required_argument, NULL, 'E'}, CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "reembed"};
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'E':
            cli_flag(&cli, "embed.model", optarg, "--embed-model");
            break;
        case 'h':
            fputs(reembed_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_setup(&cli, 1))) goto out;
    if (cli.cluster) {
        cli_error(&cli, "re-embedding a cluster is not supported yet: its workers embed with the "
                        "cluster's model; ingest into a new cluster with the new model instead");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (!cli.set.embed.model && !cli.set.embed.url) {
        rc = cli_usage_error(&cli, "no embedding model: give --embed-model FILE|URL, "
                                   "RAG_EMBED_MODEL, RAG_EMBED_URL, embed.model or embed.url");
        goto out;
    }
    emb_model *m;
    if ((rc = cli_open_embedder(&cli, 0, &m))) goto out;
    cli_bar bar = {.enabled = isatty(2) && !cli.quiet && !cli.json};
    ing_params p;
    ing_default_params(&p);
    p.cancel = &reembed_interrupted;
    p.on_progress = reembed_progress;
    p.ctx = &bar;
    signal(SIGINT, on_reembed_sigint);
    signal(SIGTERM, on_reembed_sigint);
    ing_reembed_report r;
    rag_err err = {0};
    int run = ing_reembed(cli.st, m, &p, &r, &err);
    cli_bar_clear(&bar);
    if (!run && r.switched) run = store_vindex_sync(cli.st, 1, NULL, NULL, &err);
    double rate = r.seconds > 0 ? (double)r.n_embedded / r.seconds : 0;
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", emb_model_identity(m)->name);
        cJSON_AddNumberToObject(j, "chunks", (double)r.n_chunks);
        cJSON_AddNumberToObject(j, "embedded", (double)r.n_embedded);
        cJSON_AddNumberToObject(j, "already_done", (double)r.n_already);
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        cJSON_AddBoolToObject(j, "switched", r.switched);
        cJSON_AddBoolToObject(j, "interrupted", r.cancelled);
        if (run) cJSON_AddStringToObject(j, "error", err.msg);
        cli_print_json(j);
    } else {
        printf("reembed: %lld chunks embedded now, %lld already done, of %lld; %.1f s (%.0f "
               "chunks/s)%s\n",
               (long long)r.n_embedded, (long long)r.n_already, (long long)r.n_chunks, r.seconds,
               rate,
               r.switched    ? "; the database now uses this model"
               : r.cancelled ? " (interrupted: run again to continue)"
                             : "");
    }
    if (run)
        rc = cli_fail(&cli, &err);
    else if (r.cancelled)
        rc = CLI_EXIT_INTERRUPTED;
    emb_model_close(m);
out:
    cli_teardown(&cli);
    return rc;
}
