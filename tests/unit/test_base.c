/* base: UTF-8 repair and folding, sentences, labels, config, atomic writes,
 * line-aligned buffers, reading files. */
#include "base/config.h"
#include "base/file.h"
#include "base/mem.h"
#include "base/principal.h"
#include "base/sentence.h"
#include "base/utf8.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

/* Buffers for SIMD kernels: on a 64-byte boundary and zeroed, whatever the
 * size; rag_free_lines gives back exactly what was taken. */
static void test_line_aligned_buffers(void)
{
    size_t before = rag_mem_in_use();
    static const size_t sizes[] = {1, 3, 64, 1000, 4096, 1 << 20, 5 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = rag_xcalloc_lines(sizes[i], 1);
        CHECK_INT((int)((uintptr_t)p % 64), 0);
        size_t nonzero = 0;
        for (size_t k = 0; k < sizes[i]; k++)
            nonzero += p[k] != 0;
        CHECK_INT((int)nonzero, 0);
        memset(p, 0xAB, sizes[i]); /* all of it is ours */
        rag_free_lines(p);
    }
    rag_free_lines(NULL);
    CHECK(rag_mem_in_use() == before);
}

static void test_utf8_repair(void)
{
    rag_buf b = {0};
    size_t first;
    /* truncated 2-byte sequence, overlong '/', lone continuation, surrogate */
    const char in[] = "ok \xC3 x \xC0\xAF y \x80 z \xED\xA0\x80 end";
    size_t bad = rag_utf8_repair((const uint8_t *)in, sizeof in - 1, &b, &first);
    CHECK_INT(bad, 4);
    CHECK_INT(first, 3);
    CHECK_STR(b.data, "ok \xEF\xBF\xBD x \xEF\xBF\xBD y \xEF\xBF\xBD z \xEF\xBF\xBD end");
    rag_buf_free(&b);
}

static void test_utf8_nfc_and_fold(void)
{
    rag_buf b = {0};
    CHECK_INT(rag_utf8_nfc("Cafe\xCC\x81", 6, &b), 0); /* e + combining acute */
    CHECK_STR(b.data, "Caf\xC3\xA9");
    rag_buf_clear(&b);
    CHECK_INT(rag_utf8_fold("R\xC3\xA9SUM\xC3\x89", 9, &b), 0);
    CHECK_STR(b.data, "resume");
    rag_buf_free(&b);
}

static size_t sentences(const char *s, rag_strv *out)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\n'))
            i++;
        if (i >= n) break;
        size_t l = rag_sentence_len(s + i, n - i);
        rag_strv_pushn(out, s + i, l);
        i += l;
    }
    return out->n;
}

static void test_sentences(void)
{
    rag_strv v = {0};
    CHECK_INT(sentences("Dr. Smith paid 3.14 euros, e.g. for tea. Then he left! Did he? Yes.", &v),
              4);
    if (v.n == 4) {
        CHECK_STR(v.v[0], "Dr. Smith paid 3.14 euros, e.g. for tea.");
        CHECK_STR(v.v[3], "Yes.");
    }
    rag_strv_free(&v);
    CHECK_INT(sentences("He said \"stop.\" She agreed.", &v), 2);
    rag_strv_free(&v);
    CHECK_INT(
        sentences("\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x80\x82\xE5\xA4\xA7\xE9\x98\xAA\xE3\x80\x82", &v),
        2);
    rag_strv_free(&v);
    CHECK_INT(
        sentences("Steps:\n- open the valve\n- close the lid\nwrapped line\ncontinues here.", &v),
        3);
    rag_strv_free(&v);
}

/* Scripts the English rules do not know: Thai (a space between sentences,
 * no mark), Japanese and Chinese (full-width marks, no space), Hindi (the
 * danda, decided by ICU's sentence break iterator), Burmese (။). */
static void test_sentences_icu(void)
{
    rag_strv v = {0};
    CHECK_INT(sentences("ฉันชอบกินข้าว วันนี้อากาศดีมาก ผมไปโรงเรียน", &v), 3);
    if (v.n == 3) {
        CHECK_STR(v.v[0], "ฉันชอบกินข้าว");
        CHECK_STR(v.v[1], "วันนี้อากาศดีมาก");
        CHECK_STR(v.v[2], "ผมไปโรงเรียน");
    }
    rag_strv_free(&v);
    /* a space next to a number or a Latin word is no boundary */
    CHECK_INT(sentences("ราคา 100 บาทสำหรับ iPhone รุ่นใหม่", &v), 1);
    rag_strv_free(&v);
    CHECK_INT(sentences("東京は大きい。大阪も大きい！本当？はい", &v), 4);
    if (v.n == 4) {
        CHECK_STR(v.v[0], "東京は大きい。");
        CHECK_STR(v.v[2], "本当？");
        CHECK_STR(v.v[3], "はい");
    }
    rag_strv_free(&v);
    CHECK_INT(sentences("我们在北京学习。自然语言处理很有意思！你呢？", &v), 3);
    if (v.n == 3) CHECK_STR(v.v[1], "自然语言处理很有意思！");
    rag_strv_free(&v);
    CHECK_INT(sentences("यह एक वाक्य है। यह दूसरा वाक्य है। Dr. Smith agreed.", &v), 3);
    if (v.n == 3) {
        CHECK_STR(v.v[0], "यह एक वाक्य है।");
        CHECK_STR(v.v[2], "Dr. Smith agreed.");
    }
    rag_strv_free(&v);
    CHECK_INT(sentences("မြန်မာဘာသာစကား။ ဒုတိယဝါကျ။", &v), 2);
    rag_strv_free(&v);
}

