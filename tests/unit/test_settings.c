/* tests/unit/test_settings.c: the settings table (rag/settings.c): where a
 * value comes from, how a bad one is refused, and that both programs refuse
 * it alike; lists of servers (model.url, embed.url) and their passwords. */
#include "base/config.h"
#include "rag/settings.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* A config file with text, loaded. */
static rag_config *conf(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    rag_config *c = NULL;
    rag_err err = {0};
    if (rag_config_load(path, 0, &c, &err)) printf("    %s\n", err.msg);
    return c;
}

static void test_every_default_is_valid(void)
{
    for (size_t i = 0; i < rag_n_settings; i++) {
        const rag_setting_def *d = &rag_setting_defs[i];
        CHECK(d->programs && d->help && *d->help);
        CHECK(strchr(d->key, '.') || !strcmp(d->key, "db"));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(rag_setting_defs[j].key, d->key));
    }
    rag_settings s;
    rag_err err = {0};
    unsetenv("RAG_DB");
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAG, NULL, NULL, 0, &err), 0);
    CHECK_INT(s.search.k, 10);
    CHECK_INT(s.search.answer_k, 6);
    CHECK_STR(s.search.mode, "hybrid");
    CHECK_INT(s.ingest.max_size, 256 << 20);
    CHECK(s.search.dup_similarity == 0.85);
    CHECK(s.search.dedupe == 1);
    CHECK(s.db == NULL);
    CHECK_STR(rag_settings_where(&s, "search.k"), "default");
    rag_settings_free(&s);
}

static void test_flag_then_env_then_file(void)
{
    rag_config *c = conf("order.conf", "db = /from/file\n[search]\nk = 7\nanswer_k = 3\n");
    rag_setting_flag flags[] = {{"search.k", "9", "-k"}};
    rag_settings s;
    rag_err err = {0};
    setenv("RAG_DB", "/from/env", 1);
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAG, c, flags, 1, &err), 0);
    CHECK_INT(s.search.k, 9);
    CHECK_STR(rag_settings_where(&s, "search.k"), "-k");
    CHECK_INT(s.search.answer_k, 3);
    CHECK(strstr(rag_settings_where(&s, "search.answer_k"), "order.conf:4") != NULL);
    CHECK_STR(s.db, "/from/env");
    CHECK_STR(rag_settings_where(&s, "db"), "$RAG_DB");
    CHECK_INT(rag_settings_origin(&s, "db"), RAG_FROM_ENV);
    rag_settings_free(&s);
    unsetenv("RAG_DB");
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err), 0);
    CHECK_STR(s.db, "/from/file");
    CHECK_INT(s.search.k, 7);
    rag_settings_free(&s);
    rag_config_free(c);
}

/* The same bad file is refused by both programs with the same words. */
static void test_refused_alike(void)
{
    static const char *const bad[] = {
        "[search]\nk = 5000\n",
        "[model]\nctx = 8\n",
        "[search]\ncandidates = 20000\n",
        "[search]\nmode = fuzzy\n",
        "[search]\ndedupe = maybe\n",
        "[search]\ndup_similarity = 0\n",
        "[vector]\nef_search = x\n",
        "[model]\nurl = ftp://x\nremote_model = m\n",
        "[search]\nfrobnicate = 1\n",
        "[ingest]\nchunk_tokens = 100\noverlap_tokens = 100\n",
        "[model]\nchat_template = nope\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.conf", i);
        rag_config *c = conf(name, bad[i]);
        rag_settings a, b;
        rag_err ea = {0}, eb = {0};
        int ra = rag_settings_resolve(&a, RAG_PROG_RAG, c, NULL, 0, &ea);
        int rb = rag_settings_resolve(&b, RAG_PROG_RAGD, c, NULL, 0, &eb);
        if (!ra || !rb) printf("    accepted: %s", bad[i]);
        CHECK(ra != 0 && rb != 0);
        CHECK_STR(ea.msg, eb.msg);
        CHECK(strstr(ea.msg, name) != NULL); /* names the file */
        rag_settings_free(&a);
        rag_settings_free(&b);
        rag_config_free(c);
    }
}

