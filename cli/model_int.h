/* cli/model_int.h: what the model commands share (cli/model_common.c).
 * Private to cli/. */
#ifndef RAG_CLI_MODEL_INT_H
#define RAG_CLI_MODEL_INT_H

#include "cli/cli.h"

/* An integer option from lo to hi: 0, or the exit status of a usage error
 * naming the option (opt). */
int cli_parse_int(rag_cli *cli, const char *opt, const char *s, long lo, long hi, long *out);

#endif
