/* tests/unit/test.h: a minimal test harness.
 *
 * Each test binary is one process holding several cases. Every failed check
 * prints file:line and the expression; the binary's last line is
 * "N passed, N failed" (cases), which tests/run.sh adds up. Exit status is 0
 * only when no case failed. */
#ifndef RAG_TESTS_TEST_H
#define RAG_TESTS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int test_case_failed;
static int test_n_passed, test_n_failed, test_n_skipped;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                    \
            test_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            printf("    %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, va_,    \
                   #b, vb_);                                                                       \
            test_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            printf("    %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,           \
                   sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                    \
            test_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            printf("    %s:%d: %s does not contain \"%s\" (it is \"%.300s\")\n", __FILE__,         \
                   __LINE__, #hay, n_, h_ ? h_ : "(null)");                                        \
            test_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_case_failed = 0;                                                                      \
        fn();                                                                                      \
        if (test_case_failed == 2) {                                                               \
            printf("skip %s\n", #fn);                                                              \
            test_n_skipped++;                                                                      \
        } else if (test_case_failed) {                                                             \
            printf("FAIL %s\n", #fn);                                                              \
            test_n_failed++;                                                                       \
        } else {                                                                                   \
            printf("ok   %s\n", #fn);                                                              \
            test_n_passed++;                                                                       \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

/* Marks the current case skipped (with a reason on stdout). */
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        printf("    SKIP: " __VA_ARGS__);                                                          \
        printf("\n");                                                                              \
        test_case_failed = 2;                                                                      \
        return;                                                                                    \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed", test_n_passed, test_n_failed);
    if (test_n_skipped) printf(", %d skipped", test_n_skipped);
    printf("\n");
    return test_n_failed ? 1 : 0;
}

/* The shared test data folder, or NULL (after a loud SKIP line) when it is
 * absent. Under CI=true a missing folder is a failure of the calling case. */
static inline const char *test_data_dir(void)
{
    const char *d = getenv("RAG_TESTDATA");
    if (!d || !*d) d = "../shared/testdata";
    struct stat st;
    if (stat(d, &st) == 0 && S_ISDIR(st.st_mode)) return d;
    const char *ci = getenv("CI");
    if (ci && !strcmp(ci, "true")) {
        printf("    test data folder %s is missing (RAG_TESTDATA) and CI=true\n", d);
        test_case_failed = 1;
    } else {
        printf("    SKIP: test data folder %s is missing; set RAG_TESTDATA\n", d);
        test_case_failed = 2;
    }
    return NULL;
}

/* A fresh empty directory under $TMPDIR for one test binary. */
static inline const char *test_tmpdir(void)
{
    static char dir[256];
    if (dir[0]) return dir;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ragtest.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    return dir;
}

#endif
