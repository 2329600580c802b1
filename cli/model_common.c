/* cli/model_common.c: what the model commands share: integer options
 * (`rag generate`, `rag logits`). */
#include "cli/model_int.h"

#include <errno.h>
#include <stdlib.h>

int cli_parse_int(rag_cli *cli, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return cli_usage_error(cli, "%s: '%s' is not a number from %ld to %ld", opt, s, lo, hi);
    *out = v;
    return 0;
}
