/* base/time.h: the monotonic clock (CLOCK_MONOTONIC), for deadlines and
 * durations. Never steps with the wall clock; its zero is arbitrary. */
#ifndef RAG_BASE_TIME_H
#define RAG_BASE_TIME_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC. */
static inline double rag_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds on CLOCK_MONOTONIC. */
static inline double rag_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
