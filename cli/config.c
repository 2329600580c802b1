/* cli/config.c: `rag config`: every setting `rag` (or ragd) resolves, its
 * value and where it came from (rag/settings.h). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: rag config [--json] [--keys [rag|ragd]] [--config FILE] [--db PATH]\n"
    "\n"
    "Prints every setting of rag as this command line would use it: its value\n"
    "and where it came from (a flag, an environment variable, FILE:LINE of the\n"
    "config file, or the default). API keys and passwords in URLs are hidden.\n"
    "ragd --print-config does the same for the daemon.\n"
    "\n"
    "  --json            {key: {value, from}} as JSON\n"
    "  --keys [PROGRAM]  only the names of the keys PROGRAM reads (default rag),\n"
    "                    with their type, default, variable, flag and help\n";

/* The table as documentation: one line per key of `program`. */
static void print_keys(unsigned program)
{
    static const char *const types[] = {"string", "choice", "integer", "size", "number", "bool"};
    for (size_t i = 0; i < rag_n_settings; i++) {
        const rag_setting_def *d = &rag_setting_defs[i];
        if (!(d->programs & program)) continue;
        printf("%s\t%s", d->key, types[d->type]);
        if (d->type == RAG_SET_INT || d->type == RAG_SET_SIZE || d->type == RAG_SET_REAL)
            printf(" %s%.15g..%.15g]", d->lo_open ? "(" : "[", d->lo, d->hi);
        if (d->type == RAG_SET_CHOICE) printf(" (%s)", d->choices);
        printf("\t%s\t%s\t%s\t%s\n", d->def ? d->def : "-", d->env ? d->env : "-",
               d->flag ? d->flag : "-", d->help);
    }
}

int cli_config(int argc, char **argv)
{
    cli_ctx cli = {.cmd = "config"};
    int keys = 0;
    unsigned program = RAG_PROG_RAG;
    for (int i = 1; i < argc; i++) {
        int c = 0;
        if (!strcmp(argv[i], "--json"))
            c = 'J';
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--keys")) {
            keys = 1;
            if (i + 1 < argc && (!strcmp(argv[i + 1], "rag") || !strcmp(argv[i + 1], "ragd")))
                program = !strcmp(argv[++i], "ragd") ? RAG_PROG_RAGD : RAG_PROG_RAG;
            continue;
        } else if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "--db")) && i + 1 < argc) {
            c = argv[i][2] == 'c' ? 'C' : 'D';
            i++;
        }
        if (!c || !cli_common_opt(&cli, c, argv[i]))
            return cli_usage_error(&cli, "unexpected argument '%s'", argv[i]);
    }
    if (keys) {
        print_keys(program);
        return CLI_EXIT_OK;
    }
    int rc = cli_setup(&cli, 0);
    if (!rc) rag_settings_print(&cli.set, stdout, cli.json);
    cli_teardown(&cli);
    return rc;
}
