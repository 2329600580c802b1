/* ingest: which files a walk takes (globs, hidden files, links, order);
 * empty files and the titles a run stores. */
#include "base/file.h"
#include "base/mem.h"
#include "ingest/ing_int.h"
#include "ingest/walk.h"
#include "store/store.h"
#include "test.h"

#include <unistd.h>

static void put(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    rag_err err = {0};
    rag_mkdir_p(path, &err);
    *slash = '/';
    CHECK_INT(rag_file_write_atomic(path, text, strlen(text), &err), 0);
}

/* The walked files as "rel1 rel2 ..." relative to root. */
static char *walk(const char *root, const ing_params *p)
{
    ing_files f;
    size_t failed = 0;
    const char *paths[] = {root};
    ing_walk(paths, 1, p, &f, &failed);
    rag_buf b = {0};
    for (size_t i = 0; i < f.n; i++)
        rag_buf_printf(&b, "%s%s", i ? " " : "", f.v[i].path + strlen(root) + 1);
    ing_files_free(&f);
    return rag_buf_steal(&b);
}

static void test_globs(void)
{
    CHECK(ing_glob_match("*.md", "docs/a/readme.md"));
    CHECK(!ing_glob_match("*.md", "docs/a/readme.txt"));
    CHECK(ing_glob_match("node_modules", "web/node_modules"));
    CHECK(ing_glob_match("docs/*.md", "docs/a/b/readme.md")); /* '*' crosses '/' */
    CHECK(!ing_glob_match("docs/*.md", "other/readme.md"));
    CHECK(ing_glob_match("/docs/*", "docs/x")); /* a leading '/' anchors at the root */
}

static void test_walk_rules(void)
{
    char root[512];
    snprintf(root, sizeof root, "%s/tree", test_tmpdir());
    put(root, "b.md", "b");
    put(root, "a.txt", "a");
    put(root, "sub/c.md", "c");
    put(root, ".git/config", "x");
    put(root, ".hidden.md", "h");
    put(root, "node_modules/m/d.md", "d");
    char link[600], target[600];
    snprintf(link, sizeof link, "%s/link-to-sub", root);
    snprintf(target, sizeof target, "%s/sub", root);
    CHECK_INT(symlink(target, link), 0); /* directory links are not followed */
    snprintf(link, sizeof link, "%s/link.txt", root);
    snprintf(target, sizeof target, "%s/a.txt", root);
    CHECK_INT(symlink(target, link), 0); /* file links are */

    ing_params p;
    ing_default_params(&p);
    char *w = walk(root, &p);
    CHECK_STR(w, "a.txt b.md link.txt node_modules/m/d.md sub/c.md");
    rag_free(w);

    rag_strv inc = {0}, exc = {0};
    rag_strv_push(&inc, "*.md");
    rag_strv_push(&exc, "node_modules");
    p.include = &inc;
    p.exclude = &exc;
    w = walk(root, &p);
    CHECK_STR(w, "b.md sub/c.md");
    rag_free(w);

    p.include = NULL;
    p.include_hidden = 1;
    w = walk(root, &p);
    CHECK_STR(w, ".git/config .hidden.md a.txt b.md link.txt sub/c.md");
    rag_free(w);
    rag_strv_free(&inc);
    rag_strv_free(&exc);
}

/* What a run reports per file: "name status reason" lines. */
static void record(void *ctx, const char *path, ing_status st, const char *reason)
{
    static const char *const word[] = {"added",   "updated", "unchanged",
                                       "removed", "skipped", "failed"};
    const char *slash = strrchr(path, '/');
    rag_buf_printf(ctx, "%s %s %s\n", slash ? slash + 1 : path, word[st], reason ? reason : "-");
}

/* Empty and whitespace-only files are skipped with the reason "empty", not
 * failed; a file whose first line is no title is titled by its name. */
static void test_run_empty_and_titles(void)
{
    char root[512], db[600];
    snprintf(root, sizeof root, "%s/run", test_tmpdir());
    snprintf(db, sizeof db, "%s/run.db", test_tmpdir());
    put(root, "a-empty.txt", "");
    put(root, "b-blank.md", " \n\t\r\n\n");
    put(root, "c-good.txt", "Good title\n\nSome words about lighthouses.\n");
    put(root, "copyright",
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/"
        "1.0/\nUpstream-Name: foo\n\nFiles: *\nLicense: MIT\n");
    store *s = NULL;
    rag_err err = {0};
    CHECK_INT(store_open(db, NULL, &s, &err), 0);
    if (!s) return;
    ing_params p;
    ing_default_params(&p);
    rag_buf log = {0};
    p.on_file = record;
    p.ctx = &log;
    ing_report rep;
    const char *paths[] = {root};
    CHECK_INT(ing_run(s, paths, 1, &p, &rep, &err), 0);
    CHECK_STR(rag_buf_str(&log), "a-empty.txt skipped empty\n"
                                 "b-blank.md skipped empty\n"
                                 "c-good.txt added -\n"
                                 "copyright added -\n");
    CHECK_INT(rep.skipped, 2);
    CHECK_INT(rep.failed, 0);
    CHECK_INT(rep.added, 2);
    char uri[700];
    store_doc d;
    snprintf(uri, sizeof uri, "%s/copyright", root);
    int got = store_doc_get_by_uri(s, uri, &d, &err);
    CHECK_INT(got, 1);
    if (got == 1) {
        CHECK_STR(d.title, "copyright");
        store_doc_free(&d);
    }
    snprintf(uri, sizeof uri, "%s/c-good.txt", root);
    got = store_doc_get_by_uri(s, uri, &d, &err);
    CHECK_INT(got, 1);
    if (got == 1) {
        CHECK_STR(d.title, "Good title");
        store_doc_free(&d);
    }
    rag_buf_free(&log);
    store_close(s);
}

int main(void)
{
    RUN(test_globs);
    RUN(test_walk_rules);
    RUN(test_run_empty_and_titles);
    return test_summary();
}
