/* The ids the API shows: a keyed permutation of the database's numbers,
 * fixed width, in no visible order, kept per database. */
#include "base/mem.h"
#include "rag/ids.h"
#include "test.h"

#include <string.h>
#include <unistd.h>

static void test_round_trip_and_shape(void)
{
    rag_ids k = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    char s[RAG_ID_LEN + 1], prev[RAG_ID_LEN + 1] = "";
    int increasing = 0, same_prefix = 0;
    for (int64_t id = 1; id <= 2000; id++) {
        rag_id_format(&k, RAG_ID_DOCUMENT, id, s);
        CHECK_INT((int)strlen(s), RAG_ID_LEN);
        CHECK_INT((int)strspn(s, "0123456789abcdef"), RAG_ID_LEN);
        int64_t back = -1;
        CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, s, &back), 0);
        CHECK(back == id);
        if (id > 1 && strcmp(s, prev) > 0) increasing++;
        if (id > 1 && !strncmp(s, prev, 8)) same_prefix++;
        memcpy(prev, s, sizeof prev);
    }
    /* in no order: about half go up, and neighbours share nothing */
    printf("    consecutive ids that compare greater: %d of 1999; sharing 8 leading digits: %d\n",
           increasing, same_prefix);
    CHECK(increasing > 800 && increasing < 1200);
    CHECK(same_prefix < 5);
    char c[RAG_ID_LEN + 1];
    rag_id_format(&k, RAG_ID_DOCUMENT, 7, s);
    rag_id_format(&k, RAG_ID_CHUNK, 7, c);
    CHECK(strcmp(s, c) != 0);
    rag_ids other = {1, 2};
    rag_id_format(&other, RAG_ID_DOCUMENT, 7, c);
    CHECK(strcmp(s, c) != 0);
}

static void test_parse_refuses(void)
{
    rag_ids k = {1, 2};
    int64_t id;
    CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, "1", &id), -1);
    CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, "", &id), -1);
    CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, "0123456789ABCDEF", &id), -1);
    CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, "0123456789abcdeg", &id), -1);
    CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, "0123456789abcdef0", &id), -1);
    /* every well-formed id parses: to a possible number, or 0 (none) */
    CHECK_INT(rag_id_parse(&k, RAG_ID_DOCUMENT, "ffffffffffffffff", &id), 0);
    CHECK(id >= 0);
}

static void test_key_kept_in_the_database(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ids.db", test_tmpdir());
    unlink(path);
    store *s = NULL;
    rag_err err = {0};
    CHECK_INT(store_open(path, NULL, &s, &err), 0);
    rag_ids a, b;
    CHECK_INT(rag_ids_load(s, &a, &err), 0);
    store_close(s);
    CHECK_INT(store_open(path, NULL, &s, &err), 0);
    CHECK_INT(rag_ids_load(s, &b, &err), 0);
    store_close(s);
    CHECK(a.k0 == b.k0 && a.k1 == b.k1);
    CHECK(a.k0 || a.k1);
    snprintf(path, sizeof path, "%s/ids2.db", test_tmpdir());
    unlink(path);
    CHECK_INT(store_open(path, NULL, &s, &err), 0);
    CHECK_INT(rag_ids_load(s, &b, &err), 0);
    store_close(s);
    CHECK(a.k0 != b.k0 || a.k1 != b.k1); /* another database, another key */
}

int main(void)
{
    RUN(test_round_trip_and_shape);
    RUN(test_parse_refuses);
    RUN(test_key_kept_in_the_database);
    return test_summary();
}
