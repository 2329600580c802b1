/* cli/admin_int.h: what `rag stats` and `rag check`, the administrator's
 * database commands, share (cli/admin.c). Private to cli/. */
#ifndef RAG_CLI_ADMIN_INT_H
#define RAG_CLI_ADMIN_INT_H

#include "cli/cli.h"

/* Parses the common options and, where repair or uploads is not NULL,
 * --repair and --uploads DIR; refuses arguments and --as. Returns 0, -1
 * after printing usage for --help, or an exit status. */
int cli_simple_opts(cli_ctx *cli, int argc, char **argv, const char *usage, int *repair,
                    const char **uploads);

#endif
