/* cli/stats.c: `rag stats`: documents, chunks and database size, in total
 * and per ACL group, and the embedding model's vectors. */
#include "cli/admin_int.h"

static const char stats_usage[] =
    "usage: rag stats [--json]\n"
    "\n"
    "Documents, chunks and database size, in total and per ACL group.\n";

int cli_stats(int argc, char **argv)
{
    cli_ctx cli = {.cmd = "stats"};
    int rc = cli_simple_opts(&cli, argc, argv, stats_usage, NULL, NULL);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    rc = cli_setup(&cli, 1);
    store_stats st;
    rag_err err = {0};
    if (!rc && store_stats_get(cli.st, &st, &err)) rc = cli_fail(&cli, &err);
    store_model model;
    int64_t n_vec = 0, n_all = 0, target = 0;
    int has_model = rc ? 0 : store_model_active(cli.st, &model, &err);
    if (has_model == 1) store_vector_counts(cli.st, model.id, &n_all, &n_vec, &err);
    if (!rc) store_model_target(cli.st, &target, &err);
    if (!rc) {
        if (cli.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "database", store_path(cli.st));
            cJSON_AddNumberToObject(j, "documents", (double)st.n_docs);
            cJSON_AddNumberToObject(j, "chunks", (double)st.n_chunks);
            cJSON_AddNumberToObject(j, "tokens", (double)st.n_tokens);
            cJSON_AddNumberToObject(j, "database_bytes", (double)(st.db_bytes + st.wal_bytes));
            cJSON_AddNumberToObject(j, "schema_version", store_schema_version());
            if (has_model == 1) {
                cJSON *em = cJSON_AddObjectToObject(j, "embedding_model");
                cJSON_AddStringToObject(em, "name", model.name);
                cJSON_AddStringToObject(em, "file_sha256", model.file_sha256);
                cJSON_AddNumberToObject(em, "dims", model.dims);
                cJSON_AddStringToObject(em, "pooling", model.pooling);
                cJSON_AddNumberToObject(em, "chunks_with_vectors", (double)n_vec);
                cJSON_AddBoolToObject(em, "reembed_in_progress", target != 0 && target != model.id);
            }
            cJSON *groups = cJSON_AddArrayToObject(j, "groups");
            for (size_t i = 0; i < st.n_groups; i++) {
                cJSON *g = cJSON_CreateObject();
                cJSON_AddStringToObject(g, "labels", st.groups[i].labels);
                cJSON_AddNumberToObject(g, "documents", (double)st.groups[i].n_docs);
                cJSON_AddNumberToObject(g, "chunks", (double)st.groups[i].n_chunks);
                cJSON_AddItemToArray(groups, g);
            }
            cli_print_json(j);
        } else {
            printf("database   %s (%.1f MB)\n", store_path(cli.st),
                   (double)(st.db_bytes + st.wal_bytes) / 1e6);
            printf("documents  %lld\nchunks     %lld (%lld tokens)\n", (long long)st.n_docs,
                   (long long)st.n_chunks, (long long)st.n_tokens);
            if (has_model == 1)
                printf("vectors    %lld of %lld chunks, from %s (%d dims, %s pooling)%s\n",
                       (long long)n_vec, (long long)n_all, model.name, model.dims, model.pooling,
                       target && target != model.id ? "; a re-embedding is in progress" : "");
            else
                printf("vectors    none (no embedding model configured)\n");
            if (st.n_groups) printf("\n%-24s %10s %10s\n", "ACL GROUP", "DOCUMENTS", "CHUNKS");
            for (size_t i = 0; i < st.n_groups; i++)
                printf("%-24s %10lld %10lld\n",
                       *st.groups[i].labels ? st.groups[i].labels : "(no label)",
                       (long long)st.groups[i].n_docs, (long long)st.groups[i].n_chunks);
        }
        store_stats_free(&st);
    }
    cli_teardown(&cli);
    return rc;
}