static void test_other_program_key(void)
{
    rag_config *c = conf("other.conf", "[server]\nlisten = 127.0.0.1:1\n");
    rag_settings s;
    rag_err err = {0};
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAG, c, NULL, 0, &err) != 0);
    CHECK(strstr(err.msg, "server.listen is a setting of ragd, not of rag") != NULL);
    rag_settings_free(&s);
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err), 0);
    CHECK_STR(s.server.listen, "127.0.0.1:1");
    rag_settings_free(&s);
    rag_config_free(c);
}

static void test_renamed_key(void)
{
    rag_config *c = conf("renamed.conf", "[server]\ndefault_max_tokens = 100\n");
    rag_settings s;
    rag_err err = {0};
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err) != 0);
    CHECK(strstr(err.msg, "renamed.conf:2: server.default_max_tokens is now model.max_tokens"));
    rag_settings_free(&s);
    rag_config_free(c);
    /* ragd caps the default answer at what a request may ask for */
    c = conf("cap.conf", "[server]\nmax_tokens = 100\n[model]\nmax_tokens = 512\n");
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err), 0);
    CHECK_INT(s.model.max_tokens, 100);
    rag_settings_free(&s);
    rag_config_free(c);
}

static void test_model_file_or_server(void)
{
    rag_settings s;
    rag_err err = {0};
    /* a URL given where a file goes is the server */
    rag_setting_flag url[] = {{"model.path", "http://127.0.0.1:9/v1", "--model"}};
    rag_config *c = conf("srv.conf", "[model]\nremote_model = m\n");
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAG, c, url, 1, &err), 0);
    CHECK(s.model.path == NULL);
    CHECK_STR(s.model.url, "http://127.0.0.1:9/v1");
    rag_settings_free(&s);
    rag_config_free(c);
    /* both in one file: refused; a flag's file over the file's server: the file */
    c = conf("both.conf", "[model]\npath = /m.gguf\nurl = http://h/v1\nremote_model = m\n");
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err) != 0);
    CHECK(strstr(err.msg, "both.conf:3: model.path and model.url are both set") != NULL);
    rag_settings_free(&s);
    rag_setting_flag file[] = {{"model.path", "/other.gguf", "--model"}};
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAGD, c, file, 1, &err), 0);
    CHECK_STR(s.model.path, "/other.gguf");
    CHECK(s.model.url == NULL);
    rag_settings_free(&s);
    rag_config_free(c);
    /* a server without the name of its model */
    c = conf("noname.conf", "[embed]\nurl = http://h/v1\n");
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAG, c, NULL, 0, &err) != 0);
    CHECK(strstr(err.msg, "needs the name of its model") != NULL);
    rag_settings_free(&s);
    rag_config_free(c);
}

static void test_secrets_hidden(void)
{
    rag_config *c = conf("secret.conf", "[embed]\nurl = https://user:pa55word@h/v1\n"
                                        "remote_model = e\napi_key = sk-secret-123\n");
    rag_settings s;
    rag_err err = {0};
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAG, c, NULL, 0, &err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/printed", test_tmpdir());
    for (int json = 0; json < 2; json++) {
        FILE *f = fopen(path, "w+");
        rag_settings_print(&s, f, json);
        rewind(f);
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        CHECK(strstr(buf, "pa55word") == NULL);
        CHECK(strstr(buf, "sk-secret-123") == NULL);
        CHECK(strstr(buf, "embed.remote_model") != NULL);
        CHECK(strstr(buf, "server.listen") == NULL); /* ragd's */
    }
    rag_settings_free(&s);
    rag_config_free(c);
}

