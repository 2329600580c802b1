/* cli/bench_int.h: what `rag bench-model` and `rag bench-embed` share
 * (cli/bench_machine.c): this machine's limits, measured in the same run,
 * and their options. Private to cli/. */
#ifndef RAG_CLI_BENCH_INT_H
#define RAG_CLI_BENCH_INT_H

#include "cli/cli.h"

typedef struct cli_machine {
    int threads;
    double bandwidth, sgemm;
    double int8;          /* 8-bit multiply-adds per second of the integer path, 0: float path */
    const char *qgemm;    /* the integer prefill path (llm_qgemm_name) */
    const char *coretype; /* OPENBLAS_CORETYPE, or NULL */
} cli_machine;

/* Measures the read bandwidth, the sgemm peak and the integer peak with
 * `threads` threads. */
void cli_measure_machine(int threads, cli_machine *m);
/* Adds the limits to a benchmark's JSON, or prints them as one line. */
void cli_machine_json(cJSON *j, const cli_machine *m);
void cli_machine_print(const cli_machine *m);

/* Resident memory: the heap and the mapped weights the run touched. */
double cli_rss_bytes(void);

/* --prefill NAME: forces the integer prefill path (llm_qgemm_name's
 * names); 0, or CLI_EXIT_USAGE with the error printed. */
int cli_bench_prefill_path(cli_ctx *cli, const char *name);

/* An integer from lo to hi: 0, or -1 (nothing printed). */
int cli_bench_parse_int(const char *s, int lo, int hi, int *out);

#endif
