/* store/store.c: opening the database, transactions, SQLite error mapping.
 *
 * Connection settings and why:
 *   journal_mode=WAL    readers never block the writer (ragd reads while
 *                       `rag ingest` writes) and a killed writer leaves the
 *                       last committed state intact.
 *   synchronous=NORMAL  in WAL mode a process crash loses nothing committed;
 *                       only an OS crash/power loss may drop the newest
 *                       transactions, never corrupt the file.
 *   foreign_keys=ON     chunks and embeddings go with their document.
 *   busy_timeout        concurrent writers wait instead of failing.
 * A database file this creates is 0600 (its -wal and -shm follow).
 *
 * Checkpoints in bulk (store_bg_checkpoint). In WAL mode a commit appends
 * pages to the log, and every 1,000 pages the committing connection copies
 * the log into the database (a checkpoint: reads, writes, two syncs). In an
 * ingest, the writing thread is the one every file waits for. A passive
 * checkpoint may run on another connection while the writer goes on (it
 * copies what was committed when it began and never blocks or waits for
 * anyone), so for a bulk run the writer's connection stops checkpointing
 * (its WAL hook only counts pages) and a thread with a second connection
 * checkpoints each time the log has grown by 1,000 pages (40 MB of text
 * on 2 cores: 1.73-2.02 s -> 1.50-1.72 s). The log starts over only at a
 * commit that finds it all copied, which a writer that never pauses does
 * not: so past max_log_pages a commit waits for the copy to end. */
#include "store/store_int.h"
#include "base/file.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void store_default_params(store_params *p)
{
    memset(p, 0, sizeof *p);
    p->busy_timeout_ms = 10000;
}

char *store_default_path(void)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg == '/') return rag_xasprintf("%s/rag/rag.db", xdg);
    const char *home = getenv("HOME");
    return rag_xasprintf("%s/.local/share/rag/rag.db", home && *home ? home : ".");
}

int store_sqlite_err(store *s, int rc, const char *what, rag_err *err)
{
    int code = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED      ? RAG_ERR_BUSY
               : (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ? RAG_ERR_CORRUPT
                                                                               : RAG_ERR_DB;
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if (code == RAG_ERR_BUSY)
        return rag_err_set(err, code, "%s: %s: the database is locked by another process (%s)",
                           s ? s->path : "database", what, msg);
    return rag_err_set(err, code, "%s: %s: %s", s ? s->path : "database", what, msg);
}

int store_prepare(store *s, const char *sql, sqlite3_stmt **st, rag_err *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) return store_sqlite_err(s, rc, "prepare", err);
    return 0;
}

int store_cached(store *s, const char *sql, sqlite3_stmt **st, rag_err *err)
{
    struct store_stmt_cache *slot = &s->cache[0];
    for (int i = 0; i < STORE_STMT_CACHE; i++) {
        struct store_stmt_cache *c = &s->cache[i];
        if (c->sql && !strcmp(c->sql, sql)) {
            c->used = ++s->cache_clock;
            *st = c->st;
            return 0;
        }
        if (c->used < slot->used) slot = c;
    }
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK) return store_sqlite_err(s, rc, "prepare", err);
    if (slot->st) sqlite3_finalize(slot->st);
    rag_free(slot->sql);
    slot->sql = rag_xstrdup(sql);
    slot->st = *st;
    slot->used = ++s->cache_clock;
    return 0;
}

void store_cached_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int store_exec(store *s, const char *sql, rag_err *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return store_sqlite_err(s, rc, "exec", err);
    return 0;
}

int store_read_begin(store *s, rag_err *err)
{
    if (!sqlite3_get_autocommit(s->db)) return 0;
    sqlite3_stmt *st;
    int rc = store_cached(s, "BEGIN", &st, err);
    if (rc) return rc;
    int step = sqlite3_step(st);
    store_cached_done(st);
    return step == SQLITE_DONE ? 1 : store_sqlite_err(s, step, "begin reading", err);
}

void store_read_end(store *s, int began)
{
    sqlite3_stmt *st;
    rag_err ignored = {0};
    if (began != 1) return;
    /* a read transaction's COMMIT only releases the snapshot */
    if (store_cached(s, "COMMIT", &st, &ignored) == 0) {
        sqlite3_step(st);
        store_cached_done(st);
    } else {
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    }
}

