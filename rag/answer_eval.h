/* rag/answer_eval.h: the measures of answer evaluation (`rag eval --answers
 * FILE`): the questions file, one question's scores, and the totals.
 *
 * Nothing here retrieves or generates: the command runs each question
 * through the system, describes what came out (rag_answer_output: the
 * answer, whether it abstained, the passages it cited and those it was
 * given) and hands it here with the question's gold data. Only the optional
 * judge talks to a server.
 *
 * The questions file: JSON Lines, one object per line; blank lines and
 * lines whose first non-blank character is '#' are skipped.
 *   "id"        string, optional (default "line N"); unique in the file
 *   "question"  string, required, not blank
 *   "history"   optional array of {"role": "user"|"assistant", "content": string},
 *               oldest first, at most RAG_ANSWER_HISTORY_MAX turns
 *   "as"        optional: roles to ask as, "a,b" or ["a", "b"] (labels as --as takes them)
 *   "answer"    the gold answer, a non-empty string; null or absent: the documents
 *               hold no answer (the system should abstain)
 *   "documents" optional array of gold document ids (absent: none); ids as `rag eval`
 *               names documents (the id given at ingest, else the file name without
 *               its extension); repeated ids are kept once
 *   "evidence"  optional array of strings: gold sentences (kept, not scored)
 *   "kind"      optional string, kept (for grouping the report)
 * A field whose name starts with '_' is a comment and ignored; any other
 * field is refused (a misspelt "answers" would otherwise turn a question
 * into an unanswerable one). Strings must be valid UTF-8. Limits:
 * RAG_ANSWER_ITEMS_MAX items, lines of RAG_ANSWER_LINE_MAX bytes. Errors
 * read "FILE:LINE: FIELD: what is wrong".
 *
 * Measures of one question (NAN where a measure is not defined for it; the
 * totals average each measure over the questions where it is defined):
 *
 *   doc_recall          distinct gold documents among the passages given to
 *                       the answerer / gold documents. Defined when the item
 *                       names at least one gold document.
 *   citation_precision  cited passages whose document is gold / cited passages.
 *                       Defined when something was cited and the item names at
 *                       least one gold document.
 *   f1, exact_match     SQuAD's: both texts normalised (citation markers such as
 *                       [1], [2][3], [1, 2] removed from the system's answer;
 *                       case folded and diacritics removed with rag_utf8_fold;
 *                       every character that is neither a letter, mark, number
 *                       nor space deleted, so "don't" -> "dont"; the articles
 *                       a, an, the dropped; split at spaces, and a CJK character
 *                       is a token of its own); exact_match is 1 when the token
 *                       lists are equal; f1 is the harmonic mean of precision
 *                       and recall of the bag of tokens (both empty: 1, one
 *                       empty: 0). Defined for answerable questions (those with
 *                       a gold answer); an abstention counts as an empty answer.
 *   abstention          per question, the system abstained or answered; over the
 *                       set: precision = abstained on unanswerable / abstained,
 *                       recall = abstained on unanswerable / unanswerable, and
 *                       the wrong-abstention rate = abstained on answerable /
 *                       answerable.
 *   faithfulness        lexical, always: the answer is cut into sentences
 *                       (rag_sentence_len) after its markers are taken out; a
 *                       marker belongs to the sentence it stands in or ends
 *                       ("x [1]." and "x. [1] Next" both cite [1] for x). A
 *                       sentence's content words are its words (split at every
 *                       character that is not a letter, mark or number; folded)
 *                       that are not English stop words nor a single letter,
 *                       stemmed crudely (rag_answer_stem), counted once each.
 *                       A sentence with fewer than 2 is skipped (not counted).
 *                       The others are checked against the cited passages its
 *                       markers name, or, when it names none of them, against
 *                       every passage the answer cited: it is supported when at
 *                       least 60 % of its content words appear in one such
 *                       passage (5 * found >= 3 * words). Score = supported /
 *                       counted; not defined when nothing is counted or the
 *                       system abstained. An answer that cites nothing has no
 *                       supported sentence.
 *   judge_faithfulness  the same share by a judge model (rag_judge_ask): every
 *                       sentence of the answer is judged (none skipped). Defined
 *                       when a judge answered for a non-empty answer.
 */
#ifndef RAG_RAG_ANSWER_EVAL_H
#define RAG_RAG_ANSWER_EVAL_H

#include "base/buf.h"
#include "base/err.h"
#include "llm/llm.h"

#include <stddef.h>

enum {
    RAG_ANSWER_ITEMS_MAX = 100000, /* items in one file */
    RAG_ANSWER_LINE_MAX = 1 << 20, /* bytes of one line, its end excluded */
    RAG_ANSWER_HISTORY_MAX = 64,   /* turns of one item's history */
    RAG_ANSWER_SUPPORT_NUM = 3,    /* supported: found / words >= 3 / 5 */
    RAG_ANSWER_SUPPORT_DEN = 5,
    RAG_ANSWER_MIN_CONTENT_WORDS = 2, /* fewer: the sentence is skipped */
};

