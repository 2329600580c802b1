/* cli/model_int.h: what the model commands share (cli/model_common.c).
 * Private to cli/. */
#ifndef RAG_CLI_MODEL_INT_H
#define RAG_CLI_MODEL_INT_H

#include "cli/cli.h"

/* An integer option from lo to hi: 0, or the exit status of a usage error
 * naming the option (opt). */
int cli_parse_int(cli_ctx *cli, const char *opt, const char *s, long lo, long hi, long *out);

/* The models directory (`rag pull`, `rag models`): flag (--dir), else
 * $RAG_MODELS_DIR or models.dir in the config, else
 * $XDG_DATA_HOME/rag/models (~/.local/share/rag/models). Free it. */
char *cli_models_dir(const cli_ctx *cli, const char *flag);

#endif
