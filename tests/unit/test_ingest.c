/* ingest: which files a walk takes (globs, hidden files, links, order). */
#include "base/file.h"
#include "base/mem.h"
#include "ingest/ing_int.h"
#include "ingest/walk.h"
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

int main(void)
{
    RUN(test_globs);
    RUN(test_walk_rules);
    return test_summary();
}
