/* Server pools (net/pool.c): a list of URLs is checked as one URL is, at
 * most 16, none empty or twice, and no message or label shows a password;
 * each attempt goes to the least busy server that is up, ties in turn, and
 * a request never gets the same server twice; a server that failed is
 * skipped for 2 s, then tried by one request at a time, its back-off
 * doubling at each failed trial up to 30 s and reset by a success; when
 * every server is down a request still gets the one back soonest; the
 * counts stay right under threads. Times are given, not waited for. */
#include "base/err.h"
#include "base/mem.h"
#include "net/net.h"
#include "test.h"

#include <pthread.h>
#include <stdio.h>

static net_pool *pool(const char *list)
{
    net_pool *p = NULL;
    rag_err err = {0};
    CHECK_INT(net_pool_new(list, &p, &err), 0);
    return p;
}

static void test_lists(void)
{
    rag_err err = {0};
    CHECK_INT(net_url_list_check("http://a:8080/v1", &err), 0);
    CHECK_INT(net_url_list_check(" http://a/v1 ,https://b/v1,\thttp://c/v1 ", &err), 0);
    CHECK(net_url_list_check("http://a/v1,,http://b/v1", &err) != 0);
    CHECK_CONTAINS(err.msg, "server 2 of the list is empty");
    CHECK(net_url_list_check("http://a/v1,", &err) != 0);
    CHECK(net_url_list_check("http://a/v1, ftp://b/v1", &err) != 0);
    CHECK_CONTAINS(err.msg, "'ftp://b/v1' is not an http:// or https:// URL");
    CHECK(net_url_list_check("http://a/v1, http://a/v1", &err) != 0);
    CHECK_CONTAINS(err.msg, "listed twice");
    CHECK(net_url_list_check("http://a b/v1", &err) != 0);
    /* 16 is the most */
    char list[2048] = "";
    for (int i = 0; i < 16; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%shttp://h%d/v1", i ? "," : "",
                 i);
    CHECK_INT(net_url_list_check(list, &err), 0);
    net_pool *p = pool(list);
    CHECK_INT(net_pool_size(p), 16);
    net_pool_free(p);
    strcat(list, ",http://h16/v1");
    CHECK(net_url_list_check(list, &err) != 0);
    CHECK_CONTAINS(err.msg, "more than 16 servers");
    /* passwords */
    CHECK(net_url_list_check("http://u:pa55word@a/v1, ftp://u:pa55word@b/v1", &err) != 0);
    CHECK(strstr(err.msg, "pa55word") == NULL);
    CHECK_CONTAINS(err.msg, "'ftp://b/v1'");
    CHECK(net_url_list_check("http://u:pa55word@a/v1, http://u:pa55word@a/v1", &err) != 0);
    CHECK(strstr(err.msg, "pa55word") == NULL);
    char *s = net_url_public("https://user:p@ss@h:1/v1?x=a@b");
    CHECK_STR(s, "https://h:1/v1?x=a@b");
    rag_free(s);
    s = net_url_public("http://h/v1/@me");
    CHECK_STR(s, "http://h/v1/@me");
    rag_free(s);
    s = net_url_list_public("http://u:pa55word@a/v1 ,  http://b/v1");
    CHECK_STR(s, "http://a/v1, http://b/v1");
    rag_free(s);
    p = pool("http://u:pa55word@a/v1,http://b/v1/");
    CHECK_STR(net_pool_url(p, 0), "http://u:pa55word@a/v1");
    CHECK_STR(net_pool_label(p, 0), "http://a/v1");
    CHECK_STR(net_pool_label(p, 1), "http://b/v1/");
    CHECK_STR(net_pool_shown(p), "http://a/v1, http://b/v1/");
    net_pool_stats st;
    net_pool_stats_get(p, 0, &st);
    CHECK_STR(st.label, "http://a/v1");
    net_pool_free(p);
}

