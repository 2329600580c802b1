/* cli/docs.c: `rag docs list|show|rm`, `rag stats`, `rag check`. */
#include "base/mem.h"
#include "cli/cli.h"
#include "base/time.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char docs_usage[] =
    "usage: rag docs list [--as ROLE,...] [--json]\n"
    "       rag docs show ID [--as ROLE,...] [--json]\n"
    "       rag docs rm ID...\n"
    "\n"
    "Lists the documents you may see, shows one with its chunks, or removes\n"
    "documents (with their chunks and index entries).\n";

static const char stats_usage[] =
    "usage: rag stats [--json]\n"
    "\n"
    "Documents, chunks and database size, in total and per ACL group.\n";

static const char check_usage[] =
    "usage: rag check [--repair] [--uploads DIR] [--json]\n"
    "\n"
    "Checks the database: SQLite's integrity check, the keyword index against\n"
    "the chunks, and the invariants between documents, chunks and the change log;\n"
    "and the daemon's uploads folder (DB.uploads, or --uploads DIR when ragd's\n"
    "server.uploads_dir moved it): files there that no document refers to (left\n"
    "by a daemon killed during an upload), when unchanged for 10 minutes (a\n"
    "younger one may be an upload in progress).\n"
    "--repair rebuilds the keyword index from the chunks and removes those\n"
    "files. Exit status 1 when a problem remains.\n";

/* Files of the uploads folder younger than this may belong to an upload in
 * progress (written before its document is committed): left alone. */
#define ORPHAN_AGE_S 600

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
    rag_cli *cli;
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

static int docs_list(rag_cli *cli)
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
    return RAG_EXIT_OK;
}

static int parse_id(rag_cli *cli, const char *s, int64_t *id)
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
    rag_cli *cli = pair[0];
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

