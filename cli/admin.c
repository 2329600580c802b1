/* cli/admin.c: what `rag stats` and `rag check`, the administrator's
 * database commands, share: their options (no arguments, no --as). */
#include "cli/admin_int.h"

int cli_simple_opts(cli_ctx *cli, int argc, char **argv, const char *usage, int *repair,
                    const char **uploads)
{
    static const struct option opts[] = {{"repair", no_argument, NULL, 'r'},
                                         {"uploads", required_argument, NULL, 'U'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(cli, c, optarg)) continue;
        if (c == 'r' && repair) {
            *repair = 1;
            continue;
        }
        if (c == 'U' && uploads) {
            *uploads = optarg;
            continue;
        }
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        cli_usage_error(cli, "unknown option");
        return CLI_EXIT_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (cli->as_flag) {
        cli_usage_error(cli, "--as does not apply here: this command is for the administrator");
        return CLI_EXIT_USAGE;
    }
    return 0;
}