static void test_least_busy_then_in_turn(void)
{
    net_pool *p = pool("http://a/v1,http://b/v1,http://c/v1");
    /* one request at a time: in turn */
    int want[] = {0, 1, 2, 0, 1};
    for (int k = 0; k < 5; k++) {
        uint32_t tried = 0;
        int i = net_pool_acquire(p, &tried, 0);
        CHECK_INT(i, want[k]);
        net_pool_release(p, i, NET_POOL_OK, 0);
    }
    /* requests held open: each goes to the least busy */
    uint32_t t1 = 0, t2 = 0, t3 = 0, t4 = 0;
    int a = net_pool_acquire(p, &t1, 0); /* 2: after the last picked */
    int b = net_pool_acquire(p, &t2, 0);
    int c = net_pool_acquire(p, &t3, 0);
    CHECK(a != b && b != c && a != c);
    net_pool_release(p, b, NET_POOL_OK, 0); /* b is now the only idle one */
    CHECK_INT(net_pool_acquire(p, &t4, 0), b);
    net_pool_stats st;
    net_pool_stats_get(p, a, &st);
    CHECK_INT(st.in_flight, 1);
    net_pool_release(p, a, NET_POOL_OK, 0);
    net_pool_release(p, b, NET_POOL_OK, 0);
    net_pool_release(p, c, NET_POOL_OK, 0);
    uint64_t total = 0;
    for (int i = 0; i < 3; i++) {
        net_pool_stats_get(p, i, &st);
        CHECK_INT(st.in_flight, 0);
        CHECK_INT(st.failures, 0);
        CHECK_INT(st.up, 1);
        total += st.requests;
    }
    CHECK_INT(total, 9);
    net_pool_free(p);
}

static void test_each_server_once_per_request(void)
{
    net_pool *p = pool("http://a/v1,http://b/v1,http://c/v1");
    uint32_t tried = 0;
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        int i = net_pool_acquire(p, &tried, 0);
        CHECK(i >= 0 && !(seen & (1 << i)));
        seen |= 1 << i;
        net_pool_release(p, i, NET_POOL_DOWN, 0);
    }
    CHECK_INT(net_pool_acquire(p, &tried, 0), -1); /* all tried: the request fails */
    CHECK_INT(seen, 7);
    net_pool_free(p);
}

static void test_down_back_off_and_trial(void)
{
    net_pool *p = pool("http://a/v1,http://b/v1");
    uint32_t t = 0;
    CHECK_INT(net_pool_acquire(p, &t, 0), 0);
    net_pool_release(p, 0, NET_POOL_DOWN, 0); /* down at 0 ms: back at 2000 */
    net_pool_stats st;
    net_pool_stats_get(p, 0, &st);
    CHECK_INT(st.up, 0);
    CHECK_INT(st.failures, 1);
    CHECK(st.retry_at_ms == 2000);
    /* skipped while backed off, even when the other server is busier */
    uint32_t busy = 0;
    CHECK_INT(net_pool_acquire(p, &busy, 100), 1); /* held: b has 1 in flight */
    for (int k = 0; k < 3; k++) {
        t = 0;
        CHECK_INT(net_pool_acquire(p, &t, 1999), 1);
        net_pool_release(p, 1, NET_POOL_OK, 1999);
    }
    /* back-off over: one request takes it as a trial, the others do not */
    t = 0;
    CHECK_INT(net_pool_acquire(p, &t, 2000), 0);
    uint32_t t2 = 0;
    CHECK_INT(net_pool_acquire(p, &t2, 2001), 1);
    net_pool_release(p, 1, NET_POOL_OK, 2001);
    net_pool_release(p, 0, NET_POOL_DOWN, 2100); /* the trial failed: 4 s */
    net_pool_stats_get(p, 0, &st);
    CHECK(st.retry_at_ms == 6100);
    t = 0;
    CHECK_INT(net_pool_acquire(p, &t, 6000), 1);
    net_pool_release(p, 1, NET_POOL_OK, 6000);
    /* trials failing: 8, 16, then 30 s at most */
    double now = 6100, want[] = {8000, 16000, 30000, 30000};
    for (int k = 0; k < 4; k++) {
        t = 0;
        CHECK_INT(net_pool_acquire(p, &t, now), 0);
        net_pool_release(p, 0, NET_POOL_DOWN, now);
        net_pool_stats_get(p, 0, &st);
        CHECK(st.retry_at_ms - now == want[k]);
        now = st.retry_at_ms;
    }
    /* a successful trial: up again, and the next fall backs off 2 s */
    t = 0;
    CHECK_INT(net_pool_acquire(p, &t, now), 0);
    net_pool_release(p, 0, NET_POOL_OK, now);
    net_pool_stats_get(p, 0, &st);
    CHECK_INT(st.up, 1);
    t = 0;
    CHECK_INT(net_pool_acquire(p, &t, now), 0); /* b has 1 in flight (busy) */
    net_pool_release(p, 0, NET_POOL_DOWN, now);
    net_pool_stats_get(p, 0, &st);
    CHECK(st.retry_at_ms - now == 2000);
    /* requests in flight when it fell do not stretch the back-off */
    net_pool_release(p, 1, NET_POOL_DOWN, now); /* b falls (the held one) */
    net_pool_stats_get(p, 1, &st);
    CHECK_INT(st.up, 0);
    CHECK_INT(st.in_flight, 0);
    net_pool_free(p);
}

