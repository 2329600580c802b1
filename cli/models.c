/* cli/models.c: `rag models list|show|rm`: the models in the local models
 * directory (cli_models_dir). */
#include "base/mem.h"
#include "llm/llm.h"
#include "cli/model_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char models_usage[] =
    "usage: rag models list [--dir DIR] [--json]\n"
    "       rag models show NAME [--dir DIR] [--json]\n"
    "       rag models rm NAME [--dir DIR]\n"
    "\n"
    "The models in the models directory (see 'rag pull --help'): architecture,\n"
    "size, quantization, context and chat template family; downloads not yet\n"
    "complete are listed as partial.\n";

/* llama.cpp's general.file_type values, for the name people know a file by. */
static const char *file_type_name(uint32_t t)
{
    static const char *const names[] = {
        [0] = "F32",      [1] = "F16",      [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",
        [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",
        [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M",
        [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL", [26] = "IQ3_S",  [27] = "IQ3_M",
        [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS", [31] = "IQ1_M",  [32] = "BF16",
    };
    return t < sizeof names / sizeof names[0] && names[t] ? names[t] : NULL;
}

typedef struct model_row {
    char name[256];
    char arch[64], quant[32], family[32];
    uint64_t bytes;
    uint32_t ctx;
    int partial, readable;
    char problem[256];
} model_row;

static void describe(const char *path, model_row *m)
{
    rag_err err = {0};
    llm_gguf *g;
    if (llm_gguf_open(path, &g, &err)) {
        snprintf(m->problem, sizeof m->problem, "%s", err.msg);
        return;
    }
    m->readable = 1;
    const char *s;
    size_t n;
    if (!llm_gguf_get_str(g, "general.architecture", &s, &n, NULL))
        snprintf(m->arch, sizeof m->arch, "%.*s", (int)(n < 63 ? n : 63), s);
    uint32_t ft;
    const char *q =
        !llm_gguf_get_u32(g, "general.file_type", &ft, NULL) ? file_type_name(ft) : NULL;
    if (!q) { /* the type holding the most bytes */
        size_t bytes[LLM_DTYPE_MAX] = {0}, best = 0;
        for (size_t i = 0; i < llm_gguf_n_tensors(g); i++)
            bytes[llm_gguf_tensor(g, i)->type] += llm_gguf_tensor(g, i)->nbytes;
        for (int t = 1; t < LLM_DTYPE_MAX; t++)
            if (bytes[t] > bytes[best]) best = (size_t)t;
        q = llm_dtype_get((int)best)->name;
    }
    snprintf(m->quant, sizeof m->quant, "%s", q);
    char key[96];
    snprintf(key, sizeof key, "%s.context_length", m->arch);
    llm_gguf_get_u32(g, key, &m->ctx, NULL);
    llm_chat_family fam;
    int fell_back = 1;
    llm_chat_family_for(g, NULL, &fam, &fell_back, NULL);
    snprintf(m->family, sizeof m->family, "%s", fell_back ? "-" : llm_chat_family_name(fam));
    llm_gguf_close(g);
}

static int cmp_rows(const void *a, const void *b)
{
    return strcmp(((const model_row *)a)->name, ((const model_row *)b)->name);
}

static int models_list(cli_ctx *cli, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d && errno != ENOENT) {
        cli_error(cli, "%s: %s", dir, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    model_row *rows = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        int part = len > 10 && !strcmp(e->d_name + len - 10, ".gguf.part");
        if (!part && (len < 6 || strcmp(e->d_name + len - 5, ".gguf"))) continue;
        if (n == cap) rows = rag_xrealloc(rows, (cap = cap ? cap * 2 : 16) * sizeof *rows);
        model_row *m = memset(&rows[n++], 0, sizeof *rows);
        snprintf(m->name, sizeof m->name, "%.*s", (int)(part ? len - 5 : len), e->d_name);
        char *path = rag_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0) m->bytes = (uint64_t)st.st_size;
        m->partial = part;
        if (!part) describe(path, m);
        rag_free(path);
    }
    if (d) closedir(d);
    if (n > 1) qsort(rows, n, sizeof *rows, cmp_rows);
    if (cli->json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", rows[i].name);
            cJSON_AddNumberToObject(o, "bytes", (double)rows[i].bytes);
            cJSON_AddStringToObject(o, "status",
                                    rows[i].partial    ? "partial"
                                    : rows[i].readable ? "ready"
                                                       : "unreadable");
            if (rows[i].readable) {
                cJSON_AddStringToObject(o, "architecture", rows[i].arch);
                cJSON_AddStringToObject(o, "quantization", rows[i].quant);
                cJSON_AddNumberToObject(o, "context", rows[i].ctx);
                cJSON_AddStringToObject(o, "chat_template", rows[i].family);
            } else if (rows[i].problem[0]) {
                cJSON_AddStringToObject(o, "error", rows[i].problem);
            }
            cJSON_AddItemToArray(arr, o);
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "dir", dir);
        cJSON_AddItemToObject(j, "models", arr);
        cli_print_json(j);
    } else if (!n) {
        printf("no models in %s (get one with 'rag pull NAME'; 'rag pull --list' shows names)\n",
               dir);
    } else {
        printf("%-44s %9s  %-12s %-8s %7s  %s\n", "NAME", "SIZE", "ARCH", "QUANT", "CONTEXT",
               "TEMPLATE");
        for (size_t i = 0; i < n; i++) {
            const model_row *m = &rows[i];
            if (m->partial)
                printf("%-44s %7.1fMB  partial: 'rag pull' the same source to resume\n", m->name,
                       (double)m->bytes / 1e6);
            else if (!m->readable)
                printf("%-44s %7.1fMB  unreadable: %s\n", m->name, (double)m->bytes / 1e6,
                       m->problem);
            else
                printf("%-44s %7.1fMB  %-12s %-8s %7u  %s\n", m->name, (double)m->bytes / 1e6,
                       m->arch, m->quant, m->ctx, m->family);
        }
        printf("(%s)\n", dir);
    }
    rag_free(rows);
    return CLI_EXIT_OK;
}

/* NAME or NAME.gguf inside dir, never a path outside it. */
static char *model_path(const cli_ctx *cli, const char *dir, const char *name)
{
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        cli_error(cli, "'%s': give a model's file name as 'rag models list' shows it", name);
        return NULL;
    }
    size_t len = strlen(name);
    return len > 5 && !strcmp(name + len - 5, ".gguf") ? rag_xasprintf("%s/%s", dir, name)
                                                       : rag_xasprintf("%s/%s.gguf", dir, name);
}

static int models_rm(cli_ctx *cli, const char *dir, const char *name)
{
    char *path = model_path(cli, dir, name);
    if (!path) return CLI_EXIT_USAGE;
    char *part = rag_xasprintf("%s.part", path);
    int had = unlink(path) == 0, had_part = unlink(part) == 0;
    int rc = CLI_EXIT_OK;
    if (!had && !had_part) {
        cli_error(cli, "no model %s in %s", name, dir);
        rc = CLI_EXIT_ERROR;
    } else if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "removed", path);
        cli_print_json(j);
    } else if (!cli->quiet) {
        printf("removed %s%s\n", had ? path : part,
               had && had_part ? " (and its partial download)" : "");
    }
    rag_free(part);
    rag_free(path);
    return rc;
}

