/* cli/check.c: `rag check`: the database's consistency (and --repair), and
 * uploaded files no document refers to. */
#include "base/mem.h"
#include "cli/admin_int.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
static char *uploads_folder(const cli_ctx *cli, const char *flag)
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
    cli_ctx cli = {.cmd = "check"};
    int repair = 0;
    const char *uploads_flag = NULL;
    char *uploads = NULL;
    orphans orph = {0};
    int rc = cli_simple_opts(&cli, argc, argv, check_usage, &repair, &uploads_flag);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
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
    /* a replica: also the same documents, chunks and vectors as the cluster */
    if (cli.cluster && !cli.clu) {
        rag_strv_free(&problems);
        cli_error(&cli, "the cluster is unreachable: the replica cannot be compared with it");
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if (cli.clu && clu_check(cli.clu, cli.st, &problems, &err)) {
        rag_strv_free(&problems);
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
    rc = problems.n ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    rag_strv_free(&problems);
out:
    rag_strv_free(&orph.files);
    rag_free(uploads);
    cli_teardown(&cli);
    return rc;
}