char *store_col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return rag_xstrdup(t ? (const char *)t : "");
}

static int make_parent_dir(const char *path, rag_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char *dir = rag_xstrndup(path, (size_t)(slash - path));
    int rc = rag_mkdir_p(dir, err);
    rag_free(dir);
    return rc;
}

/* SQLite counts every allocation under one global mutex unless told not
 * to; with a connection per thread (the daemon) that mutex is where the
 * threads meet, and searches spent most of their time waiting on it. We
 * never read those counts. Configuring must precede sqlite3_initialize. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

int store_open(const char *path, const store_params *p, store **out, rag_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    store_params defaults;
    if (!p) {
        store_default_params(&defaults);
        p = &defaults;
    }
    *out = NULL;
    if (!p->readonly) {
        int rc = make_parent_dir(path, err);
        if (rc) return rc;
    }
    if (!p->readonly && path[0] && path[0] != ':' && strncmp(path, "file:", 5)) {
        /* A new database is the owner's alone (0600, as the uploads and
         * vectors beside it are 0700); SQLite gives its -wal and -shm files
         * the mode of the database file. An existing file keeps its mode. */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    store *s = rag_xcalloc(1, sizeof *s);
    s->path = rag_xstrdup(path);
    int flags = p->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = p->readonly && rc == SQLITE_CANTOPEN
                 ? rag_err_set(err, RAG_ERR_NOTFOUND,
                               "%s: no database here (run 'rag ingest' first)", path)
                 : store_sqlite_err(s, rc, "open", err);
        store_close(s);
        return rc;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, p->busy_timeout_ms);
    if (store_fts_register(s->db) != SQLITE_OK) {
        rc = store_sqlite_err(s, SQLITE_ERROR, "register the FTS5 tokenizer", err);
        store_close(s);
        return rc;
    }
    rc = store_exec(s, "PRAGMA foreign_keys=ON", err);
    if (!rc && !p->readonly)
        rc = store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", err);
    if (!rc) rc = p->readonly ? 0 : store_migrate(s, err);
    if (!rc && p->readonly) {
        /* A read-only open must still refuse a schema it does not know. */
        sqlite3_stmt *st;
        rc = store_prepare(s, "PRAGMA user_version", &st, err);
        if (!rc) {
            int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
            sqlite3_finalize(st);
            if (v != store_schema_version())
                rc = rag_err_set(err, RAG_ERR_INVALID,
                                 "%s: schema version %d, this program needs %d (open it read-write "
                                 "once to migrate)",
                                 path, v, store_schema_version());
        }
    }
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

#define CKPT_PAGES 1000 /* SQLite's own autocheckpoint interval */

struct store_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* to the thread: kick or stop */
    pthread_cond_t done; /* from the thread: a checkpoint ended */
    int stop, kick, busy;
    size_t max_pages;
    sqlite3 *db;
};

/* The writer's WAL hook while a checkpointing thread runs: after each
 * commit (its write lock released), with the pages now in the log. */
static int ckpt_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
    (void)db, (void)name;
    struct store_ckpt *c = ctx;
    if (pages < CKPT_PAGES) return SQLITE_OK;
    pthread_mutex_lock(&c->mu);
    c->kick = 1;
    pthread_cond_signal(&c->cv);
    /* over the bound: wait until everything is copied, so that the next
     * commit's first page starts the log over */
    if ((size_t)pages >= c->max_pages)
        while (c->kick || c->busy)
            pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    struct store_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->kick && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        c->kick = 0;
        c->busy = 1;
        pthread_mutex_unlock(&c->mu);
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
        c->busy = 0;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void ckpt_free(struct store_ckpt *c)
{
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close_v2(c->db);
    rag_free(c);
}

