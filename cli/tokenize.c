/* cli/tokenize.c: `rag tokenize`: the token ids of a text (a stable
 * interface for operators and external test harnesses). */
#include "base/buf.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "llm/llm.h"

#include <string.h>
#include <unistd.h>

/* Reads all of standard input (byte-exact). */
static char *read_stdin(size_t *len)
{
    rag_buf b = {0};
    char tmp[65536];
    ssize_t r;
    while ((r = read(0, tmp, sizeof tmp)) > 0)
        rag_buf_append(&b, tmp, (size_t)r);
    *len = b.len;
    return rag_buf_steal(&b);
}

static const char tokenize_usage[] =
    "usage: rag tokenize -m MODEL.gguf [--special] [TEXT]\n"
    "       rag tokenize -m MODEL.gguf --pair QUERY PASSAGE\n"
    "\n"
    "Prints the token ids of TEXT (or of standard input, read byte-exact) on\n"
    "one line. --special adds the model's BOS/EOS or CLS/SEP as it does for\n"
    "generation or embedding; without it none are added and the text of\n"
    "special tokens is tokenized as plain text. --pair prints the ids a\n"
    "reranker scores for QUERY and PASSAGE ([CLS] q [SEP] [SEP] p [SEP] for\n"
    "BERT, <s> q </s></s> p </s> for XLM-RoBERTa), the input of\n"
    "'rag rerank --ids'.\n";

int cli_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"special", no_argument, NULL, 's'},
                                         {"pair", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "tokenize"};
    const char *model = NULL;
    int special = 0, pair = 0, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 's':
            special = 1;
            break;
        case 'p':
            pair = 1;
            break;
        case 'h':
            fputs(tokenize_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!model) return cli_usage_error(&cli, "-m MODEL is required");
    if (pair && argc - optind != 2) return cli_usage_error(&cli, "--pair takes QUERY and PASSAGE");
    if (!pair && argc - optind > 1)
        return cli_usage_error(&cli, "give TEXT as one argument (quote it)");
    rag_err err = {0};
    llm_gguf *g;
    if (llm_gguf_open(model, &g, &err)) return cli_fail(&cli, &err);
    llm_vocab *v;
    int rc = llm_vocab_load(g, &v, &err);
    llm_gguf_close(g);
    if (rc) return cli_fail(&cli, &err);
    size_t len;
    char *text;
    if (pair) {
        text = NULL;
        len = 0;
    } else if (optind < argc) {
        text = rag_xstrdup(argv[optind]);
        len = strlen(text);
    } else {
        text = read_stdin(&len);
    }
    llm_tokens t = {0};
    if (pair)
        rc = llm_tokenize_pair(v, argv[optind], strlen(argv[optind]), argv[optind + 1],
                               strlen(argv[optind + 1]), &t, &err);
    else
        rc = llm_tokenize(v, text, len, special, 0, &t, &err);
    if (!rc) {
        rag_buf out = {0};
        for (size_t i = 0; i < t.n; i++)
            rag_buf_printf(&out, "%s%d", i ? " " : "", t.v[i]);
        rag_buf_putc(&out, '\n');
        fwrite(out.data, 1, out.len, stdout);
        rag_buf_free(&out);
    }
    llm_tokens_free(&t);
    rag_free(text);
    llm_vocab_free(v);
    return rc ? cli_fail(&cli, &err) : CLI_EXIT_OK;
}