static int docs_show(rag_cli *cli, const char *arg)
{
    int64_t id;
    if (parse_id(cli, arg, &id) < 0) return RAG_EXIT_USAGE;
    store_doc d;
    rag_err err = {0};
    int found = store_doc_get(cli->st, id, &cli->who, &d, &err);
    if (found < 0) return cli_fail(cli, &err);
    if (!found) { /* also when it exists but is not visible: existence is not disclosed */
        cli_error(cli, "no document with id %lld", (long long)id);
        return RAG_EXIT_ERROR;
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
    return RAG_EXIT_OK;
}

static int docs_rm(rag_cli *cli, int argc, char **argv)
{
    if (!cli->who.admin) {
        cli_error(cli, "removing documents needs the administrator (drop --as)");
        return RAG_EXIT_USAGE;
    }
    rag_err err = {0};
    int rc = RAG_EXIT_OK;
    for (int i = 0; i < argc; i++) {
        int64_t id;
        if (parse_id(cli, argv[i], &id) < 0) return RAG_EXIT_USAGE;
        store_doc d;
        int found = store_doc_get(cli->st, id, NULL, &d, &err);
        if (found <= 0) {
            if (found < 0) return cli_fail(cli, &err);
            cli_error(cli, "no document with id %lld", (long long)id);
            rc = RAG_EXIT_ERROR;
            continue;
        }
        if (store_begin(cli->st, &err) || store_doc_delete(cli->st, id, &err) ||
            store_commit(cli->st, &err)) {
            store_rollback(cli->st);
            store_doc_free(&d);
            return cli_fail(cli, &err);
        }
        char uri[4096];
        if (!cli->quiet)
            printf("removed document %lld (%s)\n", (long long)id,
                   cli_safe(d.uri, uri, sizeof uri));
        store_doc_free(&d);
    }
    return rc;
}

int cli_docs(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "docs"};
    int c, rc;
    /* options anywhere: before the subcommand, between it and its ids, or after them */
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        if (c == 'h') {
            fputs(docs_usage, stdout);
            return RAG_EXIT_OK;
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

static int simple_opts(rag_cli *cli, int argc, char **argv, const char *usage, int *repair,
                       const char **uploads)
{
    static const struct option opts[] = {{"repair", no_argument, NULL, 'r'},
                                         {"uploads", required_argument, NULL, 'U'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(cli, c, optarg)) continue;
        if (c == 'r' && repair) {
            *repair = 1;
            continue;
        }
        if (c == 'U' && uploads) {
            *uploads = optarg;
            continue;
        }
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        cli_usage_error(cli, "unknown option");
        return RAG_EXIT_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
        return RAG_EXIT_USAGE;
    }
    if (cli->as_flag) {
        cli_usage_error(cli, "--as does not apply here: this command is for the administrator");
        return RAG_EXIT_USAGE;
    }
    return 0;
}

int cli_stats(int argc, char **argv)
{
    rag_cli cli = {.cmd = "stats"};
    int rc = simple_opts(&cli, argc, argv, stats_usage, NULL, NULL);
    if (rc) return rc < 0 ? RAG_EXIT_OK : rc;
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

/* ---- orphan uploads ---- */

typedef struct orphans {
    store *st;
    const char *root; /* the uploads folder, resolved */
    time_t cutoff;    /* files changed after this are left alone */
    rag_strv files;   /* orphans found */
    rag_err err;
    int failed;
} orphans;

/* Collects the files under dir (recursively, without following links)
 * that no document's uri names. */
static void orphans_walk(orphans *o, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while (!o->failed && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *path = rag_xasprintf("%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode) && depth < 8) {
                orphans_walk(o, path, depth + 1);
            } else if (S_ISREG(sb.st_mode) && sb.st_mtime < o->cutoff) {
                store_doc doc;
                int found = store_doc_get_by_uri(o->st, path, &doc, &o->err);
                if (found < 0)
                    o->failed = 1;
                else if (found)
                    store_doc_free(&doc);
                else
                    rag_strv_push(&o->files, path);
            }
        }
        rag_free(path);
    }
    closedir(d);
}

/* Removes an orphan, then its folders up to the uploads folder while they
 * are empty. */
static int orphan_remove(const char *root, const char *path)
{
    if (unlink(path) < 0) return -1;
    char *dir = rag_xstrdup(path);
    size_t n = strlen(root);
    for (char *slash = strrchr(dir, '/'); slash && (size_t)(slash - dir) > n;
         slash = strrchr(dir, '/')) {
        *slash = 0;
        if (rmdir(dir) < 0) break;
    }
    rag_free(dir);
    return 0;
}

/* The uploads folder to check: --uploads, else DB.uploads when it exists
 * (NULL: none, nothing to check). Returns a resolved path (free). */
static char *uploads_folder(const rag_cli *cli, const char *flag)
{
    char *want = flag ? rag_xstrdup(flag) : rag_xasprintf("%s.uploads", store_path(cli->st));
    char *real = realpath(want, NULL);
    rag_free(want);
    if (!real) return NULL;
    char *out = rag_xstrdup(real);
    free(real);
    return out;
}

int cli_check(int argc, char **argv)
{
    rag_cli cli = {.cmd = "check"};
    int repair = 0;
    const char *uploads_flag = NULL;
    char *uploads = NULL;
    orphans orph = {0};
    int rc = simple_opts(&cli, argc, argv, check_usage, &repair, &uploads_flag);
    if (rc) return rc < 0 ? RAG_EXIT_OK : rc;
    rc = cli_setup(&cli, 1);
    if (rc) goto out;
    rag_strv problems = {0};
    rag_err err = {0};
    uploads = uploads_folder(&cli, uploads_flag);
    if (uploads_flag && !uploads) {
        rc = cli_usage_error(&cli, "--uploads %s: no such folder", uploads_flag);
        goto out;
    }
    if (store_check(cli.st, &problems, &err)) {
        rc = cli_fail(&cli, &err);
        goto out;
    }
    if (repair && problems.n) {
        if (store_fts_rebuild(cli.st, &err)) {
            rag_strv_free(&problems);
            rc = cli_fail(&cli, &err);
            goto out;
        }
        if (!cli.quiet && !cli.json)
            printf("rebuilt the keyword index (%zu problem(s) found before)\n", problems.n);
        rag_strv_free(&problems);
        if (store_check(cli.st, &problems, &err)) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
    }
    if (uploads) {
        orph.st = cli.st;
        orph.root = uploads;
        orph.cutoff = time(NULL) - ORPHAN_AGE_S;
        orphans_walk(&orph, uploads, 0);
        if (orph.failed) {
            rag_strv_free(&problems);
            rc = cli_fail(&cli, &orph.err);
            goto out;
        }
        size_t removed = 0;
        for (size_t i = 0; i < orph.files.n; i++) {
            char shown[4096];
            cli_safe(orph.files.v[i], shown, sizeof shown);
            if (repair && orphan_remove(uploads, orph.files.v[i]) == 0) {
                removed++;
                continue;
            }
            char *msg = rag_xasprintf("%s: an uploaded file no document refers to%s", shown,
                                      repair ? " (could not remove it)" : "");
            rag_strv_push(&problems, msg);
            rag_free(msg);
        }
        if (removed && !cli.quiet && !cli.json)
            printf("removed %zu uploaded file(s) no document refers to\n", removed);
    }
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", problems.n == 0);
        cJSON *arr = cJSON_AddArrayToObject(j, "problems");
        for (size_t i = 0; i < problems.n; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(problems.v[i]));
        cli_print_json(j);
    } else if (problems.n == 0) {
        printf("ok: %s is consistent\n", store_path(cli.st));
    } else {
        for (size_t i = 0; i < problems.n; i++)
            printf("problem: %s\n", problems.v[i]);
    }
    rc = problems.n ? RAG_EXIT_ERROR : RAG_EXIT_OK;
    rag_strv_free(&problems);
out:
    rag_strv_free(&orph.files);
    rag_free(uploads);
    cli_teardown(&cli);
    return rc;
}

static const char index_usage[] =
    "usage: rag index rebuild|check [--db PATH] [--json]\n"
    "\n"
    "The vector indexes (one per ACL group, in DB.vectors/) are a cache of the\n"
    "vectors in the database, kept up to date automatically. 'rebuild' makes\n"
    "them again from the database; 'check' compares them with it (exit status\n"
    "1 when they differ; the next search or ingest repairs them).\n";

static void index_progress(void *ctx, size_t done, size_t total)
{
    cli_bar_draw(ctx, "vectors", done, total, 0, -1, 0);
}

int cli_index(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "index"};
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        if (c == 'h') {
            fputs(index_usage, stdout);
            return RAG_EXIT_OK;
        }
        return cli_usage_error(&cli, "unknown option");
    }
    if (argc - optind != 1 || (strcmp(argv[optind], "rebuild") && strcmp(argv[optind], "check")))
        return cli_usage_error(&cli, "say 'index rebuild' or 'index check'");
    if (cli.as_flag)
        return cli_usage_error(
            &cli, "--as does not apply here: this command is for the administrator");
    int rebuild = !strcmp(argv[optind], "rebuild");
    if ((rc = cli_setup(&cli, 1))) goto out;
    rag_err err = {0};
    if (rebuild) {
        cli_bar bar = {.enabled = isatty(2) && !cli.quiet && !cli.json};
        double t0 = rag_now_s();
        int r = store_vindex_rebuild(cli.st, index_progress, &bar, &err);
        cli_bar_clear(&bar);
        double secs = rag_now_s() - t0;
        if (r) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        if (cli.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "rebuilt", 1);
            cJSON_AddNumberToObject(j, "seconds", secs);
            cli_print_json(j);
        } else {
            printf("index: rebuilt from %s in %.2f s\n", store_path(cli.st), secs);
        }
    } else {
        rag_strv problems = {0};
        if (store_vindex_check(cli.st, &problems, &err)) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        if (cli.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "ok", problems.n == 0);
            cJSON *arr = cJSON_AddArrayToObject(j, "problems");
            for (size_t i = 0; i < problems.n; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(problems.v[i]));
            cli_print_json(j);
        } else if (!problems.n) {
            printf("ok: the vector indexes match %s\n", store_path(cli.st));
        } else {
            for (size_t i = 0; i < problems.n; i++)
                printf("problem: %s\n", problems.v[i]);
        }
        rc = problems.n ? RAG_EXIT_ERROR : RAG_EXIT_OK;
        rag_strv_free(&problems);
    }
out:
    cli_teardown(&cli);
    return rc;
}
