/* cli/cli.c: shared plumbing of the `rag` subcommands. */
#include "cli/cli.h"
#include "base/mem.h"
#include "base/log.h"
#include "base/time.h"
#include "cluster/cluster.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

void cli_flag(cli_ctx *cli, const char *key, const char *value, const char *name)
{
    if (cli->n_flags < CLI_MAX_FLAGS)
        cli->flags[cli->n_flags++] = (rag_setting_flag){key, value, name};
}

int cli_common_opt(cli_ctx *cli, int c, const char *arg)
{
    switch (c) {
    case 'D':
        cli_flag(cli, "db", arg, "--db");
        return 1;
    case CLI_OPT_REPLICA:
        cli_flag(cli, "cluster.replica", arg, "--replica");
        return 1;
    case 'C':
        cli->config_flag = arg;
        return 1;
    case 'J':
        cli->json = 1;
        return 1;
    case 'A':
        cli->as_flag = arg;
        return 1;
    case 'q':
        cli->quiet = 1;
        return 1;
    }
    return 0;
}

void cli_error(const cli_ctx *cli, const char *fmt, ...)
{
    fprintf(stderr, "rag %s: ", cli->cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(const cli_ctx *cli, const rag_err *err)
{
    cli_error(cli, "%s", err->msg[0] ? err->msg : rag_err_name(err->code));
    return CLI_EXIT_ERROR;
}

int cli_usage_error(const cli_ctx *cli, const char *fmt, ...)
{
    fprintf(stderr, "rag %s: ", cli->cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'rag %s --help')\n", cli->cmd);
    return CLI_EXIT_USAGE;
}

static char *config_path(const cli_ctx *cli, int *optional)
{
    *optional = 0;
    if (cli->config_flag) return rag_xstrdup(cli->config_flag);
    const char *env = getenv("RAG_CONFIG");
    if (env && *env) return rag_xstrdup(env);
    *optional = 1;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg == '/') return rag_xasprintf("%s/rag/rag.conf", xdg);
    const char *home = getenv("HOME");
    return rag_xasprintf("%s/.config/rag/rag.conf", home && *home ? home : ".");
}

/* The [vector] section: which FAISS index a large ACL group gets. */
static int configure_vectors(cli_ctx *cli)
{
    store_vindex_params p;
    store_vindex_default_params(&p);
    rag_err err = {0};
    p.large_group = cli->set.vector.large_group;
    p.ef_search = (int)cli->set.vector.ef_search;
    const char *factory = cli->set.vector.large_factory;
    if (store_vindex_check_factory(cli->st, factory, &err)) {
        cli_error(cli, "%s: vector.large_factory: %s",
                  rag_settings_where(&cli->set, "vector.large_factory"), err.msg);
        return CLI_EXIT_USAGE;
    }
    if (factory) p.large_factory = factory;
    store_vindex_configure(cli->st, &p);
    return 0;
}

void cli_cluster_follow(cli_ctx *cli)
{
    if (!cli->cluster || !cli->st) return;
    rag_err err = {0};
    clu_follow_report rep;
    if (cli->clu && !clu_follow(cli->clu, cli->st, &rep, &err)) {
        /* the vector index files follow the replica, so that the next
         * command loads them instead of building them (as rag ingest
         * leaves them on one machine) */
        if ((rep.docs || rep.full) && store_vindex_sync(cli->st, 1, NULL, NULL, &err) &&
            !cli->quiet)
            fprintf(stderr, "rag %s: warning: the replica's vector indexes: %s\n", cli->cmd,
                    err.msg);
        return;
    }
    int64_t seq = 0;
    double at = 0;
    clu_replica_position(cli->st, &seq, &at, &err);
    char when[64] = "never";
    if (at > 0) {
        time_t t = (time_t)at;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    }
    if (!cli->quiet)
        fprintf(stderr,
                "rag %s: warning: %s; using this machine's replica as it is (change %lld, "
                "last updated %s)\n",
                cli->cmd, cli->clu ? err.msg : "the cluster is unreachable", (long long)seq, when);
}

/* Cluster mode: the connection, and for commands that read documents this
 * machine's replica, brought up to date. */
static int open_cluster(cli_ctx *cli, int open_db)
{
    rag_err err = {0};
    clu_params cp;
    clu_default_params(&cp);
    cp.statement_timeout_s = (int)cli->set.cluster.statement_timeout;
    int rc = clu_open(cli->set.db, &cp, &cli->clu, &err);
    if (rc && (open_db != CLI_DB_OPEN || rc != RAG_ERR_IO)) return cli_fail(cli, &err);
    if (rc && !cli->quiet) fprintf(stderr, "rag %s: warning: %s\n", cli->cmd, err.msg);
    if (open_db == CLI_DB_CLUSTER) return 0;
    char *path = cli->set.cluster.replica ? rag_xstrdup(cli->set.cluster.replica)
                                          : clu_replica_default_path();
    rc = store_open(path, NULL, &cli->st, &err);
    rag_free(path);
    if (rc) return cli_fail(cli, &err);
    rc = configure_vectors(cli);
    if (!rc) cli_cluster_follow(cli);
    return rc;
}

int cli_setup(cli_ctx *cli, int open_db)
{
    const char *nc = getenv("NO_COLOR");
    cli->color = isatty(1) && !(nc && *nc) && !cli->json;
    if (cli->quiet) rag_log_set_level(RAG_LOG_ERROR);
    rag_err err = {0};
    int optional;
    char *cpath = config_path(cli, &optional);
    rag_config *cfg = NULL;
    int rc = rag_config_load(cpath, optional, &cfg, &err);
    rag_free(cpath);
    if (!rc)
        rc = rag_settings_resolve(&cli->set, RAG_PROG_RAG, cfg, cli->flags, cli->n_flags, &err);
    rag_config_free(cfg);
    if (rc) {
        cli_fail(cli, &err);
        return CLI_EXIT_USAGE;
    }
    if (cli->as_flag) {
        if (rag_principal_from_roles(cli->as_flag, &cli->who, &err)) {
            cli_fail(cli, &err);
            return CLI_EXIT_USAGE;
        }
    } else {
        rag_principal_admin(&cli->who); /* the local user owns the database */
    }
    if (!open_db) return 0;
    cli->cluster = clu_is_url(cli->set.db);
    if (cli->cluster) return open_cluster(cli, open_db);
    char *path = cli->set.db ? rag_xstrdup(cli->set.db) : store_default_path();
    rc = store_open(path, NULL, &cli->st, &err);
    rag_free(path);
    if (rc) return cli_fail(cli, &err);
    return configure_vectors(cli);
}

void cli_teardown(cli_ctx *cli)
{
    clu_close(cli->clu);
    cli->clu = NULL;
    store_close(cli->st);
    cli->st = NULL;
    rag_settings_free(&cli->set);
    rag_principal_free(&cli->who);
}

/* The length of the valid UTF-8 character at s (1-4), or 0 when s does
 * not start one (a stray continuation byte, an overlong form, a surrogate,
 * beyond U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n <= 1) return n;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* Appends s to b as cli_safe shows it. */
static void safe_append(rag_buf *b, const char *s, int keep_lines)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        int control = n == 1
                          ? (*p < 0x20 || *p == 0x7f) && !(keep_lines && (*p == '\n' || *p == '\t'))
                          : n == 2 && p[0] == 0xC2 && p[1] < 0xA0; /* C1: U+0080-U+009F */
        if (!n || control) {
            size_t k = n ? n : 1;
            for (size_t i = 0; i < k; i++)
                rag_buf_printf(b, "\\x%02x", p[i]);
            p += k;
        } else {
            rag_buf_append(b, p, n);
            p += n;
        }
    }
}