static void test_all_down(void)
{
    net_pool *p = pool("http://a/v1,http://b/v1");
    uint32_t t = 0;
    CHECK_INT(net_pool_acquire(p, &t, 0), 0);
    net_pool_release(p, 0, NET_POOL_DOWN, 0); /* back at 2000 */
    CHECK_INT(net_pool_acquire(p, &t, 500), 1);
    net_pool_release(p, 1, NET_POOL_DOWN, 500); /* back at 2500 */
    /* a new request, both backed off: the one back soonest, then the other */
    t = 0;
    CHECK_INT(net_pool_acquire(p, &t, 1000), 0);
    net_pool_release(p, 0, NET_POOL_FAIL, 1000);
    CHECK_INT(net_pool_acquire(p, &t, 1000), 1);
    net_pool_release(p, 1, NET_POOL_OK, 1000); /* it answered: up */
    net_pool_stats st;
    net_pool_stats_get(p, 1, &st);
    CHECK_INT(st.up, 1);
    net_pool_stats_get(p, 0, &st);
    CHECK_INT(st.up, 0);
    CHECK_INT(st.failures, 2);
    net_pool_free(p);
    /* one server is always tried */
    p = pool("http://only/v1");
    for (int k = 0; k < 3; k++) {
        t = 0;
        CHECK_INT(net_pool_acquire(p, &t, 10), 0);
        net_pool_release(p, 0, NET_POOL_DOWN, 10);
    }
    net_pool_free(p);
}

enum { THREADS = 8, ROUNDS = 20000 };

static void *hammer(void *arg)
{
    net_pool *p = arg;
    for (int k = 0; k < ROUNDS; k++) {
        uint32_t t = 0;
        int i = net_pool_acquire(p, &t, k);
        int j = k % 7 == 0 ? net_pool_acquire(p, &t, k) : -1; /* a failover */
        if (j >= 0) net_pool_release(p, j, NET_POOL_OK, k);
        net_pool_release(p, i, k % 7 == 0 ? NET_POOL_DOWN : NET_POOL_OK, k);
    }
    return NULL;
}

static void test_threads(void)
{
    net_pool *p = pool("http://a/v1,http://b/v1,http://c/v1");
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, p);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t total = 0;
    for (int i = 0; i < 3; i++) {
        net_pool_stats st;
        net_pool_stats_get(p, i, &st);
        CHECK_INT(st.in_flight, 0);
        total += st.requests;
    }
    int per_thread = ROUNDS + (ROUNDS + 6) / 7;
    CHECK_INT(total, (uint64_t)THREADS * (uint64_t)per_thread);
    net_pool_free(p);
}

int main(void)
{
    RUN(test_lists);
    RUN(test_least_busy_then_in_turn);
    RUN(test_each_server_once_per_request);
    RUN(test_down_back_off_and_trial);
    RUN(test_all_down);
    RUN(test_threads);
    return test_summary();
}
