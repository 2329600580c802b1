/* ragd/api_feedback.c: POST /v1/feedback, a rating of an answer.
 *
 * {"id": "chatcmpl-...", "rating": "up" | "down", "comment": "..."} rates
 * the answer of that id (the "id" of the chat response, or of any chunk of
 * its stream); rating it again replaces the rating and the comment. Only
 * the key that got the answer may rate it: the answer is looked up by the
 * caller's key and the id together (store_answer_rate), so another key's
 * answer is not found, by the same lookup as an id nobody has, and both
 * are the same 404. Answers are recorded by the chat handler through
 * ragd/answers.h, which takes the rating after every answer queued before
 * it: an answer may be rated as soon as it has arrived. */
#include "ragd/api_int.h"

#include <string.h>

/* The longest comment, in bytes. */
enum { MAX_COMMENT = 4000, MAX_ID = 128 };

void ragd_api_feedback(ragd_request *req, ragd_response *resp)
{
    const char *id = NULL, *rating = NULL, *comment = NULL;
    if (ragd_api_string(resp, req->json, "id", NULL, MAX_ID, 1, &id) ||
        ragd_api_string(resp, req->json, "rating", NULL, 16, 1, &rating) ||
        ragd_api_string(resp, req->json, "comment", NULL, MAX_COMMENT, 0, &comment))
        return;
    if (strcmp(rating, "up") && strcmp(rating, "down")) {
        ragd_error(resp, 400, "rating", "rating: '%s' is not up or down", rating);
        return;
    }
    if (!*id) {
        ragd_error(resp, 400, "id", "id: expected the id of an answer (chatcmpl-...)");
        return;
    }
    if (comment && !*comment) comment = NULL;
    int replaced = 0;
    rag_err err = {0};
    int rc = ragd_answers_rate(ragd_engine_answers(req->engine), req->key_name, id, rating, comment,
                               &replaced, &err);
    if (rc < 0) {
        ragd_error_from(resp, &err);
        return;
    }
    if (rc == 0) { /* never rated by this key, whoever else may have an answer of that id */
        ragd_error(resp, 404, "id", "id: this key was given no answer with this id");
        return;
    }
    resp->json = cJSON_CreateObject();
    cJSON_AddStringToObject(resp->json, "id", id);
    cJSON_AddStringToObject(resp->json, "rating", rating);
    if (comment)
        cJSON_AddStringToObject(resp->json, "comment", comment);
    else
        cJSON_AddNullToObject(resp->json, "comment");
    cJSON_AddBoolToObject(resp->json, "updated", replaced);
}
