/* net/robots.c: the robots.txt parser and matcher (RFC 9309), following
 * Google's open-source robots.txt parser where the RFC leaves room.
 *
 * Parsing is one pass over the lines, keeping only the rules of the best
 * group level seen so far:
 *   level 0  no group names us (rules are dropped),
 *   level 1  a `*` group,
 *   level 2  a group naming our product token.
 * A group is a run of User-agent lines followed by rule lines; the first rule
 * line (Allow, Disallow, Crawl-delay) closes the run, so the next User-agent
 * line starts a new group. The group's level is the highest of its agent
 * lines. When a group of a higher level appears, everything kept so far is
 * dropped; groups of the same level are merged. Lines before the first
 * User-agent are ignored, as Google does.
 *
 * Lines: "#" starts a comment; the key is case-insensitive and ends at ':'
 * (or, for lines without a colon, at whitespace when the line holds exactly
 * two words, Google's allowance for a forgotten colon); Google's accepted
 * misspellings of the keys are accepted. Lines end at LF, CR or CRLF.
 *
 * Patterns are stored percent-normalised (see pct_norm) so that matching is
 * a byte comparison. Matching is linear in the path per rule: a pattern is
 * literal segments separated by '*', and taking each middle segment at its
 * leftmost occurrence (memmem, two-way in glibc) is optimal, so nothing
 * backtracks. */
#include "net/robots.h"
#include "base/buf.h"
#include "base/mem.h"

#include <string.h>
#include <strings.h>

typedef struct net_rule {
    char *pat; /* owned, percent-normalised, never empty */
    size_t len;
    int allow;
} net_rule;

struct net_robots {
    net_rule *rules;
    size_t n_rules, cap;
    double crawl_delay;
};

typedef struct parser {
    net_robots *r;
    const char *agent; /* our product token (borrowed), alen bytes */
    size_t alen;
    int level;      /* level whose rules r holds */
    int cur;        /* level of the group being read */
    int in_agents;  /* the last directive was a User-agent line */
    int seen_agent; /* a User-agent line was seen */
} parser;

enum { KEY_OTHER, KEY_AGENT, KEY_ALLOW, KEY_DISALLOW, KEY_DELAY };

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* Length of the product token at the start of s (RFC 9309: letters, '-', '_'). */
static size_t token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_token_char(s[i]))
        i++;
    return i;
}

static int key_is(const char *k, size_t n, const char *const *names)
{
    for (; *names; names++)
        if (strlen(*names) == n && !strncasecmp(k, *names, n)) return 1;
    return 0;
}

static int key_kind(const char *k, size_t n)
{
    static const char *const agent[] = {"user-agent", "useragent", "user agent", NULL};
    static const char *const allow[] = {"allow", NULL};
    static const char *const disallow[] = {"disallow", "dissallow", "dissalow", "disalow",
                                           "diasllow", "disallaw",  NULL};
    static const char *const delay[] = {"crawl-delay", "crawldelay", "crawl delay", NULL};
    if (key_is(k, n, agent)) return KEY_AGENT;
    if (key_is(k, n, allow)) return KEY_ALLOW;
    if (key_is(k, n, disallow)) return KEY_DISALLOW;
    if (key_is(k, n, delay)) return KEY_DELAY;
    return KEY_OTHER; /* Sitemap, Host, junk: ignored, and they do not end a group */
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Appends s[0..n) in the one form patterns and paths are compared in
 * (RFC 9309 section 2.2.2): %XX of an unreserved character becomes the
 * character, other %XX get uppercase hex, and raw bytes that cannot appear
 * in a URI (controls, space, DEL, non-ASCII such as UTF-8 in a pattern)
 * are encoded. '*' and '$' pass through: in patterns they are operators,
 * and a path holding them literally compares equal to the same literal. */
static void pct_norm(rag_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    rag_buf_reserve(b, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hex_val(s[i + 1]) >= 0 && hex_val(s[i + 2]) >= 0) {
            int hi = hex_val(s[i + 1]), lo = hex_val(s[i + 2]);
            unsigned char v = (unsigned char)(hi * 16 + lo);
            if (is_unreserved(v)) {
                rag_buf_putc(b, (char)v);
            } else {
                char e[3] = {'%', hex[hi], hex[lo]};
                rag_buf_append(b, e, 3);
            }
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rag_buf_append(b, e, 3);
        } else {
            rag_buf_putc(b, (char)c);
        }
    }
}

