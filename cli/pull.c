/* cli/pull.c: `rag pull`: a model downloaded into the local models
 * directory (cli_models_dir). It takes a catalogue name (etc/models.conf,
 * built in), an hf:ORG/REPO/FILE reference or an http(s) URL; see
 * net_download_run for resuming and verification. */
#include "base/file.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/time.h"
#include "net/net.h"
#include "cli/model_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the catalogue ----------------------------------------------------------------- */

__asm__(".section .rodata\n"
        ".globl rag_catalog_start\n"
        ".hidden rag_catalog_start\n"
        ".globl rag_catalog_stop\n"
        ".hidden rag_catalog_stop\n"
        "rag_catalog_start:\n"
        ".incbin \"etc/models.conf\"\n"
        "rag_catalog_stop:\n"
        ".byte 0\n"
        ".previous\n");
extern const char rag_catalog_start[], rag_catalog_stop[];

typedef struct entry {
    char name[64], kind[16], source[512], sha256[65], about[256];
} entry;

/* Parses one catalogue line; 1 when it is an entry. */
static int parse_entry(const char *line, size_t len, entry *e)
{
    char buf[1024];
    if (len >= sizeof buf) return 0;
    memcpy(buf, line, len);
    buf[len] = 0;
    char *about = strstr(buf, " -- ");
    memset(e, 0, sizeof *e);
    if (about) {
        *about = 0;
        snprintf(e->about, sizeof e->about, "%s", about + 4);
    }
    char *save = NULL, *tok[4] = {0};
    int n = 0;
    for (char *t = strtok_r(buf, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
        tok[n++] = t;
    if (n < 3 || tok[0][0] == '#') return 0;
    snprintf(e->name, sizeof e->name, "%s", tok[0]);
    snprintf(e->kind, sizeof e->kind, "%s", tok[1]);
    snprintf(e->source, sizeof e->source, "%s", tok[2]);
    if (n == 4 && !strncmp(tok[3], "sha256=", 7))
        snprintf(e->sha256, sizeof e->sha256, "%s", tok[3] + 7);
    return 1;
}

/* Calls fn for each catalogue entry until it returns non-zero. */
static int catalog_each(int (*fn)(void *, const entry *), void *ctx, rag_err *err)
{
    const char *path = getenv("RAG_CATALOG");
    char *owned = NULL;
    size_t len;
    const char *text = rag_catalog_start;
    len = (size_t)(rag_catalog_stop - rag_catalog_start);
    if (path && *path) {
        int rc = rag_file_read(path, 1 << 20, &owned, &len, err);
        if (rc) return rc;
        text = owned;
    }
    int r = 0;
    for (size_t i = 0; i < len && !r;) {
        size_t n = 0;
        while (i + n < len && text[i + n] != '\n')
            n++;
        entry e;
        if (parse_entry(text + i, n, &e)) r = fn(ctx, &e);
        i += n + 1;
    }
    rag_free(owned);
    return r > 0 ? 0 : r;
}

typedef struct find_ctx {
    const char *name;
    entry found;
    int hit;
} find_ctx;

static int find_one(void *p, const entry *e)
{
    find_ctx *f = p;
    if (strcmp(f->name, e->name)) return 0;
    f->found = *e;
    f->hit = 1;
    return 1;
}

/* ---- where things are ------------------------------------------------------------- */

/* hf:ORG/REPO/PATH → the file on the main branch of the Hugging Face host. */
static char *resolve_source(const char *source, int *is_hf, rag_err *err)
{
    *is_hf = 0;
    if (!strncmp(source, "http://", 7) || !strncmp(source, "https://", 8))
        return rag_xstrdup(source);
    if (strncmp(source, "hf:", 3)) {
        rag_err_set(err, RAG_ERR_INVALID,
                    "'%s' is not a catalogue name (see 'rag pull --list'), hf:ORG/REPO/FILE or an "
                    "http(s) URL",
                    source);
        return NULL;
    }
    const char *p = source + 3, *s1 = strchr(p, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || s1 == p || s2 == s1 + 1 || !s2[1] || strstr(p, "..")) {
        rag_err_set(err, RAG_ERR_INVALID, "'%s': expected hf:ORG/REPO/FILE", source);
        return NULL;
    }
    const char *host = getenv("RAG_HF_ENDPOINT");
    if (!host || !*host) host = getenv("HF_ENDPOINT");
    if (!host || !*host) host = "https://huggingface.co";
    size_t hl = strlen(host);
    while (hl && host[hl - 1] == '/')
        hl--;
    *is_hf = 1;
    return rag_xasprintf("%.*s/%.*s/resolve/main/%s", (int)hl, host, (int)(s2 - p), p, s2 + 1);
}

/* The file name a URL's last path segment gives (without query). */
static char *file_name_of(const char *url)
{
    const char *end = url + strcspn(url, "?#");
    const char *slash = end;
    while (slash > url && slash[-1] != '/')
        slash--;
    if (slash == end) return NULL;
    char *name = rag_xstrndup(slash, (size_t)(end - slash));
    if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '%')) {
        rag_free(name);
        return NULL;
    }
    return name;
}