const char *cli_safe(const char *s, char *buf, size_t size)
{
    if (!size) return buf;
    rag_buf b = {0};
    safe_append(&b, s, 0);
    size_t n = b.len < size - 1 ? b.len : size - 1;
    while (n > 0 && n < b.len && ((unsigned char)b.data[n] & 0xC0) == 0x80)
        n--;
    if (n) memcpy(buf, b.data, n);
    buf[n] = 0;
    rag_buf_free(&b);
    return buf;
}

void cli_put_safe(FILE *f, const char *s, int keep_lines)
{
    rag_buf b = {0};
    safe_append(&b, s, keep_lines);
    fputs(rag_buf_str(&b), f);
    rag_buf_free(&b);
}

const char *cli_display_path(const char *uri, char *buf, size_t size)
{
    char cwd[4096];
    if (uri[0] == '/' && getcwd(cwd, sizeof cwd)) {
        size_t l = strlen(cwd);
        if (l > 1 && !strncmp(uri, cwd, l) && uri[l] == '/')
            return cli_safe(uri + l + 1, buf, size);
    }
    return cli_safe(uri, buf, size);
}

int cli_open_embedder(cli_ctx *cli, int rerank, emb_model **out)
{
    *out = NULL;
    rag_err err = {0};
    emb_params p;
    rag_embed_params(&cli->set, &p);
    if (rerank) {
        if (!cli->set.rerank.model) return 0;
        return emb_model_open(cli->set.rerank.model, &p, out, &err) ? cli_fail(cli, &err) : 0;
    }
    rag_backend b;
    rag_backend_get(&cli->set, "embed", &b);
    if (!b.path && !b.url) return 0;
    if (rag_backend_open_embedder(&b, &p, cli->st, out, &err)) return cli_fail(cli, &err);
    return 0;
}