/* Moves to a higher group level: what was kept belongs to a group that no
 * longer applies. */
static void select_level(parser *p, int level)
{
    net_robots *r = p->r;
    for (size_t i = 0; i < r->n_rules; i++)
        rag_free(r->rules[i].pat);
    r->n_rules = 0;
    r->crawl_delay = 0;
    p->level = level;
}

static void on_agent(parser *p, const char *v, size_t n)
{
    if (!p->in_agents) p->cur = 0; /* a new group starts */
    p->in_agents = 1;
    p->seen_agent = 1;
    int lv = 0;
    if (n >= 1 && v[0] == '*' && (n == 1 || is_ws(v[1])))
        lv = 1;
    else if (token_len(v, n) == p->alen && !strncasecmp(v, p->agent, p->alen))
        lv = 2;
    if (lv > p->cur) p->cur = lv;
    if (p->cur > p->level) select_level(p, p->cur);
}

static void on_rule(parser *p, const char *v, size_t n, int allow)
{
    net_robots *r = p->r;
    if (!n || r->n_rules >= NET_ROBOTS_MAX_RULES) return; /* an empty rule matches nothing */
    rag_buf b = {0};
    pct_norm(&b, v, n);
    r->rules = rag_xgrow(r->rules, &r->cap, r->n_rules + 1, sizeof *r->rules);
    r->rules[r->n_rules].len = b.len;
    r->rules[r->n_rules].allow = allow;
    r->rules[r->n_rules].pat = rag_buf_steal(&b);
    r->n_rules++;
}

/* Crawl-delay: a decimal number of seconds ("10", "0.5"); anything after the
 * number is ignored, a value without digits is skipped. */
static void on_delay(parser *p, const char *v, size_t n)
{
    double d = 0, f = 0.1;
    size_t i = 0, digits = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++)
        if (d < NET_ROBOTS_MAX_DELAY) d = d * 10 + (v[i] - '0');
    if (i < n && v[i] == '.')
        for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++, f /= 10)
            d += (v[i] - '0') * f;
    if (!digits) return;
    if (d > NET_ROBOTS_MAX_DELAY) d = NET_ROBOTS_MAX_DELAY;
    if (d > p->r->crawl_delay) p->r->crawl_delay = d; /* merged groups: the politest */
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_ws(**s))
        (*s)++, (*n)--;
    while (*n && is_ws((*s)[*n - 1]))
        (*n)--;
}

static void on_line(parser *p, const char *s, size_t n)
{
    const char *hash = memchr(s, '#', n);
    if (hash) n = (size_t)(hash - s);
    trim(&s, &n);
    if (!n) return;
    const char *v;
    size_t klen, vlen;
    const char *colon = memchr(s, ':', n);
    if (colon) {
        klen = (size_t)(colon - s);
        v = colon + 1;
    } else { /* "key value": accepted when it is exactly two words */
        klen = 0;
        while (klen < n && !is_ws(s[klen]))
            klen++;
        if (klen == n) return;
        v = s + klen;
        vlen = n - klen;
        trim(&v, &vlen);
        for (size_t i = 0; i < vlen; i++)
            if (is_ws(v[i])) return;
    }
    vlen = (size_t)(s + n - v);
    trim(&s, &klen);
    trim(&v, &vlen);
    if (!klen) return;
    int kind = key_kind(s, klen);
    if (kind == KEY_AGENT) {
        on_agent(p, v, vlen);
        return;
    }
    if (kind == KEY_OTHER) return;
    p->in_agents = 0;
    if (!p->seen_agent || p->cur == 0 || p->cur != p->level) return;
    if (kind == KEY_DELAY)
        on_delay(p, v, vlen);
    else
        on_rule(p, v, vlen, kind == KEY_ALLOW);
}

