/* cluster/: what needs no server: telling a PostgreSQL URL from a file
 * path, hiding its password everywhere it could be written, and refusing a
 * server that is not there with a message that names it without the
 * password. (tests/integration/cluster.sh runs the rest against a real
 * PostgreSQL.) */
#include "cluster/cluster.h"
#include "base/mem.h"
#include "test.h"

#include <string.h>

static void test_is_url(void)
{
    CHECK(clu_is_url("postgresql://db.example.com/rag"));
    CHECK(clu_is_url("postgres://u:p@h:5433/d?sslmode=require"));
    CHECK(clu_is_url("host=db.example.com dbname=rag"));
    CHECK(clu_is_url("  dbname = rag"));
    CHECK(clu_is_url("service=rag"));
    CHECK(!clu_is_url("/srv/rag/rag.db"));
    CHECK(!clu_is_url("rag.db"));
    CHECK(!clu_is_url("./host=odd/rag.db"));
    CHECK(!clu_is_url("hostname=x")); /* not a libpq keyword */
    CHECK(!clu_is_url("http://db.example.com/"));
    CHECK(!clu_is_url(NULL));
}

static void check_redacted(const char *in, const char *want)
{
    char *got = clu_redact(in);
    CHECK_STR(got, want);
    CHECK(!strstr(got, "s3cret"));
    rag_free(got);
}

static void test_redact(void)
{
    check_redacted("postgresql://rag:s3cret@db.example.com:5432/rag",
                   "postgresql://rag:***@db.example.com:5432/rag");
    check_redacted("postgres://rag:s3cret@db/rag?sslmode=require&password=s3cret",
                   "postgres://rag:***@db/rag?sslmode=require&password=***");
    check_redacted("postgresql://rag:p@ss:s3cret@db/rag", "postgresql://rag:***@db/rag");
    check_redacted("postgresql://rag@db/rag", "postgresql://rag@db/rag");
    check_redacted("postgresql://db/rag?password=s3cret", "postgresql://db/rag?password=***");
    check_redacted("host=db password=s3cret dbname=rag", "host=db password=*** dbname=rag");
    check_redacted("host=db password = 's3cret with space' dbname=rag",
                   "host=db password = *** dbname=rag");
    check_redacted("password='it\\'s s3cret' host=db", "password=*** host=db");
    check_redacted("host=db dbname=rag", "host=db dbname=rag");
}

static void test_unreachable(void)
{
    /* a port nothing listens on, on loopback: refused at once */
    clu_params p;
    clu_default_params(&p);
    p.connect_timeout_s = 2;
    clu *c = NULL;
    rag_err err = {0};
    int rc = clu_open("postgresql://rag:s3cret@127.0.0.1:1/rag", &p, &c, &err);
    CHECK_INT(rc, RAG_ERR_IO);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "PostgreSQL 127.0.0.1:1/rag is unreachable");
    CHECK(!strstr(err.msg, "s3cret"));
}

int main(void)
{
    RUN(test_is_url);
    RUN(test_redact);
    RUN(test_unreachable);
    return test_summary();
}
