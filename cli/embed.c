/* cli/embed.c: `rag embed`, `rag rerank` (stable interfaces for
 * operators and test harnesses) and `rag reembed`. */
#include "base/mem.h"
#include "ingest/ingest.h"
#include "cli/cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char embed_usage[] =
    "usage: rag embed [-m MODEL] [--query] [--raw] [--json] TEXT...\n"
    "\n"
    "Prints one vector per TEXT, one line each (values separated by spaces),\n"
    "or a JSON object with --json. By default a text is embedded as a document\n"
    "would be (the model's document prefix, L2-normalised); --query uses the\n"
    "query prefix; --raw adds no prefix and does not normalise (the pooled\n"
    "output, as in reference tests). MODEL defaults to $RAG_EMBED_MODEL, then\n"
    "embed.model in the config.\n";

int cli_embed(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"query", no_argument, NULL, 'Q'},
                                         {"raw", no_argument, NULL, 'R'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "embed"};
    const char *role_key = "embed.model";
    int query = 0, raw = 0, c, rc;
    while ((c = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'm': cli_flag(&cli, role_key, optarg, "-m"); break;
        case 'Q': query = 1; break;
        case 'R': raw = 1; break;
        case 'h': fputs(embed_usage, stdout); return RAG_EXIT_OK;
        default: return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind >= argc) return cli_usage_error(&cli, "no TEXT given");
    if ((rc = cli_setup(&cli, 0))) goto out;
    if (!cli.set.embed.model && !cli.set.embed.url) {
        rc = cli_usage_error(&cli, "no embedding model: give -m FILE, RAG_EMBED_MODEL or embed.model");
        goto out;
    }
    emb_model *m;
    if ((rc = cli_open_embedder(&cli, 0, &m))) goto out;
    size_t n = (size_t)(argc - optind);
    int dims = emb_dims(m);
    float *v = rag_xmalloc(n * (size_t)dims * sizeof *v);
    rag_err err = {0};
    emb_input kind = raw ? EMB_RAW : query ? EMB_QUERY : EMB_DOCUMENT;
    if (emb_embed(m, (const char *const *)argv + optind, n, kind, !raw, v, NULL, &err)) {
        rc = cli_fail(&cli, &err);
    } else if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", emb_model_identity(m)->name);
        cJSON_AddNumberToObject(j, "dims", dims);
        cJSON_AddStringToObject(j, "pooling", emb_pooling_name(emb_model_identity(m)->pooling));
        cJSON_AddBoolToObject(j, "normalized", !raw);
        cJSON *arr = cJSON_AddArrayToObject(j, "vectors");
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateFloatArray(v + i * (size_t)dims, dims));
        cli_print_json(j);
    } else {
        rag_buf b = {0};
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < dims; k++) rag_buf_printf(&b, "%s%.9g", k ? " " : "", v[i * (size_t)dims + (size_t)k]);
            rag_buf_putc(&b, '\n');
        }
        fwrite(b.data, 1, b.len, stdout);
        rag_buf_free(&b);
    }
    rag_free(v);
    emb_model_close(m);
out:
    cli_teardown(&cli);
    return rc;
}

static const char rerank_usage[] =
    "usage: rag rerank [-m MODEL] [--json] QUERY PASSAGE...\n"
    "\n"
    "Prints one relevance score per PASSAGE (one per line, higher is more\n"
    "relevant) from a cross-encoder. MODEL defaults to $RAG_RERANK_MODEL, then\n"
    "rerank.model in the config.\n";

int cli_rerank(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "rerank"};
    const char *role_key = "rerank.model";
    int c, rc;
    while ((c = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'm': cli_flag(&cli, role_key, optarg, "-m"); break;
        case 'h': fputs(rerank_usage, stdout); return RAG_EXIT_OK;
        default: return cli_usage_error(&cli, "unknown option");
        }
    }
    if (argc - optind < 2) return cli_usage_error(&cli, "give a QUERY and at least one PASSAGE");
    if ((rc = cli_setup(&cli, 0))) goto out;
    if (!cli.set.rerank.model) {
        rc = cli_usage_error(&cli, "no reranker: give -m FILE, RAG_RERANK_MODEL or rerank.model");
        goto out;
    }
    emb_model *m;
    if ((rc = cli_open_embedder(&cli, 1, &m))) goto out;
    size_t n = (size_t)(argc - optind - 1);
    float *scores = rag_xmalloc(n * sizeof *scores);
    rag_err err = {0};
    if (emb_rerank(m, argv[optind], (const char *const *)argv + optind + 1, n, scores, &err)) {
        rc = cli_fail(&cli, &err);
    } else if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", emb_model_identity(m)->name);
        cJSON_AddItemToObject(j, "scores", cJSON_CreateFloatArray(scores, (int)n));
        cli_print_json(j);
    } else {
        for (size_t i = 0; i < n; i++) printf("%.6f\n", scores[i]);
    }
    rag_free(scores);
    emb_model_close(m);
out:
    cli_teardown(&cli);
    return rc;
}

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
    static const struct option opts[] = {{"embed-model", required_argument, NULL, 'E'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "reembed"};
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'E': cli_flag(&cli, "embed.model", optarg, "--embed-model"); break;
        case 'h': fputs(reembed_usage, stdout); return RAG_EXIT_OK;
        default: return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_setup(&cli, 1))) goto out;
    if (!cli.set.embed.model && !cli.set.embed.url) {
        rc = cli_usage_error(&cli, "no embedding model: give --embed-model FILE|URL, RAG_EMBED_MODEL, RAG_EMBED_URL, embed.model or embed.url");
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
        printf("reembed: %lld chunks embedded now, %lld already done, of %lld; %.1f s (%.0f chunks/s)%s\n",
               (long long)r.n_embedded, (long long)r.n_already, (long long)r.n_chunks, r.seconds, rate,
               r.switched ? "; the database now uses this model" : r.cancelled ? " (interrupted: run again to continue)" : "");
    }
    if (run) rc = cli_fail(&cli, &err);
    else if (r.cancelled) rc = RAG_EXIT_INTERRUPTED;
    emb_model_close(m);
out:
    cli_teardown(&cli);
    return rc;
}
