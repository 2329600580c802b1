/* cli/embed.c: `rag embed`: the vectors of texts from an embedding model (a
 * stable interface for operators and test harnesses). */
#include "base/mem.h"
#include "cli/cli.h"

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
    cli_ctx cli = {.cmd = "embed"};
    const char *role_key = "embed.model";
    int query = 0, raw = 0, c, rc;
    while ((c = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'm':
            cli_flag(&cli, role_key, optarg, "-m");
            break;
        case 'Q':
            query = 1;
            break;
        case 'R':
            raw = 1;
            break;
        case 'h':
            fputs(embed_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind >= argc) return cli_usage_error(&cli, "no TEXT given");
    if ((rc = cli_setup(&cli, 0))) goto out;
    if (!cli.set.embed.model && !cli.set.embed.url) {
        rc = cli_usage_error(&cli,
                             "no embedding model: give -m FILE, RAG_EMBED_MODEL or embed.model");
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
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateFloatArray(v + i * (size_t)dims, dims));
        cli_print_json(j);
    } else {
        rag_buf b = {0};
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < dims; k++)
                rag_buf_printf(&b, "%s%.9g", k ? " " : "", v[i * (size_t)dims + (size_t)k]);
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
