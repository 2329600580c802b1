/* cli/model_common.c: what the model commands share: integer options
 * (`rag generate`, `rag logits`) and the models directory (`rag pull`,
 * `rag models`). */
#include "base/mem.h"
#include "cli/model_int.h"

#include <errno.h>
#include <stdlib.h>

int cli_parse_int(cli_ctx *cli, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return cli_usage_error(cli, "%s: '%s' is not a number from %ld to %ld", opt, s, lo, hi);
    *out = v;
    return 0;
}

char *cli_models_dir(const cli_ctx *cli, const char *flag)
{
    if (flag) return rag_xstrdup(flag);
    if (cli->set.models.dir) return rag_xstrdup(cli->set.models.dir); /* or $RAG_MODELS_DIR */
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) return rag_xasprintf("%s/rag/models", xdg);
    return rag_xasprintf("%s/.local/share/rag/models", home && *home ? home : ".");
}
