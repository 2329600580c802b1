/* cluster/pg.c: the connection to the cluster's PostgreSQL (libpq).
 *
 * Connection parameters come from the URL or conninfo string as libpq reads
 * them, with libpq's PG* environment variables and PGPASSFILE for what
 * they leave out; this file adds only defaults the string may override
 * (connect_timeout, application_name) and a statement timeout per session.
 * A lost connection is reset by the next call, no sooner than a back-off
 * after a failed attempt, so a node or worker whose PostgreSQL restarts
 * keeps running and resumes by itself. Messages name the server as
 * host:port/dbname: a password never reaches a log, an error or a metric. */
#include "cluster/cluster_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int clu_is_url(const char *db)
{
    if (!db) return 0;
    if (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11)) return 1;
    static const char *const keys[] = {"host", "hostaddr", "dbname", "user", "port", "service"};
    while (isspace((unsigned char)*db))
        db++;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t l = strlen(keys[i]);
        if (strncmp(db, keys[i], l)) continue;
        const char *p = db + l;
        while (*p == ' ')
            p++;
        if (*p == '=') return 1;
    }
    return 0;
}

char *clu_redact(const char *db)
{
    if (!db) return NULL;
    rag_buf b = {0};
    if (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11)) {
        const char *rest = strstr(db, "://") + 3;
        const char *end = rest + strcspn(rest, "/?#");
        const char *at = NULL;
        for (const char *p = rest; p < end; p++)
            if (*p == '@') at = p; /* the last @ ends the userinfo */
        const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
        if (colon) {
            rag_buf_append(&b, db, (size_t)(colon - db));
            rag_buf_puts(&b, ":***");
            db = at;
        } else {
            rag_buf_append(&b, db, (size_t)(rest - db));
            db = rest;
        }
        /* ?password=... among the query parameters */
        const char *q = strchr(db, '?');
        if (!q) {
            rag_buf_puts(&b, db);
            return rag_buf_steal(&b);
        }
        rag_buf_append(&b, db, (size_t)(q - db));
        for (const char *p = q; *p;) {
            size_t l = 1 + strcspn(p + 1, "&#");
            if (!strncmp(p + 1, "password=", 9)) {
                rag_buf_append(&b, p, 10);
                rag_buf_puts(&b, "***");
            } else {
                rag_buf_append(&b, p, l);
            }
            p += l;
        }
        return rag_buf_steal(&b);
    }
    /* conninfo: password = value, the value bare or single-quoted */
    const char *p = db;
    while (*p) {
        const char *k = p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!strncmp(p, "password", 8)) {
            const char *e = p + 8;
            while (*e == ' ')
                e++;
            if (*e == '=') {
                e++;
                while (*e == ' ')
                    e++;
                rag_buf_append(&b, k, (size_t)(e - k));
                rag_buf_puts(&b, "***");
                if (*e == '\'') {
                    for (e++; *e && *e != '\''; e++)
                        if (*e == '\\' && e[1]) e++;
                    if (*e) e++;
                } else {
                    while (*e && !isspace((unsigned char)*e))
                        e++;
                }
                p = e;
                continue;
            }
        }
        /* copy one parameter as it is */
        int quoted = 0;
        for (; *p; p++) {
            if (*p == '\\' && p[1]) {
                p++;
                continue;
            }
            if (*p == '\'') quoted = !quoted;
            if (!quoted && isspace((unsigned char)*p) && p > k && !isspace((unsigned char)p[-1]))
                break;
        }
        rag_buf_append(&b, k, (size_t)(p - k));
    }
    return rag_buf_steal(&b);
}

void clu_default_params(clu_params *p)
{
    memset(p, 0, sizeof *p);
    p->statement_timeout_s = 30;
    p->connect_timeout_s = 10;
}

/* host:port/dbname from what libpq makes of the string (no password). */
static void describe(const char *url, char *out, size_t n)
{
    const char *host = NULL, *port = NULL, *dbname = NULL, *user = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !*o->val) continue;
        if (!strcmp(o->keyword, "host") || (!host && !strcmp(o->keyword, "hostaddr")))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            dbname = o->val;
        else if (!strcmp(o->keyword, "user"))
            user = o->val;
    }
    if (!host) host = getenv("PGHOST");
    if (!port) port = getenv("PGPORT");
    if (!dbname) dbname = getenv("PGDATABASE");
    if (!user) user = getenv("PGUSER");
    snprintf(out, n, "PostgreSQL %s:%s/%s", host && *host ? host : "localhost",
             port && *port ? port : "5432",
             dbname && *dbname ? dbname
             : user            ? user
                               : "postgres");
    PQconninfoFree(opts);
}

/* libpq's message, one line, without its trailing newline. */
static const char *pq_msg(const char *m, char *buf, size_t n)
{
    snprintf(buf, n, "%s", m && *m ? m : "unknown error");
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = (p[1] ? ' ' : 0);
    return buf;
}

static int session_setup(clu *c, rag_err *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SET statement_timeout = %d", c->p.statement_timeout_s * 1000);
    PGresult *r = PQexec(c->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        char m[512];
        return rag_err_set(err, RAG_ERR_IO, "%s: %s", c->name,
                           pq_msg(PQerrorMessage(c->conn), m, sizeof m));
    }
    return 0;
}

static int unreachable(clu *c, rag_err *err)
{
    char m[512];
    c->backoff = c->backoff ? c->backoff * 2 : 0.25;
    if (c->backoff > 5) c->backoff = 5;
    c->retry_at = rag_now_s() + c->backoff;
    return rag_err_set(err, RAG_ERR_IO, "%s is unreachable: %s", c->name,
                       pq_msg(PQerrorMessage(c->conn), m, sizeof m));
}

