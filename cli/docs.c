/* cli/docs.c: `rag docs list|show|rm`: the documents you may see, one with
 * its chunks, and their removal. */
#include "base/mem.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char docs_usage[] =
    "usage: rag docs list [--as ROLE,...] [--json]\n"
    "       rag docs show ID [--as ROLE,...] [--json]\n"
    "       rag docs rm ID...\n"
    "\n"
    "Lists the documents you may see, shows one with its chunks, or removes\n"
    "documents (with their chunks and index entries).\n";

static cJSON *doc_json(const store_doc *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)d->id);
    cJSON_AddStringToObject(o, "uri", d->uri);
    if (d->ext_id) cJSON_AddStringToObject(o, "ext_id", d->ext_id);
    cJSON_AddStringToObject(o, "title", d->title);
    cJSON_AddStringToObject(o, "mime", d->mime);
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    rag_strv lv = {0};
    rag_strv_split(&lv, d->labels, ',');
    for (size_t i = 0; i < lv.n; i++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(lv.v[i]));
    rag_strv_free(&lv);
    cJSON_AddNumberToObject(o, "chunks", (double)d->n_chunks);
    cJSON_AddNumberToObject(o, "size", (double)d->size);
    cJSON_AddStringToObject(o, "content_hash", d->content_hash);
    cJSON_AddNumberToObject(o, "mtime", (double)(d->mtime_ns / 1000000000));
    cJSON_AddNumberToObject(o, "ingested_at", (double)d->ingested_at);
    cJSON *meta = cJSON_Parse(d->metadata_json);
    cJSON_AddItemToObject(o, "metadata", meta ? meta : cJSON_CreateObject());
    return o;
}

typedef struct list_ctx {
    cli_ctx *cli;
    cJSON *arr;
    size_t n;
} list_ctx;

static int list_one(void *ctx, const store_doc *d)
{
    list_ctx *l = ctx;
    l->n++;
    if (l->arr) {
        cJSON_AddItemToArray(l->arr, doc_json(d));
        return 0;
    }
    char path[4096], title[1024];
    cli_display_path(d->uri, path, sizeof path);
    cli_safe(d->title, title, sizeof title);
    printf("%6lld  %-16s %6lld  %s%s%s  %s%s%s\n", (long long)d->id, *d->labels ? d->labels : "-",
           (long long)d->n_chunks, cli_bold(l->cli), *title ? title : "(untitled)",
           cli_reset(l->cli), cli_dim(l->cli), path, cli_reset(l->cli));
    return 0;
}

static int docs_list(cli_ctx *cli)
{
    list_ctx l = {cli, cli->json ? cJSON_CreateArray() : NULL, 0};
    if (!cli->json) printf("%6s  %-16s %6s  %s\n", "ID", "LABELS", "CHUNKS", "TITLE  PATH");
    rag_err err = {0};
    if (store_doc_each(cli->st, &cli->who, list_one, &l, &err)) {
        cJSON_Delete(l.arr);
        return cli_fail(cli, &err);
    }
    if (cli->json)
        cli_print_json(l.arr);
    else if (!l.n)
        printf("(no documents%s)\n", cli->who.admin ? "" : " visible to these roles");
    return CLI_EXIT_OK;
}

static int parse_id(cli_ctx *cli, const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v <= 0) {
        cli_usage_error(cli, "'%s' is not a document id (see 'rag docs list')", s);
        return -1;
    }
    *id = v;
    return 0;
}

static int show_chunk(void *ctx, const store_chunk *c)
{
    void **pair = ctx;
    cli_ctx *cli = pair[0];
    cJSON *arr = pair[1];
    if (arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)c->id);
        cJSON_AddNumberToObject(o, "ordinal", c->ordinal);
        cJSON_AddStringToObject(o, "heading_path", c->heading_path);
        cJSON_AddNumberToObject(o, "tokens", (double)c->n_tokens);
        cJSON_AddNumberToObject(o, "byte_start", (double)c->byte_start);
        cJSON_AddNumberToObject(o, "byte_end", (double)c->byte_end);
        cJSON_AddStringToObject(o, "text", c->text);
        cJSON_AddItemToArray(arr, o);
        return 0;
    }
    char heading[1024];
    cli_safe(c->heading_path, heading, sizeof heading);
    printf("\n%s--- chunk %d (id %lld, %lld tokens, bytes %lld-%lld)%s%s%s\n", cli_dim(cli),
           c->ordinal, (long long)c->id, (long long)c->n_tokens, (long long)c->byte_start,
           (long long)c->byte_end, *heading ? "  " : "", heading, cli_reset(cli));
    cli_put_safe(stdout, c->text, 1);
    putchar('\n');
    return 0;
}