/* Prints s as `rag config` does into buf. */
static void printed(const rag_settings *s, int json, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/printed", test_tmpdir());
    FILE *f = fopen(path, "w+");
    rag_settings_print(s, f, json);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* model.url and embed.url take a list of servers (a pool): at most 16,
 * each checked, refused naming the key and the line; each URL's password
 * hidden when printed; a list given to --model is the servers. */
static void test_server_pools(void)
{
    rag_config *c = conf("pool.conf", "[model]\nurl = http://u:pa55word@a:1/v1 , "
                                      "http://b:2/v1\nremote_model = m\n");
    rag_settings s;
    rag_err err = {0};
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err), 0);
    CHECK_STR(s.model.url, "http://u:pa55word@a:1/v1 , http://b:2/v1");
    char buf[16384];
    for (int json = 0; json < 2; json++) {
        printed(&s, json, buf, sizeof buf);
        CHECK(strstr(buf, "pa55word") == NULL);
        CHECK_CONTAINS(buf, "http://(hidden)@a:1/v1, http://b:2/v1");
    }
    rag_settings_free(&s);
    rag_config_free(c);

    char text[4096] = "[embed]\nremote_model = e\nurl = ";
    for (int i = 0; i < 17; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%shttp://u:pa55word@h%d/v1",
                 i ? "," : "", i);
    strcat(text, "\n");
    c = conf("pool17.conf", text);
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAG, c, NULL, 0, &err) != 0);
    CHECK_CONTAINS(err.msg, "pool17.conf:3: embed.url: more than 16 servers");
    CHECK(strstr(err.msg, "pa55word") == NULL);
    rag_settings_free(&s);
    rag_config_free(c);

    c = conf("poolbad.conf", "[embed]\nremote_model = e\nurl = http://a/v1,,http://b/v1\n");
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAG, c, NULL, 0, &err) != 0);
    CHECK_CONTAINS(err.msg, "poolbad.conf:3: embed.url: server 2 of the list is empty");
    rag_settings_free(&s);
    rag_config_free(c);

    /* --model with a list: the servers; a bad list so given is refused */
    rag_setting_flag ok[] = {{"model.path", "http://a/v1,http://b/v1", "--model"},
                             {"model.remote_model", "m", "--remote-model"}};
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAG, NULL, ok, 2, &err), 0);
    CHECK_STR(s.model.url, "http://a/v1,http://b/v1");
    CHECK(s.model.path == NULL);
    rag_settings_free(&s);
    rag_setting_flag bad[] = {{"model.path", "http://u:pa55word@a/v1,file:///x", "--model"},
                              {"model.remote_model", "m", "--remote-model"}};
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAG, NULL, bad, 2, &err) != 0);
    CHECK_CONTAINS(err.msg, "--model: model.url: 'file:///x' is not an http:// or https:// URL");
    rag_settings_free(&s);
    /* a server without its model's name: the message hides the password */
    c = conf("poolname.conf", "[embed]\nurl = http://u:pa55word@a/v1, http://b/v1\n");
    CHECK(rag_settings_resolve(&s, RAG_PROG_RAG, c, NULL, 0, &err) != 0);
    CHECK_CONTAINS(err.msg, "the server http://a/v1, http://b/v1 (");
    CHECK(strstr(err.msg, "pa55word") == NULL);
    rag_settings_free(&s);
    rag_config_free(c);
}

static void test_overlap_follows_chunk(void)
{
    rag_config *c = conf("chunk.conf", "[ingest]\nchunk_tokens = 200\n");
    rag_settings s;
    rag_err err = {0};
    CHECK_INT(rag_settings_resolve(&s, RAG_PROG_RAGD, c, NULL, 0, &err), 0);
    CHECK_INT(s.ingest.overlap_tokens, 30); /* 15 % of the chunk when not given */
    rag_settings_free(&s);
    rag_config_free(c);
}

int main(void)
{
    RUN(test_every_default_is_valid);
    RUN(test_flag_then_env_then_file);
    RUN(test_refused_alike);
    RUN(test_other_program_key);
    RUN(test_renamed_key);
    RUN(test_model_file_or_server);
    RUN(test_secrets_hidden);
    RUN(test_server_pools);
    RUN(test_overlap_follows_chunk);
    return test_summary();
}