static void test_labels(void)
{
    rag_strv l = {0};
    rag_err err = {0};
    CHECK_INT(rag_labels_parse(" Ops, finance,ops ,,", "--acl", &l, &err), 0);
    CHECK_INT(l.n, 2);
    if (l.n == 2) {
        CHECK_STR(l.v[0], "finance");
        CHECK_STR(l.v[1], "ops");
    }
    rag_strv_free(&l);
    CHECK_INT(rag_labels_parse("fin ance", "--acl", &l, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "fin ance");
    rag_strv_free(&l);
    rag_principal p;
    CHECK_INT(rag_principal_from_roles(" , ", &p, &err), RAG_ERR_INVALID);
    rag_principal_free(&p);
}

static void test_config(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rag.conf", test_tmpdir());
    const char *text = "# comment\ndb = /tmp/x.db\n[ingest]\nmax_size = 64M\nchunk_tokens=\"200\"\n"
                       "[acl]\ndefault_labels = staff\n";
    rag_err err = {0};
    CHECK_INT(rag_file_write_atomic(path, text, strlen(text), &err), 0);
    rag_config *c;
    CHECK_INT(rag_config_load(path, 0, &c, &err), 0);
    CHECK_STR(rag_config_get(c, "db"), "/tmp/x.db");
    CHECK_STR(rag_config_get(c, "ingest.chunk_tokens"), "200");
    size_t sz = 0;
    CHECK_INT(rag_config_get_size(c, "ingest.max_size", &sz, &err), 0);
    CHECK_INT(sz, 64 << 20);
    const char *known[] = {"db", "ingest.max_size", "ingest.chunk_tokens", NULL};
    CHECK_INT(rag_config_check_keys(c, known, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "rag.conf:7");
    CHECK_CONTAINS(err.msg, "acl.default_labels");
    rag_config_free(c);
    const char *bad = "key value\n";
    CHECK_INT(rag_file_write_atomic(path, bad, strlen(bad), &err), 0);
    CHECK_INT(rag_config_load(path, 0, &c, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "rag.conf:1");
    snprintf(path, sizeof path, "%s/missing.conf", test_tmpdir());
    CHECK_INT(rag_config_load(path, 1, &c, &err), 0);
    CHECK(rag_config_get(c, "db") == NULL);
    rag_config_free(c);
}

/* rag_file_map: small files are read, large ones mapped; both give the
 * file's bytes, an empty file gives none, a limit is named. */
static void test_file_map(void)
{
    char path[512];
    rag_err err = {0};
    size_t sizes[] = {0, 1, 4096, RAG_MAP_READ_MAX, RAG_MAP_READ_MAX + 1, 3 * RAG_MAP_READ_MAX};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *want = rag_xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
            want[i] = (char)('a' + (i * 7 + k) % 26);
        snprintf(path, sizeof path, "%s/map-%zu.bin", test_tmpdir(), n);
        CHECK_INT(rag_file_write_atomic(path, want, n, &err), 0);
        rag_map m;
        CHECK_INT(rag_file_map(path, 0, &m, &err), 0);
        CHECK_INT(m.size, n);
        CHECK(n == 0 ? m.data == NULL : m.data != NULL && memcmp(m.data, want, n) == 0);
        CHECK_INT(m.mapped, n == 0 ? 0 : n <= RAG_MAP_READ_MAX ? 2 : 1);
        rag_file_unmap(&m);
        CHECK(m.data == NULL && m.mapped == 0);
        if (n > 1) {
            CHECK_INT(rag_file_map(path, n - 1, &m, &err), RAG_ERR_LIMIT);
            CHECK_CONTAINS(err.msg, path);
        }
        rag_free(want);
    }
}

int main(void)
{
    RUN(test_utf8_repair);
    RUN(test_utf8_nfc_and_fold);
    RUN(test_sentences);
    RUN(test_sentences_icu);
    RUN(test_labels);
    RUN(test_config);
    RUN(test_line_aligned_buffers);
    RUN(test_file_map);
    return test_summary();
}