/* ---- the questions file ---------------------------------------------------------- */

typedef struct rag_answer_item {
    char *id;              /* "line N" when the file gives none */
    int line;              /* its line in the file, from 1 */
    char *question;        /* the text as given */
    llm_chat_msg *history; /* earlier turns, oldest first (roles and texts owned):
                              rag_prompt_input.history takes them as they are */
    size_t n_history;
    char *as;           /* "as": sorted, unique, lowercased roles joined with ','
                           (rag_principal_from_roles takes it); NULL: not given */
    char *answer;       /* the gold answer; NULL: none in the documents */
    rag_strv documents; /* gold document ids, in the file's order, each once */
    rag_strv evidence;  /* gold sentences */
    char *kind;         /* NULL: not given */
} rag_answer_item;

typedef struct rag_answer_items {
    rag_answer_item *v; /* in the file's order */
    size_t n, cap;
} rag_answer_items;

/* Loads a questions file (format above). On failure out is empty and err
 * names the file, the line and the field. */
int rag_answer_items_load(const char *path, rag_answer_items *out, rag_err *err);
void rag_answer_items_free(rag_answer_items *items);

/* ---- what the system did for one question ---------------------------------------- */

/* A passage the answer cited. */
typedef struct rag_answer_passage {
    int n;              /* the number the answer's markers use for it ([n]); 0: its
                           position in the array plus one */
    const char *doc_id; /* its document, named as the items name gold documents */
    const char *text;   /* what the answerer saw of it */
} rag_answer_passage;

/* Milliseconds each stage took (0 when not measured or not run). */
typedef struct rag_answer_timings {
    double retrieve_ms, prompt_ms, generate_ms, judge_ms;
} rag_answer_timings;

typedef struct rag_answer_output {
    int abstained;                   /* the system said the documents hold no answer */
    const char *text;                /* the answer, with its [n] markers; NULL: "" */
    const rag_answer_passage *cited; /* the passages the answer cites */
    size_t n_cited;
    const char *const *given; /* documents of the passages given to the answerer
                                 (one per passage: repeats allowed) */
    size_t n_given;
    rag_answer_timings timings; /* judge_ms is taken from the judge's verdicts */
} rag_answer_output;

/* ---- single measures (pure functions) --------------------------------------------- */

/* Appends SQuAD's normalised form of text[0..n) to out (tokens joined by one
 * space); with strip_markers, citation markers are removed first. Invalid
 * UTF-8 is repaired (U+FFFD) first. */
void rag_answer_normalize(const char *text, size_t n, int strip_markers, rag_buf *out);
/* Token F1 and exact match (0 or 1) of a system answer (markers stripped)
 * against a gold answer. */
double rag_answer_f1(const char *answer, const char *gold);
double rag_answer_exact_match(const char *answer, const char *gold);

/* Appends text with its citation markers and the blanks before each removed. */
void rag_answer_strip_markers(const char *text, size_t n, rag_buf *out);

/* doc_recall and citation_precision as defined above (NAN when not defined);
 * *found (may be NULL) gets the numerator. */
double rag_answer_doc_recall(const rag_strv *gold, const char *const *given, size_t n_given,
                             size_t *found);
double rag_answer_citation_precision(const rag_strv *gold, const rag_answer_passage *cited,
                                     size_t n_cited, size_t *found);

/* The crude stem of a folded word (lowercase ASCII, or anything else left
 * as is), in place: a plural ending (-ies -> -y, -sses -> -ss, -es after
 * s/x/z/ch/sh, -s except after s, u, i), then -ing, -ed or -ly, then a
 * doubled final consonant other than l, s, z, then a final -e; each step
 * only when at least 3 letters stay and the word had more than 3. Both
 * sides of a comparison are stemmed alike, which is all it must do. */
void rag_answer_stem(char *word);
/* 1 when the folded word is one of the English stop words. */
int rag_answer_stopword(const char *word);
/* Appends the stemmed content words of text[0..n) to out, in order, repeats
 * kept (see faithfulness above). */
void rag_answer_content_words(const char *text, size_t n, rag_strv *out);

/* One sentence of an answer, as the faithfulness checks see it. */
typedef struct rag_answer_claim {
    char *text; /* the sentence without its markers (owned) */
    int *cites; /* the numbers of cited passages its markers name, in order, each
                   once (markers naming no cited passage are left out) */
    size_t n_cites;
    size_t n_words; /* distinct content words */
    size_t n_found; /* the most of them found in one passage it was checked against */
    int lexical;    /* 1 supported, 0 not, -1 skipped (fewer than 2 content words) */
    int judge;      /* the judge's verdict: 1, 0, or -1 not judged */
} rag_answer_claim;

/* The sentences of an answer with their markers and lexical verdicts
 * (judge -1). *out is an owned array (free with rag_answer_claims_free);
 * sentences without a letter, mark or number are left out. */
void rag_answer_claims(const char *text, const rag_answer_passage *cited, size_t n_cited,
                       rag_answer_claim **out, size_t *n);
void rag_answer_claims_free(rag_answer_claim *c, size_t n);

