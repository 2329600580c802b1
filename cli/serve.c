/* cli/serve.c: `rag serve`: runs the query daemon, the ragd program. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* `rag serve` is the daemon: the `ragd` program beside this one (the same
 * build or installation), else the first `ragd` on PATH. The daemon is its
 * own program (ragd/), so the command line does not carry the HTTP server. */
int cli_serve(int argc, char **argv)
{
    (void)argc;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    argv[0] = "ragd";
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + sizeof "/ragd" <= sizeof self) {
            strcpy(slash, "/ragd");
            if (!access(self, X_OK)) execv(self, argv);
        }
    }
    execvp("ragd", argv);
    fprintf(stderr, "rag serve: cannot run ragd (%s); install it beside rag or on PATH\n",
            strerror(errno));
    return CLI_EXIT_ERROR;
}
