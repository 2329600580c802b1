/* cli/ingest.c: `rag ingest PATH...`. */
#include "ingest/ingest.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "cli/cluster_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: rag ingest PATH|URL... [options]\n"
    "\n"
    "Adds files and directories (recursively) to the database: text, Markdown,\n"
    "HTML, PDF, DOCX, PPTX, XLSX, ODT, ODS, ODP, EPUB, RTF, email, images (OCR),\n"
    "also gzip/bzip2/xz/zstd-compressed; the files in zip,\n"
    "tar and 7z archives become documents at ARCHIVE!/MEMBER. Unchanged files\n"
    "are skipped, changed files replaced;\n"
    "empty (or whitespace-only) files are skipped with the reason 'empty'.\n"
    "An http(s) URL is fetched (the URL is the document's source); private,\n"
    "loopback and link-local addresses are refused unless allowed.\n"
    "\n"
    "  --acl LABEL,...     access labels of these documents (default: keep the\n"
    "                      labels of known documents; new ones get\n"
    "                      acl.default_labels from the config, else none:\n"
    "                      visible to administrators only)\n"
    "  --prune             remove documents under PATH whose files are gone\n"
    "  --include GLOB      only files matching GLOB (repeatable)\n"
    "  --exclude GLOB      leave out files and directories matching GLOB (repeatable)\n"
    "  --hidden            also walk into names starting with '.'\n"
    "  --id ID             explicit document id (a single file only)\n"
    "  --max-size SIZE     refuse larger files (default 256M)\n"
    "  --chunk-tokens N    target chunk size in tokens (default 320)\n"
    "  --overlap-tokens N  overlap between chunks (default 48)\n"
    "  --jobs N            threads extracting files (default 0: one per CPU, at most 8)\n"
    "  --embed-model FILE|URL\n"
    "                      embed new and changed chunks with this GGUF encoder, or\n"
    "                      an OpenAI-compatible server's /v1 (default\n"
    "                      $RAG_EMBED_MODEL or $RAG_EMBED_URL, else embed.model or\n"
    "                      embed.url in the config; none: keyword search only).\n"
    "                      Chunks are then sized for it and never exceed its context.\n"
    "  --crawl DEPTH       from each URL, follow links on the same site this many\n"
    "                      steps (robots.txt is obeyed; default 0: the page only)\n"
    "  --crawl-delay SECS  between two requests to one site (default 1, or the\n"
    "                      site's Crawl-delay when longer; ingest.crawl_delay)\n"
    "  --max-pages N       pages one crawl fetches at most (default 1000)\n"
    "  --allow-private[=ADDR,...]\n"
    "                      fetch from private, loopback and link-local addresses\n"
    "                      (all of them, or only these addresses or CIDR blocks;\n"
    "                      net.allow_private, net.allow)\n"
    "  --wait              against a cluster: wait for the queued jobs, with one\n"
    "                      progress bar for them all\n"
    "  --upload            against a cluster: put each file's bytes in its job,\n"
    "                      for workers that cannot read the files where they run\n"
    "  --db PATH|URL       database (default $RAG_DB or ~/.local/share/rag/rag.db); a\n"
    "                      PostgreSQL URL queues the files and URLs for the cluster's\n"
    "                      workers (rag worker) instead of ingesting them here\n"
    "  --config FILE       config file (default ~/.config/rag/rag.conf)\n"
    "  --json              print the summary as JSON\n"
    "  --ocr auto|never|always\n"
    "                      OCR (when built in; ingest.ocr): auto reads PNG, JPEG\n"
    "                      and TIFF images and PDF pages without text, never skips\n"
    "                      images, always reads every PDF page as an image\n"
    "                      (languages: ingest.ocr_languages)\n"
    "  -q, --quiet         no progress bar and no per-file messages\n"
    "\n"
    "Exit status: 0 all files ingested (or unchanged/skipped), 3 some files\n"
    "failed (each is reported), 1 the run failed, 130 interrupted.\n";

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills at once */
}

typedef struct view {
    cli_ctx *cli;
    cli_bar bar;
    cJSON *problems; /* with --json */
} view;

static const char *status_word(ing_status st)
{
    switch (st) {
    case ING_ADDED:
        return "added";
    case ING_UPDATED:
        return "updated";
    case ING_UNCHANGED:
        return "unchanged";
    case ING_REMOVED:
        return "removed";
    case ING_SKIPPED:
        return "skipped";
    case ING_FAILED:
        return "failed";
    }
    return "?";
}

static void on_file(void *ctx, const char *path, ing_status st, const char *reason)
{
    view *v = ctx;
    if (v->problems && (st == ING_FAILED || st == ING_SKIPPED)) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "path", path);
        cJSON_AddStringToObject(p, "status", status_word(st));
        cJSON_AddStringToObject(p, "reason", reason ? reason : "");
        cJSON_AddItemToArray(v->problems, p);
    }
    if (v->cli->quiet || v->cli->json) return;
    if (st == ING_FAILED || st == ING_SKIPPED || st == ING_REMOVED) {
        cli_bar_clear(&v->bar);
        size_t pl = strlen(path);
        if (reason && !strncmp(reason, path, pl) && reason[pl] == ':')
            fprintf(stderr, "%s: %s\n", status_word(st), reason);
        else if (reason)
            fprintf(stderr, "%s: %s: %s\n", status_word(st), path, reason);
        else
            fprintf(stderr, "%s: %s\n", status_word(st), path);
    }
}