int cli_models(int argc, char **argv)
{
    enum { O_DIR = 1000 };
    static const struct option opts[] = {
        {"dir", required_argument, NULL, O_DIR}, CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "models"};
    const char *dir_flag = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case O_DIR:
            dir_flag = optarg;
            break;
        case 'h':
            fputs(models_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    const char *verb = optind < argc ? argv[optind] : "list";
    int nargs = argc - optind - 1;
    if (!strcmp(verb, "list")                            ? nargs > 0
        : (!strcmp(verb, "show") || !strcmp(verb, "rm")) ? nargs != 1
                                                         : 1)
        return cli_usage_error(&cli, "say 'models list', 'models show NAME' or 'models rm NAME'");
    if ((rc = cli_setup(&cli, 0))) goto out;
    char *dir = cli_models_dir(&cli, dir_flag);
    if (!strcmp(verb, "list")) {
        rc = models_list(&cli, dir);
    } else if (!strcmp(verb, "rm")) {
        rc = models_rm(&cli, dir, argv[optind + 1]);
    } else {
        char *path = model_path(&cli, dir, argv[optind + 1]);
        if (!path) {
            rc = CLI_EXIT_USAGE;
        } else if (access(path, R_OK)) {
            cli_error(&cli, "no model %s in %s", argv[optind + 1], dir);
            rc = CLI_EXIT_ERROR;
        } else {
            char *info_argv[] = {"model-info", "-m", path, cli.json ? "--json" : NULL, NULL};
            optind = 1;
            rc = cli_model_info(cli.json ? 4 : 3, info_argv);
        }
        rag_free(path);
    }
    rag_free(dir);
out:
    cli_teardown(&cli);
    return rc;
}