const char *cli_search_mode(const cli_ctx *cli)
{
    const char *m = cli->set.search.mode;
    return m && strcmp(m, "hybrid") ? m : NULL;
}

const char *cli_heading_shown(const char *title, const char *heading_path)
{
    static const char sep[] = " \xE2\x80\xBA "; /* " › " */
    size_t tl = strlen(title);
    if (tl && !strncmp(heading_path, title, tl)) {
        if (heading_path[tl] == 0) return NULL;
        if (!strncmp(heading_path + tl, sep, sizeof sep - 1)) heading_path += tl + sizeof sep - 1;
    }
    return *heading_path ? heading_path : NULL;
}

void cli_print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        cJSON_free(s);
    }
    cJSON_Delete(j);
}

const char *cli_bold(const cli_ctx *cli)
{
    return cli->color ? "\033[1m" : "";
}

const char *cli_dim(const cli_ctx *cli)
{
    return cli->color ? "\033[2m" : "";
}

const char *cli_reset(const cli_ctx *cli)
{
    return cli->color ? "\033[0m" : "";
}

static void fmt_duration(char *buf, size_t n, double s)
{
    if (s < 0 || s > 359999)
        snprintf(buf, n, "--:--");
    else if (s >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else
        snprintf(buf, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

void cli_bar_draw(cli_bar *b, const char *unit, size_t done, size_t total, double bytes_done,
                  double bytes_total, double seconds)
{
    if (!b->enabled) return;
    double t = rag_now_s();
    if (t - b->last_draw < 0.1 && done < total) return;
    b->last_draw = t;
    struct winsize ws;
    int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
    int bytes = bytes_total >= 0;
    double frac = bytes && bytes_total > 0 ? bytes_done / bytes_total
                  : total                  ? (double)done / (double)total
                                           : 1;
    double rate = seconds > 0 ? (bytes ? bytes_done : (double)done) / seconds : 0;
    double left = bytes ? bytes_total - bytes_done : (double)(total - done);
    char eta[32], bar[24], line[512];
    fmt_duration(eta, sizeof eta, rate > 0 ? left / rate : -1);
    int filled = (int)(frac * 20);
    for (int i = 0; i < 20; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[20] = 0;
    int n = bytes ? snprintf(line, sizeof line,
                             "%3d%% [%s] %zu/%zu %s  %.1f/%.1f MB  %.1f MB/s  ETA %s",
                             (int)(frac * 100), bar, done, total, unit, bytes_done / 1e6,
                             bytes_total / 1e6, rate / 1e6, eta)
                  : snprintf(line, sizeof line, "%3d%% [%s] %zu/%zu %s  %.0f %s/s  ETA %s",
                             (int)(frac * 100), bar, done, total, unit, rate, unit, eta);
    if (n >= cols) n = cols - 1;
    if (n < 0) n = 0;
    line[n] = 0;
    fprintf(stderr, "\r%s", line);
    if ((size_t)n < b->width) fprintf(stderr, "%*s", (int)(b->width - (size_t)n), "");
    b->width = (size_t)n;
    fflush(stderr);
}

void cli_bar_clear(cli_bar *b)
{
    if (b->width) {
        fprintf(stderr, "\r%*s\r", (int)b->width, "");
        b->width = 0;
    }
}