int store_bg_checkpoint(store *s, size_t max_log_pages, rag_err *err)
{
    struct store_ckpt *c = s->ckpt;
    if (!max_log_pages) {
        if (!c) return 0;
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
        ckpt_free(c);
        s->ckpt = NULL;
        sqlite3_wal_autocheckpoint(s->db, CKPT_PAGES); /* the default hook again */
        /* what the thread left: copied now, not at some later commit */
        if (!s->in_tx)
            sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return 0;
    }
    if (c) {
        c->max_pages = max_log_pages;
        return 0;
    }
    c = rag_xcalloc(1, sizeof *c);
    c->max_pages = max_log_pages;
    int rc = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = rag_err_set(err, RAG_ERR_DB, "%s: open for checkpoints: %s", s->path,
                         c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->db);
        rag_free(c);
        return rc;
    }
    sqlite3_busy_timeout(c->db, 5000);
    /* a first read opens the log: until then the connection does not know
     * it is in WAL mode, and its checkpoints do nothing */
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = rag_err_set(err, RAG_ERR_DB, "%s: read for checkpoints: %s", s->path,
                         sqlite3_errmsg(c->db));
        sqlite3_close_v2(c->db);
        rag_free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_cond_init(&c->done, NULL);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        ckpt_free(c);
        return rag_err_set(err, RAG_ERR_IO, "%s: no thread for checkpoints", s->path);
    }
    s->ckpt = c;
    sqlite3_wal_hook(s->db, ckpt_hook, c);
    return 0;
}

void store_close(store *s)
{
    if (!s) return;
    store_bg_checkpoint(s, 0, NULL);
    if (s->db) {
        if (s->in_tx) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        for (int i = 0; i < STORE_STMT_CACHE; i++) {
            if (s->cache[i].st) sqlite3_finalize(s->cache[i].st);
            rag_free(s->cache[i].sql);
        }
        sqlite3_close_v2(s->db);
    }
    store_vindex_free(s->vindex);
    rag_free(s->fts_pending);
    rag_free(s->path);
    rag_free(s);
}

const char *store_path(const store *s)
{
    return s->path;
}

static int read_secret(store *s, const char *name, unsigned char *out, size_t n, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT value FROM settings WHERE key = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    rc = 0;
    if (step == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(st, 0);
        size_t i = 0;
        for (; hex && i < n && hex[2 * i] && hex[2 * i + 1]; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1) break;
            out[i] = (unsigned char)v;
        }
        rc = i == n ? 1
                    : rag_err_set(err, RAG_ERR_CORRUPT, "%s: setting %s: not %zu bytes of hex",
                                  s->path, name, n);
    } else if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "read a setting", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_meta_get(store *s, const char *key, char **value, rag_err *err)
{
    *value = NULL;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT value FROM settings WHERE key = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *value = store_col_str(st, 0);
    else if (step != SQLITE_DONE)
        rc = store_sqlite_err(s, step, "read a setting", err);
    sqlite3_finalize(st);
    return rc;
}

int store_meta_set(store *s, const char *key, const char *value, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           value ? "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                                 : "DELETE FROM settings WHERE key = ?1",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value) sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "write a setting", err);
    sqlite3_finalize(st);
    return rc;
}

int store_secret(store *s, const char *name, unsigned char *out, size_t n, rag_err *err)
{
    if (n > 64) return rag_err_set(err, RAG_ERR_INVALID, "store_secret: %zu bytes: 64 at most", n);
    int rc = read_secret(s, name, out, n, err);
    if (rc) return rc < 0 ? rc : 0;
    unsigned char r[64];
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(r + got, n - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return rag_err_sys(err, errno, "getrandom");
        got += (size_t)k;
    }
    char hex[129];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    sqlite3_stmt *st;
    rc = store_prepare(s, "INSERT OR IGNORE INTO settings(key, value) VALUES (?1, ?2)", &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return store_sqlite_err(s, step, "write a setting", err);
    rc = read_secret(s, name, out, n, err); /* the one written first */
    return rc == 1  ? 0
           : rc < 0 ? rc
                    : rag_err_set(err, RAG_ERR_DB, "%s: setting %s not kept", s->path, name);
}

int store_begin(store *s, rag_err *err)
{
    int rc = store_exec(s, "BEGIN IMMEDIATE", err);
    if (!rc) s->in_tx = 1;
    return rc;
}

int store_commit(store *s, rag_err *err)
{
    int rc = store_fts_flush(s, 0, err);
    if (rc) return rc;
    rc = store_exec(s, "COMMIT", err);
    if (!rc) s->in_tx = s->fts_dirty = 0;
    return rc;
}

void store_rollback(store *s)
{
    s->n_fts_pending = 0;
    s->fts_dirty = 0;
    if (!s->in_tx) return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
}