/* ---- rag pull ----------------------------------------------------------------------- */

static const char pull_usage[] =
    "usage: rag pull NAME|hf:ORG/REPO/FILE|URL [--sha256 HEX] [--dir DIR] [--as-name FILE] "
    "[--json]\n"
    "       rag pull --list\n"
    "\n"
    "Downloads a GGUF model into the models directory (--dir, else\n"
    "$RAG_MODELS_DIR, models.dir, or ~/.local/share/rag/models). NAME is an\n"
    "entry of the built-in catalogue (--list shows it). An interrupted\n"
    "download resumes where it stopped (the bytes wait in FILE.part); the\n"
    "file's SHA-256 is checked against --sha256, the catalogue, or the hash\n"
    "the server states (Hugging Face does), and the file appears under its\n"
    "name only when complete and verified. $HF_TOKEN is sent to Hugging Face\n"
    "for gated models.\n";

typedef struct pull_progress {
    cli_bar bar;
    double t0;
    uint64_t start; /* bytes already on disk when this run began */
} pull_progress;

static void on_pull_progress(void *ctx, uint64_t done, uint64_t total)
{
    pull_progress *p = ctx;
    if (!p->start) p->start = done; /* about where a resumed download began */
    /* the bar's rate is bytes over seconds: count only this run's bytes */
    double secs = rag_now_s() - p->t0;
    if (done > p->start) secs *= (double)done / (double)(done - p->start);
    cli_bar_draw(&p->bar, "file", done >= total && total ? 1 : 0, 1, (double)done,
                 total ? (double)total : (double)done, secs);
}

static int print_entry(void *ctx, const entry *e)
{
    (void)ctx;
    printf("%-24s %-10s %s\n", e->name, e->kind, e->about);
    return 0;
}

static int json_entry(void *ctx, const entry *e)
{
    cJSON *arr = ctx, *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", e->name);
    cJSON_AddStringToObject(o, "kind", e->kind);
    cJSON_AddStringToObject(o, "source", e->source);
    cJSON_AddStringToObject(o, "about", e->about);
    if (e->sha256[0]) cJSON_AddStringToObject(o, "sha256", e->sha256);
    cJSON_AddItemToArray(arr, o);
    return 0;
}

static int pull_list(cli_ctx *cli)
{
    rag_err err = {0};
    if (cli->json) {
        cJSON *arr = cJSON_CreateArray();
        if (catalog_each(json_entry, arr, &err)) {
            cJSON_Delete(arr);
            return cli_fail(cli, &err);
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "models", arr);
        cli_print_json(j);
        return CLI_EXIT_OK;
    }
    if (catalog_each(print_entry, NULL, &err)) return cli_fail(cli, &err);
    return CLI_EXIT_OK;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!strchr("0123456789abcdefABCDEF", *s)) return 0;
    return 1;
}

