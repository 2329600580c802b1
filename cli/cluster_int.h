/* cli/cluster_int.h: what the cluster commands of the command line share
 * (cli/jobs.c: rag jobs, rag ingest against a cluster; cli/worker.c). */
#ifndef RAG_CLI_CLUSTER_INT_H
#define RAG_CLI_CLUSTER_INT_H

#include "cli/cli.h"
#include "ingest/ingest.h"

/* rag ingest against a cluster: one job per file found under paths (p's
 * include, exclude and hidden rules) and per URL; with upload, each file's
 * bytes go in its job (for workers that cannot read this machine's
 * files); with wait, then cli_wait_jobs. labels NULL: known documents keep
 * theirs, new ones get default_labels. Returns an exit status. */
int cli_enqueue(cli_ctx *cli, const char *const *paths, size_t n, const ing_params *p,
                const char *labels, const char *default_labels, int upload, int wait);
/* Waits for jobs first..last to end, with one progress bar for them all,
 * then prints their outcomes and brings the replica up to date. */
int cli_wait_jobs(cli_ctx *cli, int64_t first, int64_t last, size_t n_failed);

#endif
