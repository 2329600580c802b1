/* cli/feedback.c: `rag feedback list|export`: the ratings API keys gave
 * ragd's answers, with the answers themselves (store/answers.c), for the
 * administrator: read from the database directly. */
#include "base/mem.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: rag feedback list [--rating up|down] [--key NAME] [--limit N] [--json]\n"
    "       rag feedback export [--all] [--rating up|down] [--key NAME] [--limit N]\n"
    "\n"
    "The ratings API keys gave ragd's answers (POST /v1/feedback), read from\n"
    "the database ragd records answers in (in cluster mode this machine's\n"
    "replica: each node records the answers it gives). 'list' shows the newest\n"
    "ratings first (--limit, default 50; 0: all): time, key, rating, question\n"
    "and comment, or with --json every field. 'export' writes JSON Lines, the\n"
    "oldest first: one rated answer a line, with its key, question, retrieval\n"
    "query (rewrite), answer, the passages it cited (chunk, document, uri),\n"
    "the settings it was made with, the rating, the comment and the times;\n"
    "--all adds the answers nobody rated.\n";

/* One answer and its rating, as list --json and export give it. */
static cJSON *answer_json(const store_answer *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "key", a->key_name);
    cJSON_AddNumberToObject(o, "created_at", (double)a->created_at);
    cJSON_AddStringToObject(o, "question", a->question);
    if (a->rewrite)
        cJSON_AddStringToObject(o, "rewrite", a->rewrite);
    else
        cJSON_AddNullToObject(o, "rewrite");
    cJSON_AddStringToObject(o, "answer", a->answer);
    cJSON *cites = cJSON_AddArrayToObject(o, "citations");
    for (size_t i = 0; i < a->n_cites; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "n", a->cites[i].n);
        cJSON_AddNumberToObject(c, "chunk_id", (double)a->cites[i].chunk_id);
        cJSON_AddNumberToObject(c, "document_id", (double)a->cites[i].document_id);
        cJSON_AddStringToObject(c, "uri", a->cites[i].uri);
        cJSON_AddItemToArray(cites, c);
    }
    cJSON *settings = cJSON_Parse(a->settings_json);
    cJSON_AddItemToObject(o, "settings", settings ? settings : cJSON_CreateObject());
    if (a->rating) {
        cJSON_AddStringToObject(o, "rating", a->rating);
        if (a->comment)
            cJSON_AddStringToObject(o, "comment", a->comment);
        else
            cJSON_AddNullToObject(o, "comment");
        cJSON_AddNumberToObject(o, "rated_at", (double)a->rated_at);
    } else {
        cJSON_AddNullToObject(o, "rating");
        cJSON_AddNullToObject(o, "comment");
        cJSON_AddNullToObject(o, "rated_at");
    }
    return o;
}

/* Prints s as a cell `width` characters wide: on one line (runs of white
 * space as one space), control characters escaped (cli_safe), cut with
 * "…" when longer, padded with spaces unless it is the last. */
static void put_cell(const char *s, size_t width, int last)
{
    rag_buf flat = {0};
    int space = 0;
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = flat.len > 0;
            continue;
        }
        if (space) rag_buf_putc(&flat, ' ');
        space = 0;
        rag_buf_putc(&flat, *p);
    }
    char safe[2048];
    cli_safe(rag_buf_str(&flat), safe, sizeof safe);
    rag_buf_free(&flat);
    size_t chars = 0, cut = 0, i = 0;
    while (safe[i]) {
        if (chars == width - 1) cut = i;
        i++;
        while (((unsigned char)safe[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    if (chars > width) {
        safe[cut] = 0;
        fputs(safe, stdout);
        fputs("\xE2\x80\xA6", stdout); /* … */
        chars = width;
    } else {
        fputs(safe, stdout);
    }
    if (!last)
        for (; chars < width + 2; chars++)
            putchar(' ');
}

typedef struct walk_ctx {
    cli_ctx *cli;
    int export;
    cJSON *arr; /* list --json */
    size_t n;
} walk_ctx;

static int show_one(void *ctx, const store_answer *a)
{
    walk_ctx *w = ctx;
    w->n++;
    if (w->export) {
        cJSON *o = answer_json(a);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (s) puts(s);
        cJSON_free(s);
        return 0;
    }
    if (w->arr) {
        cJSON_AddItemToArray(w->arr, answer_json(a));
        return 0;
    }
    char when[32];
    time_t t = (time_t)a->rated_at;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
    put_cell(when, 19, 0);
    put_cell(a->key_name, 16, 0);
    put_cell(a->rating, 6, 0);
    put_cell(a->question, 48, 0);
    put_cell(a->comment ? a->comment : "-", 60, 1);
    putchar('\n');
    return 0;
}

int cli_feedback(int argc, char **argv)
{
    enum { O_RATING = 1000, O_KEY, O_LIMIT, O_ALL };
    static const struct option opts[] = {{"rating", required_argument, NULL, O_RATING},
                                         {"key", required_argument, NULL, O_KEY},
                                         {"limit", required_argument, NULL, O_LIMIT},
                                         {"all", no_argument, NULL, O_ALL},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "feedback"};
    const char *rating = NULL, *key = NULL, *limit_arg = NULL;
    int all = 0, c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case O_RATING:
            rating = optarg;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_LIMIT:
            limit_arg = optarg;
            break;
        case O_ALL:
            all = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (cli.as_flag)
        return cli_usage_error(&cli, "--as does not apply here: feedback is for the administrator");
    const char *verb = optind < argc ? argv[optind] : "";
    int export = !strcmp(verb, "export");
    if (!export && strcmp(verb, "list"))
        return cli_usage_error(&cli, "say 'feedback list' or 'feedback export'");
    if (argc - optind > 1) return cli_usage_error(&cli, "'feedback %s' takes no arguments", verb);
    if (all && !export) return cli_usage_error(&cli, "--all goes with 'feedback export'");
    if (rating && strcmp(rating, "up") && strcmp(rating, "down"))
        return cli_usage_error(&cli, "--rating: '%s' is not up or down", rating);
    long limit = export ? 0 : 50;
    if (limit_arg) {
        char *end;
        limit = strtol(limit_arg, &end, 10);
        if (end == limit_arg || *end || limit < 0)
            return cli_usage_error(&cli, "--limit: '%s' is not a number of answers", limit_arg);
    }
    if ((rc = cli_setup(&cli, CLI_DB_OPEN))) goto out;
    store_answer_query q = {.rated_only = !all,
                            .rating = rating,
                            .key_name = key,
                            .limit = (size_t)limit,
                            .newest_first = !export};
    walk_ctx w = {
        .cli = &cli, .export = export, .arr = !export && cli.json ? cJSON_CreateArray() : NULL};
    if (!export && !cli.json) {
        put_cell("RATED (UTC)", 19, 0);
        put_cell("KEY", 16, 0);
        put_cell("RATING", 6, 0);
        put_cell("QUESTION", 48, 0);
        put_cell("COMMENT", 60, 1);
        putchar('\n');
    }
    rag_err err = {0};
    if (store_answer_each(cli.st, &q, show_one, &w, &err)) {
        cJSON_Delete(w.arr);
        rc = cli_fail(&cli, &err);
        goto out;
    }
    if (w.arr) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "feedback", w.arr);
        cli_print_json(j);
    } else if (!export && !w.n) {
        printf("(no ratings%s)\n", rating || key ? " match" : " yet");
    }
    rc = CLI_EXIT_OK;
out:
    cli_teardown(&cli);
    return rc;
}
