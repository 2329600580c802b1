/* ragd/api_int.h: what the API handlers (the ragd/api files) share: reading fields
 * of a JSON body with errors that name the field, and the caller's
 * principal narrowed to the labels a request asks for. */
#ifndef RAG_RAGD_API_INT_H
#define RAG_RAGD_API_INT_H

#include "ragd/http.h"
#include "rag/retrieve.h"

/* Each getter returns 0 (with *out set, or left alone when the field is
 * absent and not required) or -1 after answering 400 with a message that
 * names the field ("rag.k: expected an integer from 1 to 50"). */
int ragd_api_string(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                    size_t max_len, int required, const char **out);
int ragd_api_int(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                 long lo, long hi, long *out);
int ragd_api_number(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                    double lo, double hi, double *out);
int ragd_api_bool(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                  int *out);

/* Retrieval settings a request may give (search body, or chat's "rag"
 * object): k, mode, rerank, labels, chunks. */
typedef struct ragd_api_retrieval {
    long k;
    const char *mode; /* keyword, vector, hybrid, or NULL (hybrid when vectors exist) */
    int rerank, chunks;
    rag_principal who; /* the caller, narrowed to the labels asked for (owned) */
} ragd_api_retrieval;

/* Reads the settings from obj (may be NULL) with defaults from the config
 * ([search]) and chunks_default; k_max bounds k. Returns -1 after answering
 * 400/403. */
int ragd_api_retrieval_read(ragd_request *req, ragd_response *resp, const cJSON *obj,
                            const char *where, long k_default, long k_max, int chunks_default,
                            ragd_api_retrieval *out);
void ragd_api_retrieval_free(ragd_api_retrieval *r);
/* Retrieval parameters for those settings. */
void ragd_api_retrieve_params(const ragd_request *req, const ragd_api_retrieval *r,
                              rag_retrieve_params *p);

/* Seconds since the epoch (the "created" fields). */
long long ragd_api_unix_time(void);

#endif