int clu_ensure(clu *c, rag_err *err)
{
    if (PQstatus(c->conn) == CONNECTION_OK) return 0;
    if (c->in_tx)
        return rag_err_set(err, RAG_ERR_IO, "%s: the connection was lost in a transaction",
                           c->name);
    double now = rag_now_s();
    if (now < c->retry_at)
        return rag_err_set(err, RAG_ERR_IO, "%s is unreachable (next attempt in %.1f s)", c->name,
                           c->retry_at - now);
    PQreset(c->conn);
    if (PQstatus(c->conn) != CONNECTION_OK) return unreachable(c, err);
    int rc = session_setup(c, err);
    if (rc) return rc;
    if (c->backoff) rag_log(RAG_LOG_INFO, "%s: connected again", c->name);
    c->backoff = 0;
    return 0;
}

static int pq_fail(clu *c, PGresult *r, const char *what, rag_err *err)
{
    char m[512];
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c->conn);
    if (!msg || !*msg) msg = PQerrorMessage(c->conn);
    if (PQstatus(c->conn) != CONNECTION_OK) {
        c->retry_at = 0; /* the next call tries at once */
        return rag_err_set(err, RAG_ERR_IO, "%s: %s: connection lost: %s", c->name, what,
                           pq_msg(msg, m, sizeof m));
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = state && !strcmp(state, "57014") ? RAG_ERR_INTERRUPTED : RAG_ERR_DB;
    return rag_err_set(err, code, "%s: %s: %s", c->name, what, pq_msg(msg, m, sizeof m));
}

PGresult *clu_query(clu *c, const char *sql, int n, const char *const *vals, const int *lens,
                    const int *binary, rag_err *err)
{
    if (clu_ensure(c, err)) return NULL;
    PGresult *r = PQexecParams(c->conn, sql, n, NULL, vals, lens, binary, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
    /* the statement's first words say what failed */
    char what[48];
    snprintf(what, sizeof what, "%.*s", (int)strcspn(sql, "(\n"), sql);
    pq_fail(c, r, what, err);
    PQclear(r);
    return NULL;
}

int clu_run(clu *c, const char *sql, int n, const char *const *vals, rag_err *err)
{
    PGresult *r = clu_query(c, sql, n, vals, NULL, NULL, err);
    if (!r) return err->code ? err->code : RAG_ERR_DB;
    PQclear(r);
    return 0;
}

int clu_begin(clu *c, const char *how, rag_err *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN%s%s", how ? " " : "", how ? how : "");
    int rc = clu_run(c, sql, 0, NULL, err);
    if (!rc) c->in_tx = 1;
    return rc;
}

int clu_commit(clu *c, rag_err *err)
{
    int rc = clu_run(c, "COMMIT", 0, NULL, err);
    c->in_tx = 0;
    return rc;
}

void clu_rollback(clu *c)
{
    if (!c->in_tx) return;
    c->in_tx = 0;
    if (PQstatus(c->conn) != CONNECTION_OK) return;
    PQclear(PQexec(c->conn, "ROLLBACK"));
}

int clu_log_lock(clu *c, rag_err *err)
{
    return clu_run(c, "SELECT pg_advisory_xact_lock(7261670001)", 0, NULL, err);
}

int clu_log_append(clu *c, const char *kind, int64_t ref, rag_err *err)
{
    char r[24];
    snprintf(r, sizeof r, "%lld", (long long)ref);
    const char *v[] = {kind, r};
    return clu_run(c, "INSERT INTO changes(kind, ref) VALUES ($1, $2)", 2, v, err);
}

int clu_log_head(clu *c, int64_t *seq, rag_err *err)
{
    PGresult *r =
        clu_query(c, "SELECT coalesce(max(seq), 0) FROM changes", 0, NULL, NULL, NULL, err);
    if (!r) return err->code;
    *seq = clu_col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

char *clu_col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : rag_xstrdup(PQgetvalue(r, row, col));
}

int64_t clu_col_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* PostgreSQL's notices (e.g. "relation ... already exists, skipping") are
 * not the user's business. */
static void no_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int clu_open(const char *url, const clu_params *p, clu **out, rag_err *err)
{
    *out = NULL;
    clu *c = rag_xcalloc(1, sizeof *c);
    if (p)
        c->p = *p;
    else
        clu_default_params(&c->p);
    describe(url, c->name, sizeof c->name);
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", c->p.connect_timeout_s);
    /* defaults first: what the URL says overrides them */
    const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", NULL};
    const char *vals[] = {timeout, "rag", "UTF8", url, NULL};
    c->conn = PQconnectdbParams(keys, vals, 1);
    int rc;
    if (!c->conn) {
        rc = rag_err_set(err, RAG_ERR_NOMEM, "%s: cannot make a connection", c->name);
    } else if (PQstatus(c->conn) != CONNECTION_OK) {
        char m[512];
        rc = rag_err_set(err, RAG_ERR_IO, "%s is unreachable: %s", c->name,
                         pq_msg(PQerrorMessage(c->conn), m, sizeof m));
    } else {
        PQsetNoticeProcessor(c->conn, no_notices, NULL);
        rc = session_setup(c, err);
        if (!rc) rc = clu_migrate(c, err);
    }
    if (rc) {
        clu_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void clu_close(clu *c)
{
    if (!c) return;
    if (c->conn) PQfinish(c->conn);
    rag_free(c);
}

const char *clu_name(const clu *c)
{
    return c->name;
}

const char *clu_id(const clu *c)
{
    return c->id;
}
