/* fuzz/fuzz_email.c: libFuzzer target for email messages and mailboxes
 * (ingest/email.c, GMime).
 *
 * Any input goes through detection, ing_extract as an email, its
 * attachments (ing_email_members) and, read as an mbox, its messages
 * (ing_mbox_members), each message extracted in turn. Every call must
 * return 0 or an error with a message; members must have a non-empty name
 * without "//", control characters or a leading '/'. Built and run by
 * `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include "ingest/ing_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void check_err(int rc, const rag_err *e)
{
    if (rc && !e->msg[0]) abort(); /* every error says what is wrong */
}

static int on_member(void *ctx, const ing_member *m, rag_err *err)
{
    (void)err;
    int extract = *(int *)ctx;
    if (!m->name || !m->name[0] || m->name[0] == '/' || strstr(m->name, "//")) abort();
    for (const char *p = m->name; *p; p++)
        if ((unsigned char)*p < 0x20) abort();
    if (m->n) sink += m->data[0] + m->data[m->n - 1];
    if (extract && m->type == ING_TYPE_EMAIL) {
        ing_text t = {0};
        rag_err e = {0};
        check_err(ing_extract(ING_TYPE_EMAIL, m->name, m->data, m->n, NULL, &t, &e), &e);
        sink += t.text.len;
        ing_text_free(&t);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink += (size_t)ing_detect("fuzz.eml", data, size);
    ing_text t = {0};
    rag_err e = {0};
    check_err(ing_extract(ING_TYPE_EMAIL, "fuzz.eml", data, size, NULL, &t, &e), &e);
    sink += t.text.len + t.meta.len;
    ing_text_free(&t);
    int extract = 0;
    e = (rag_err){0};
    check_err(ing_email_members("fuzz.eml", data, size, NULL, on_member, &extract, &e), &e);
    extract = 1;
    e = (rag_err){0};
    check_err(ing_mbox_members("fuzz.mbox", data, size, NULL, on_member, &extract, &e), &e);
    return 0;
}