static void on_progress(void *ctx, const ing_progress *p)
{
    view *v = ctx;
    cli_bar_draw(&v->bar, "files", p->files_done, p->files_total, (double)p->bytes_done,
                 (double)p->bytes_total, p->seconds);
}

static int parse_count(const char *s, long min, size_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min || v > 1000000) return -1;
    *out = (size_t)v;
    return 0;
}

/* URL fetching and crawling: --crawl, then the settings ([ingest], [net]). */
static int read_fetching(cli_ctx *cli, const char *crawl, net_policy *policy, ing_params *p)
{
    const rag_settings *set = &cli->set;
    size_t depth = 0;
    if (crawl && parse_count(crawl, 0, &depth) < 0)
        return cli_usage_error(cli, "--crawl takes a whole number");
    p->crawl_depth = (int)depth;
    p->max_pages = (size_t)set->ingest.max_pages;
    p->crawl_delay = set->ingest.crawl_delay;
    p->fetch_timeout = set->ingest.fetch_timeout;
    policy->allow_private = set->net.allow_private;
    policy->allow = set->net.allow;
    p->net_policy = policy;
    return 0;
}

int cli_ingest(int argc, char **argv)
{
    static const struct option opts[] = {{"acl", required_argument, NULL, 'a'},
                                         {"prune", no_argument, NULL, 'p'},
                                         {"include", required_argument, NULL, 'i'},
                                         {"exclude", required_argument, NULL, 'x'},
                                         {"hidden", no_argument, NULL, 'H'},
                                         {"id", required_argument, NULL, 'I'},
                                         {"max-size", required_argument, NULL, 'm'},
                                         {"chunk-tokens", required_argument, NULL, 'c'},
                                         {"overlap-tokens", required_argument, NULL, 'o'},
                                         {"embed-model", required_argument, NULL, 'E'},
                                         {"crawl", required_argument, NULL, 'W'},
                                         {"crawl-delay", required_argument, NULL, 'Y'},
                                         {"max-pages", required_argument, NULL, 'P'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"allow-private", optional_argument, NULL, 'V'},
                                         {"wait", no_argument, NULL, 'w'},
                                         {"upload", no_argument, NULL, 'U'},
                                         {"ocr", required_argument, NULL, 'O'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "ingest"};
    ing_params p;
    ing_default_params(&p);
    rag_strv labels = {0}, defaults = {0}, include = {0}, exclude = {0};
    const char *acl = NULL, *crawl = NULL;
    net_policy policy = {0};
    emb_model *embedder = NULL;
    int rc = CLI_EXIT_OK, c, wait = 0, upload = 0;
    char *acl_csv = NULL, *default_csv = NULL;
    rag_err err = {0};
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'w':
            wait = 1;
            break;
        case 'U':
            upload = 1;
            break;
        case 'a':
            acl = optarg;
            break;
        case 'p':
            p.prune = 1;
            break;
        case 'i':
            rag_strv_push(&include, optarg);
            break;
        case 'x':
            rag_strv_push(&exclude, optarg);
            break;
        case 'H':
            cli_flag(&cli, "ingest.include_hidden", "true", "--hidden");
            break;
        case 'I':
            p.ext_id = optarg;
            break;
        case 'm':
            cli_flag(&cli, "ingest.max_size", optarg, "--max-size");
            break;
        case 'j':
            cli_flag(&cli, "ingest.threads", optarg, "--jobs");
            break;
        case 'c':
            cli_flag(&cli, "ingest.chunk_tokens", optarg, "--chunk-tokens");
            break;
        case 'o':
            cli_flag(&cli, "ingest.overlap_tokens", optarg, "--overlap-tokens");
            break;
        case 'E':
            cli_flag(&cli, "embed.model", optarg, "--embed-model");
            break;
        case 'W':
            crawl = optarg;
            break;
        case 'Y':
            cli_flag(&cli, "ingest.crawl_delay", optarg, "--crawl-delay");
            break;
        case 'P':
            cli_flag(&cli, "ingest.max_pages", optarg, "--max-pages");
            break;
        case 'O':
            cli_flag(&cli, "ingest.ocr", optarg, "--ocr");
            break;
        case 'V': /* --allow-private: every address; --allow-private=LIST: these */
            if (optarg)
                cli_flag(&cli, "net.allow", optarg, "--allow-private");
            else
                cli_flag(&cli, "net.allow_private", "true", "--allow-private");
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (optind >= argc) return cli_usage_error(&cli, "no PATH given");
    if (cli.as_flag) return cli_usage_error(&cli, "--as does not apply to ingest");
    rc = cli_setup(&cli, CLI_DB_CLUSTER);
    if (rc) goto out;

    const rag_settings *set = &cli.set;
    p.max_file_size = set->ingest.max_size;
    p.chunk_tokens = (size_t)set->ingest.chunk_tokens;
    p.overlap_tokens = (size_t)set->ingest.overlap_tokens;
    p.include_hidden = set->ingest.include_hidden;
    p.ocr_mode = ing_ocr_mode_of(set->ingest.ocr);
    p.ocr_languages = set->ingest.ocr_languages;
    p.ocr_cpu_s = (unsigned)set->ingest.ocr_cpu_limit;
    p.threads = (int)set->ingest.threads;
    if ((rc = read_fetching(&cli, crawl, &policy, &p))) goto out;
    if (acl) {
        if (rag_labels_parse(acl, "--acl", &labels, &err)) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        p.labels = &labels;
    }
    const char *dl = set->acl.default_labels;
    if (dl) {
        if (rag_labels_parse(dl, rag_settings_where(set, "acl.default_labels"), &defaults, &err)) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        p.default_labels = &defaults;
    }
    if (cli.cluster) { /* the cluster's workers ingest: queue the files and URLs */
        p.include = &include;
        p.exclude = &exclude;
        acl_csv = acl ? rag_strv_join(&labels, ",") : NULL;
        default_csv = rag_strv_join(&defaults, ",");
        rc = cli_enqueue(&cli, (const char *const *)argv + optind, (size_t)(argc - optind), &p,
                         acl_csv, default_csv, upload, wait);
        goto out;
    }
    if ((rc = cli_open_embedder(&cli, 0, &embedder))) goto out;
    p.embedder = embedder;
    p.include = &include;
    p.exclude = &exclude;
    p.cancel = &interrupted;
    view v = {.cli = &cli, .bar = {.enabled = isatty(2) && !cli.quiet && !cli.json}};
    if (cli.json) v.problems = cJSON_CreateArray();
    p.on_file = on_file;
    p.on_progress = on_progress;
    p.ctx = &v;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    ing_report r;
    int run =
        ing_run(cli.st, (const char *const *)argv + optind, (size_t)(argc - optind), &p, &r, &err);
    cli_bar_clear(&v.bar);
    /* the vector indexes follow the database now, so searches start ready */
    if (!run && embedder) {
        run = store_vindex_sync(cli.st, 1, NULL, NULL, &err);
        if (run) rag_err_set(&err, run, "updating the vector indexes: %.200s", err.msg);
    }
    double mbps = r.seconds > 0 ? (double)r.bytes / 1e6 / r.seconds : 0;
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "added", (double)r.added);
        cJSON_AddNumberToObject(j, "updated", (double)r.updated);
        cJSON_AddNumberToObject(j, "unchanged", (double)r.unchanged);
        cJSON_AddNumberToObject(j, "removed", (double)r.removed);
        cJSON_AddNumberToObject(j, "skipped", (double)r.skipped);
        cJSON_AddNumberToObject(j, "failed", (double)r.failed);
        cJSON_AddNumberToObject(j, "chunks", (double)r.chunks);
        cJSON_AddNumberToObject(j, "bytes", (double)r.bytes);
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        cJSON_AddNumberToObject(j, "mb_per_s", mbps);
        cJSON_AddBoolToObject(j, "interrupted", r.cancelled);
        if (run) cJSON_AddStringToObject(j, "error", err.msg);
        cJSON_AddItemToObject(j, "problems", v.problems);
        cli_print_json(j);
    } else {
        printf(
            "ingest: %zu added, %zu updated, %zu unchanged, %zu removed, %zu skipped, %zu failed; "
            "%zu chunks; %.1f MB in %.2f s (%.1f MB/s)%s\n",
            r.added, r.updated, r.unchanged, r.removed, r.skipped, r.failed, r.chunks,
            (double)r.bytes / 1e6, r.seconds, mbps, r.cancelled ? " (interrupted)" : "");
    }
    if (run)
        rc = cli_fail(&cli, &err);
    else if (r.cancelled)
        rc = CLI_EXIT_INTERRUPTED;
    else if (r.failed)
        rc = CLI_EXIT_PARTIAL;
    if (!run && embedder && !cli.quiet && !cli.json) {
        store_model sm;
        int64_t n_chunks = 0, n_with = 0;
        if (store_model_active(cli.st, &sm, &err) == 1 &&
            store_vector_counts(cli.st, sm.id, &n_chunks, &n_with, &err) == 0 && n_with < n_chunks)
            fprintf(stderr,
                    "note: %lld chunks have no vector yet (stored before an embedding model "
                    "was configured): run 'rag reembed' to embed them\n",
                    (long long)(n_chunks - n_with));
    }
out:
    rag_free(acl_csv);
    rag_free(default_csv);
    emb_model_close(embedder);
    rag_strv_free(&labels);
    rag_strv_free(&defaults);
    rag_strv_free(&include);
    rag_strv_free(&exclude);
    cli_teardown(&cli);
    return rc;
}
