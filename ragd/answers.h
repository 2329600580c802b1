/* ragd/answers.h: the answers ragd gives, recorded so that the key that got
 * one may rate it (POST /v1/feedback).
 *
 * A thread of its own, with its own connection to the database, writes
 * what the chat handler hands it: ragd_answers_record copies the answer
 * into a bounded queue and returns, so that an answer never waits for the
 * database; the thread writes everything queued in one transaction. A
 * record that cannot be written (the queue full, a database error) is
 * logged and counted, never an error to the client. Ratings go through the
 * same thread, after every answer queued before them: an answer can be
 * rated as soon as its response has arrived. Now and then the thread
 * deletes answers older than keep_days and the oldest beyond max_answers
 * (at start, after every PRUNE_EVERY answers recorded, and hourly).
 * Nothing here knows about HTTP. */
#ifndef RAG_RAGD_ANSWERS_H
#define RAG_RAGD_ANSWERS_H

#include "base/err.h"
#include "store/store.h"

#include <stdint.h>

typedef struct ragd_answers ragd_answers;

typedef struct ragd_answers_params {
    const char *db_path;
    long keep_days;   /* 0: nothing is recorded (and what was is deleted) */
    long max_answers; /* the most kept (0: no bound) */
} ragd_answers_params;

/* Opens the connection and starts the thread (after a first pruning). */
int ragd_answers_open(const ragd_answers_params *p, ragd_answers **out, rag_err *err);
/* Writes what is queued, then stops the thread and closes. */
void ragd_answers_close(ragd_answers *a);

/* Queues a copy of ans (created_at 0: now) for writing. Never blocks on
 * the database. */
void ragd_answers_record(ragd_answers *a, const store_answer *ans);
/* Rates key_name's answer `id` (store_answer_rate) once every answer
 * queued before is written: 1 rated (*replaced: it had a rating), 0 no
 * such answer of that key, or a negative error. */
int ragd_answers_rate(ragd_answers *a, const char *key_name, const char *id, const char *rating,
                      const char *comment, int *replaced, rag_err *err);

typedef struct ragd_answers_stats {
    uint64_t recorded; /* answers written */
    uint64_t failed;   /* answers that could not be (queue full, database error) */
    uint64_t rated_up, rated_down;
} ragd_answers_stats;

void ragd_answers_stats_get(ragd_answers *a, ragd_answers_stats *out);

#endif