/* ---- the judge ------------------------------------------------------------------- */

/* A model behind an OpenAI-compatible server judges each sentence of an
 * answer against the cited passages, at temperature 0, through the
 * project's remote generator (rag_generate with rag_gen_remote: POST
 * {url}/chat/completions, streamed; a list of URLs is a pool). */
typedef struct rag_judge_params {
    const char *url;     /* base URL(s), comma-separated: "http://127.0.0.1:8000/v1" */
    const char *model;   /* the "model" field */
    const char *api_key; /* NULL: none */
    double timeout;      /* seconds for one request (default 120) */
    int retries;         /* extra attempts on 429, 5xx and failed connections (default 2) */
    int max_tokens;      /* of the reply; 0 (default): 32 + 8 per sentence */
} rag_judge_params;

void rag_judge_default_params(rag_judge_params *p);

/* The judge's instructions (the system message). */
extern const char *const rag_judge_system_prompt;

/* The user message asking about claims[0..n) of an answer that cites
 * cited[0..n_cited) (owned): the passages as "[n] (doc) text", then the
 * sentences numbered from 1 with the markers they carried, then the request
 * for a JSON array of n booleans. */
char *rag_judge_prompt(const rag_answer_passage *cited, size_t n_cited,
                       const rag_answer_claim *claims, size_t n);

/* Reads a judge's reply: the first '[' ... ']' of it that parses as a JSON
 * array of n verdicts (text around it, a code fence, arrays before it of
 * another shape, such as a citation "[1]", are passed over). A verdict is
 * true/false, or the strings "true"/"false", "yes"/"no",
 * "supported"/"unsupported"/"not supported" (any case).
 * Fills verdicts[0..n) with 1 or 0; RAG_ERR_FORMAT when no such array is
 * there. */
int rag_judge_parse(const char *reply, size_t n, int *verdicts, rag_err *err);

/* The judge's verdicts on the sentences of one answer, in the order of
 * rag_answer_claims. */
typedef struct rag_judge_verdicts {
    int *v; /* owned; 1 supported, 0 not */
    size_t n;
    double ms; /* the time the judge took */
} rag_judge_verdicts;

/* Asks the judge about every sentence of o's answer. Nothing is asked when
 * the system abstained or the answer has no sentence (n = 0), nor when it
 * cites nothing (every verdict 0). A failed request, an error from the
 * server or a reply without the verdicts is an error naming the server
 * ("judge server URL: ..."). */
int rag_judge_ask(const rag_judge_params *p, const rag_answer_output *o, rag_judge_verdicts *out,
                  rag_err *err);
void rag_judge_verdicts_free(rag_judge_verdicts *v);

/* ---- one question ---------------------------------------------------------------- */

typedef struct rag_answer_score {
    int answerable; /* the item has a gold answer */
    int abstained;
    double doc_recall; /* NAN: not defined (see above), for every double below */
    size_t n_gold, n_gold_given;
    double citation_precision;
    size_t n_cited, n_cited_gold;
    double f1, exact_match;
    double faithfulness;
    size_t n_counted, n_supported;
    double judge_faithfulness;
    size_t n_judged, n_judge_supported;
    rag_answer_claim *claims; /* the answer's sentences (owned); none when it abstained */
    size_t n_claims;
    rag_answer_timings timings;
} rag_answer_score;

/* Scores one question. judge: the verdicts of rag_judge_ask on the same
 * output, or NULL; verdicts whose count differs from the answer's sentences
 * are not used. */
void rag_answer_evaluate(const rag_answer_item *item, const rag_answer_output *o,
                         const rag_judge_verdicts *judge, rag_answer_score *out);
void rag_answer_score_free(rag_answer_score *s);

/* ---- totals ---------------------------------------------------------------------- */

/* A measure summed over the questions where it is defined. */
typedef struct rag_answer_mean {
    double sum;
    size_t n;
    double mean; /* sum / n after rag_answer_totals_finish; NAN when n = 0 */
} rag_answer_mean;

typedef struct rag_answer_totals {
    size_t n_questions, n_answerable, n_unanswerable;
    size_t n_abstained, n_abstained_unanswerable, n_abstained_answerable;
    rag_answer_mean doc_recall, citation_precision, f1, exact_match;
    rag_answer_mean faithfulness, judge_faithfulness;
    /* set by rag_answer_totals_finish; NAN when the denominator is 0 */
    double abstention_precision, abstention_recall, wrong_abstention_rate;
    /* sentences over all questions */
    size_t n_counted, n_supported, n_judged, n_judge_supported;
    /* stage times: means over the questions where the stage took time (> 0) */
    rag_answer_mean retrieve_ms, prompt_ms, generate_ms, judge_ms;
} rag_answer_totals;

void rag_answer_totals_init(rag_answer_totals *t);
void rag_answer_totals_add(rag_answer_totals *t, const rag_answer_score *s);
/* Computes the means and the abstention rates (may be called again after
 * more rag_answer_totals_add). */
void rag_answer_totals_finish(rag_answer_totals *t);

#endif