int net_robots_parse(const char *text, size_t len, const char *agent, net_robots **out,
                     rag_err *err)
{
    if (!out) return rag_err_set(err, RAG_ERR_INVALID, "robots.txt: no output handle");
    *out = NULL;
    size_t alen = agent ? token_len(agent, strlen(agent)) : 0;
    if (!alen)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "robots.txt: user agent \"%s\" has no product token",
                           agent ? agent : "(null)");
    if (!text) len = 0;
    size_t n = len;
    if (n > NET_ROBOTS_MAX_BYTES) {
        n = NET_ROBOTS_MAX_BYTES;
        if (text[n] != '\n' && text[n] != '\r') /* drop the line the cut goes through */
            while (n > 0 && text[n - 1] != '\n' && text[n - 1] != '\r')
                n--;
    }
    parser p = {.r = rag_xcalloc(1, sizeof(net_robots)), .agent = agent, .alen = alen};
    size_t i = n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < n) {
        size_t e = i;
        while (e < n && text[e] != '\n' && text[e] != '\r')
            e++;
        on_line(&p, text + i, e - i);
        if (e + 1 < n && text[e] == '\r' && text[e + 1] == '\n') e++;
        i = e + 1;
    }
    *out = p.r;
    return 0;
}

/* Does `pat` (normalised, not empty) match path[0..n) from its start? */
static int pattern_matches(const char *path, size_t n, const char *pat, size_t plen)
{
    int anchored = pat[plen - 1] == '$';
    if (anchored) plen--;
    const char *star = memchr(pat, '*', plen);
    size_t seg = star ? (size_t)(star - pat) : plen;
    if (seg > n || memcmp(path, pat, seg)) return 0;
    if (!star) return !anchored || seg == n;
    size_t pos = seg;
    const char *p = star + 1;
    size_t rem = plen - seg - 1;
    for (;;) {
        while (rem && *p == '*')
            p++, rem--;
        if (!rem) return 1; /* a trailing '*' takes the rest, anchored or not */
        star = memchr(p, '*', rem);
        seg = star ? (size_t)(star - p) : rem;
        if (!star) {
            if (anchored) return n - pos >= seg && !memcmp(path + n - seg, p, seg);
            return memmem(path + pos, n - pos, p, seg) != NULL;
        }
        const char *hit = memmem(path + pos, n - pos, p, seg);
        if (!hit) return 0;
        pos = (size_t)(hit - path) + seg;
        p = star + 1;
        rem -= seg + 1;
    }
}

int net_robots_allowed(const net_robots *r, const char *path)
{
    if (!r) return 1;
    if (!path || !*path) path = "/";
    if (!strcmp(path, "/robots.txt")) return 1;
    rag_buf b = {0};
    pct_norm(&b, path, strlen(path));
    size_t best_allow = 0, best_disallow = 0; /* pattern lengths; 0 = no match */
    for (size_t i = 0; i < r->n_rules; i++) {
        const net_rule *u = &r->rules[i];
        size_t *best = u->allow ? &best_allow : &best_disallow;
        if (u->len <= *best) continue; /* cannot change the outcome */
        if (pattern_matches(b.data, b.len, u->pat, u->len)) *best = u->len;
    }
    rag_buf_free(&b);
    return best_disallow > best_allow ? 0 : 1;
}

double net_robots_crawl_delay(const net_robots *r)
{
    return r ? r->crawl_delay : 0;
}

void net_robots_free(net_robots *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_rules; i++)
        rag_free(r->rules[i].pat);
    rag_free(r->rules);
    rag_free(r);
}