static int docs_show(cli_ctx *cli, const char *arg)
{
    int64_t id;
    if (parse_id(cli, arg, &id) < 0) return CLI_EXIT_USAGE;
    store_doc d;
    rag_err err = {0};
    int found = store_doc_get(cli->st, id, &cli->who, &d, &err);
    if (found < 0) return cli_fail(cli, &err);
    if (!found) { /* also when it exists but is not visible: existence is not disclosed */
        cli_error(cli, "no document with id %lld", (long long)id);
        return CLI_EXIT_ERROR;
    }
    cJSON *j = NULL, *chunks = NULL;
    if (cli->json) {
        j = doc_json(&d);
        chunks = cJSON_AddArrayToObject(j, "chunk_list");
    } else {
        char when[64];
        time_t t = (time_t)d.ingested_at;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
        char title[1024], uri[4096], mime[256];
        printf("%sdocument %lld%s  %s\n", cli_bold(cli), (long long)d.id, cli_reset(cli),
               cli_safe(d.title, title, sizeof title));
        printf("  source     %s\n  type       %s, %lld bytes\n  labels     %s\n"
               "  chunks     %lld\n  sha256     %s\n  ingested   %s\n",
               cli_safe(d.uri, uri, sizeof uri), cli_safe(d.mime, mime, sizeof mime),
               (long long)d.size, *d.labels ? d.labels : "(none: administrators only)",
               (long long)d.n_chunks, d.content_hash, when);
        if (d.ext_id) printf("  id         %s\n", d.ext_id);
    }
    void *pair[2] = {cli, chunks};
    int rc = store_chunk_each(cli->st, id, show_chunk, pair, &err);
    store_doc_free(&d);
    if (rc) {
        cJSON_Delete(j);
        return cli_fail(cli, &err);
    }
    if (j) cli_print_json(j);
    return CLI_EXIT_OK;
}

typedef struct member_ids {
    int64_t *v;
    size_t n, cap;
} member_ids;

static int collect_member(void *ctx, const store_doc *d)
{
    member_ids *m = ctx;
    m->v = rag_xgrow(m->v, &m->cap, m->n + 1, sizeof *m->v);
    m->v[m->n++] = d->id;
    return 0;
}

static int docs_rm(cli_ctx *cli, int argc, char **argv)
{
    if (!cli->who.admin) {
        cli_error(cli, "removing documents needs the administrator (drop --as)");
        return CLI_EXIT_USAGE;
    }
    rag_err err = {0};
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < argc; i++) {
        int64_t id;
        if (parse_id(cli, argv[i], &id) < 0) return CLI_EXIT_USAGE;
        store_doc d;
        int found = store_doc_get(cli->st, id, NULL, &d, &err);
        if (found <= 0) {
            if (found < 0) return cli_fail(cli, &err);
            cli_error(cli, "no document with id %lld", (long long)id);
            rc = CLI_EXIT_ERROR;
            continue;
        }
        /* a container (an archive) takes its members with it: uri!/... */
        member_ids mem = {0};
        char *prefix = rag_xasprintf("%s!/", d.uri);
        int lrc = store_doc_each_prefix(cli->st, prefix, collect_member, &mem, &err);
        rag_free(prefix);
        if (lrc) {
            rag_free(mem.v);
            store_doc_free(&d);
            return cli_fail(cli, &err);
        }
        if (cli->cluster) {
            /* through the cluster: every replica follows, this one at once */
            if (!cli->clu) {
                rag_free(mem.v);
                store_doc_free(&d);
                cli_error(cli, "the cluster is unreachable: nothing was removed");
                return CLI_EXIT_ERROR;
            }
            int drc = clu_doc_delete(cli->clu, id, &err);
            for (size_t k = 0; drc >= 0 && k < mem.n; k++)
                drc = clu_doc_delete(cli->clu, mem.v[k], &err);
            if (drc < 0) {
                rag_free(mem.v);
                store_doc_free(&d);
                return cli_fail(cli, &err);
            }
            cli_cluster_follow(cli);
        } else {
            int drc = store_begin(cli->st, &err);
            if (!drc) drc = store_doc_delete(cli->st, id, &err);
            for (size_t k = 0; !drc && k < mem.n; k++)
                drc = store_doc_delete(cli->st, mem.v[k], &err);
            if (!drc) drc = store_commit(cli->st, &err);
            if (drc) {
                store_rollback(cli->st);
                rag_free(mem.v);
                store_doc_free(&d);
                return cli_fail(cli, &err);
            }
        }
        if (mem.n && !cli->quiet)
            printf("removed %zu member%s of document %lld\n", mem.n, mem.n == 1 ? "" : "s",
                   (long long)id);
        rag_free(mem.v);
        char uri[4096];
        if (!cli->quiet)
            printf("removed document %lld (%s)\n", (long long)id, cli_safe(d.uri, uri, sizeof uri));
        store_doc_free(&d);
    }
    return rc;
}

int cli_docs(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "docs"};
    int c, rc;
    /* options anywhere: before the subcommand, between it and its ids, or after them */
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        if (c == 'h') {
            fputs(docs_usage, stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error(&cli, "unknown option");
    }
    if (optind >= argc) return cli_usage_error(&cli, "say list, show ID or rm ID");
    const char *sub = argv[optind++];
    int nargs = argc - optind;
    if (!strcmp(sub, "list")   ? nargs != 0
        : !strcmp(sub, "show") ? nargs != 1
        : !strcmp(sub, "rm")   ? nargs < 1
                               : 1)
        return cli_usage_error(&cli, "expected 'docs list', 'docs show ID' or 'docs rm ID...'");
    rc = cli_setup(&cli, 1);
    if (!rc) {
        if (!strcmp(sub, "list"))
            rc = docs_list(&cli);
        else if (!strcmp(sub, "show"))
            rc = docs_show(&cli, argv[optind]);
        else
            rc = docs_rm(&cli, nargs, argv + optind);
    }
    cli_teardown(&cli);
    return rc;
}