static int pull(cli_ctx *cli, const char *what, const char *sha, const char *dir_flag,
                const char *as_name)
{
    rag_err err = {0};
    find_ctx f = {.name = what};
    if (catalog_each(find_one, &f, &err)) return cli_fail(cli, &err);
    const char *source = f.hit ? f.found.source : what;
    if (!sha && f.hit && f.found.sha256[0]) sha = f.found.sha256;
    if (sha && !is_hex64(sha)) return cli_usage_error(cli, "--sha256: expected 64 hex digits");
    int is_hf;
    char *url = resolve_source(source, &is_hf, &err);
    if (!url) return cli_fail(cli, &err);
    char *name = as_name ? rag_xstrdup(as_name) : file_name_of(url);
    char *dir = cli_models_dir(cli, dir_flag), *dest = NULL, *lower_sha = NULL;
    int rc = CLI_EXIT_ERROR;
    if (!name || strchr(name, '/') || !*name) {
        rc = cli_usage_error(cli, "cannot tell a file name from '%s': give --as-name FILE", url);
        goto out;
    }
    if (rag_mkdir_p(dir, &err)) {
        rc = cli_fail(cli, &err);
        goto out;
    }
    dest = rag_xasprintf("%s/%s", dir, name);
    if (sha) {
        lower_sha = rag_xstrdup(sha);
        for (char *c = lower_sha; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
    }
    struct stat st;
    if (stat(dest, &st) == 0) { /* already here: verify when we can, else say so */
        char have[65];
        if (lower_sha && (rag_sha256_file(dest, have, &err) || strcmp(have, lower_sha))) {
            cli_error(cli,
                      "%s exists but its SHA-256 is not %s: remove it ('rag models rm %s') to "
                      "download again",
                      dest, lower_sha, name);
            goto out;
        }
        if (cli->json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "path", dest);
            cJSON_AddStringToObject(j, "status", "present");
            cJSON_AddNumberToObject(j, "bytes", (double)st.st_size);
            cli_print_json(j);
        } else if (!cli->quiet) {
            printf("%s is already here (%.1f MB)\n", dest, (double)st.st_size / 1e6);
        }
        rc = CLI_EXIT_OK;
        goto out;
    }
    net_download d;
    net_download_init(&d, url, dest);
    d.sha256 = lower_sha;
    d.gguf = 1;
    const char *token = getenv("HF_TOKEN");
    if (is_hf && token && *token) d.bearer = token;
    pull_progress prog = {.bar = {.enabled = !cli->quiet && !cli->json && isatty(2)},
                          .t0 = rag_now_s()};
    d.on_progress = on_pull_progress;
    d.ctx = &prog;
    if (!cli->quiet && !cli->json) fprintf(stderr, "rag pull: %s\n  from %s\n", dest, url);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is then a write error, reported */
    net_download_result r;
    int drc = net_download_run(&d, &r, &err);
    cli_bar_clear(&prog.bar);
    if (drc) {
        rc = cli_fail(cli, &err);
        goto out;
    }
    if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "path", dest);
        cJSON_AddStringToObject(j, "status", "downloaded");
        cJSON_AddStringToObject(j, "url", url);
        cJSON_AddNumberToObject(j, "bytes", (double)r.size);
        cJSON_AddNumberToObject(j, "fetched", (double)r.fetched);
        cJSON_AddNumberToObject(j, "resumed_at", (double)r.resumed_at);
        cJSON_AddNumberToObject(j, "reconnects", r.reconnects);
        cJSON_AddStringToObject(j, "sha256", r.sha256);
        if (r.hash_from)
            cJSON_AddStringToObject(j, "verified_against", r.hash_from);
        else
            cJSON_AddNullToObject(j, "verified_against");
        cli_print_json(j);
    } else if (!cli->quiet) {
        printf("%s: %.1f MB%s%s\n  sha256 %s (%s)\n", dest, (double)r.size / 1e6,
               r.resumed_at ? ", resumed" : "", r.reconnects ? ", after reconnecting" : "",
               r.sha256,
               r.hash_from
                   ? (strcmp(r.hash_from, "server") ? "matches --sha256" : "matches the server's")
                   : "nothing to check it against: compare it with the publisher's");
    }
    rc = CLI_EXIT_OK;
out:
    rag_free(url);
    rag_free(name);
    rag_free(dir);
    rag_free(dest);
    rag_free(lower_sha);
    return rc;
}

int cli_pull(int argc, char **argv)
{
    enum { O_SHA = 1000, O_DIR, O_LIST, O_NAME };
    static const struct option opts[] = {{"sha256", required_argument, NULL, O_SHA},
                                         {"dir", required_argument, NULL, O_DIR},
                                         {"as-name", required_argument, NULL, O_NAME},
                                         {"list", no_argument, NULL, O_LIST},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "pull"};
    const char *sha = NULL, *dir = NULL, *as_name = NULL;
    int list = 0, c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case O_SHA:
            sha = optarg;
            break;
        case O_DIR:
            dir = optarg;
            break;
        case O_NAME:
            as_name = optarg;
            break;
        case O_LIST:
            list = 1;
            break;
        case 'h':
            fputs(pull_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!list && optind + 1 != argc)
        return cli_usage_error(&cli, "say what to pull: a name, hf:ORG/REPO/FILE or a URL");
    if ((rc = cli_setup(&cli, 0))) goto out;
    rc = list ? pull_list(&cli) : pull(&cli, argv[optind], sha, dir, as_name);
out:
    cli_teardown(&cli);
    return rc;
}
