/* cli/logits.c: `rag logits`: the logits of a token sequence, to a file
 * (a stable interface for operators and external test harnesses). */
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "cli/model_int.h"
#include "llm/llm.h"

#include <errno.h>
#include <stdlib.h>

static const char logits_usage[] =
    "usage: rag logits -m MODEL.gguf --tokens \"ID ID ...\" -o FILE [--threads N]\n"
    "\n"
    "Runs the token ids through the model in one causal pass (positions 0..n-1)\n"
    "and writes the logits of every position to FILE: float32 little-endian,\n"
    "n_tokens rows of n_vocab.\n";

int cli_logits(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"tokens", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "logits"};
    const char *model = NULL, *toks = NULL, *out = NULL;
    long threads = 0;
    int c;
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 't':
            toks = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'T':
            if (cli_parse_int(&cli, "--threads", optarg, 0, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case 'h':
            fputs(logits_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!model || !toks || !out) return cli_usage_error(&cli, "-m, --tokens and -o are required");
    llm_tokens ids = {0};
    for (const char *p = toks; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            llm_tokens_free(&ids);
            return cli_usage_error(&cli, "--tokens: '%.20s' is not a token id", p);
        }
        ids.v = rag_xgrow(ids.v, &ids.cap, ids.n + 1, sizeof *ids.v);
        ids.v[ids.n++] = (int32_t)v;
        p = end;
    }
    if (!ids.n) return cli_usage_error(&cli, "--tokens: no token ids");
    rag_err err = {0};
    llm_model *m = NULL;
    llm_context *ctx = NULL;
    int rc = llm_model_open(model, &m, &err);
    if (!rc) {
        llm_context_params cp;
        llm_context_default_params(&cp);
        cp.n_ctx = (int)ids.n;
        cp.n_batch = (int)ids.n;
        cp.n_threads = (int)threads;
        cp.logits_all = 1;
        rc = llm_context_new(m, &cp, &ctx, &err);
    }
    if (!rc) rc = llm_decode(ctx, ids.v, (int)ids.n, &err);
    if (!rc) {
        size_t nv = (size_t)llm_model_hparams(m)->n_vocab;
        rag_buf b = {0};
        for (size_t i = 0; i < ids.n; i++)
            rag_buf_append(&b, llm_context_logits(ctx, (int)i), nv * sizeof(float));
        rc = rag_file_write_atomic(out, b.data, b.len, &err);
        rag_buf_free(&b);
    }
    llm_context_free(ctx);
    llm_model_close(m);
    llm_tokens_free(&ids);
    return rc ? cli_fail(&cli, &err) : CLI_EXIT_OK;
}
