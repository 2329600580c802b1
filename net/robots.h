/* net/robots.h: robots.txt, the Robots Exclusion Protocol (RFC 9309), read
 * the way Google's open-source parser reads it.
 *
 * net_robots_parse() keeps only what applies to one crawler: the rules of the
 * group(s) naming our product token, else those of the `*` group(s), else
 * nothing. net_robots_allowed() then answers for one path.
 *
 * Fetching robots.txt is the caller's job, and so is the policy for what the
 * fetch returned (RFC 9309 section 2.3.1):
 *   - 2xx: parse the body;
 *   - 3xx: follow at least five redirects, then treat as 4xx;
 *   - 4xx ("unavailable", e.g. 404): no rules; crawl everything. Pass NULL
 *     as the net_robots* (a NULL handle allows every path);
 *   - 5xx, timeouts, network errors ("unreachable"): assume everything is
 *     disallowed and retry later; a cached copy may be used meanwhile;
 *   - keep a parsed copy for at most 24 hours unless the site is unreachable.
 */
#ifndef RAG_NET_ROBOTS_H
#define RAG_NET_ROBOTS_H

#include "base/err.h"

#include <stddef.h>

/* Only the first 500 KiB of a robots.txt are read (RFC 9309 section 2.5
 * allows this); a line cut by the limit is dropped, so a truncated pattern
 * never widens an Allow. */
#define NET_ROBOTS_MAX_BYTES (500u * 1024u)
/* Rules kept for our group; later ones are ignored. */
#define NET_ROBOTS_MAX_RULES 10000u
/* Crawl-delay values above this (seconds) are clamped to it. */
#define NET_ROBOTS_MAX_DELAY 86400.0

typedef struct net_robots net_robots;

/* Parses text[0..len) (borrowed; need not be NUL-terminated; may be NULL
 * when len is 0) for the crawler whose product token is `agent` (borrowed,
 * e.g. "ragbot"; only its leading letters, '-' and '_' count, so
 * "ragbot/1.0" means "ragbot").
 *
 * Group selection: a group is a run of User-agent lines followed by its
 * rules (blank lines, Sitemap and unknown lines do not end it). Groups whose
 * User-agent product token equals ours, case-insensitively, are merged and
 * used; only when there is none are the `*` groups merged and used; with
 * neither, everything is allowed. A group that names us but has no rules
 * allows everything: `*` rules do not leak into it.
 *
 * Malformed lines are skipped, never an error. Writes *out (free with
 * net_robots_free). Returns 0, or RAG_ERR_INVALID for a NULL out or an
 * agent without a product token. */
int net_robots_parse(const char *text, size_t len, const char *agent, net_robots **out,
                     rag_err *err);

/* 1 when `path` (borrowed, NUL-terminated: the URL's path and query, e.g.
 * "/a/b?x=1"; "" means "/") may be fetched, 0 when not. The rule with the
 * longest pattern that matches wins; Allow wins a tie; no match allows.
 * Patterns match from the start of the path, `*` matches any run of bytes
 * and a final `$` anchors at the end. Pattern and path are compared after
 * normalising percent-encoding: %XX of an unreserved character (ALPHA,
 * DIGIT, - . _ ~) is decoded, other %XX get uppercase hex, and raw bytes
 * outside printable ASCII are encoded. "/robots.txt" is always allowed. A
 * NULL r allows everything. */
int net_robots_allowed(const net_robots *r, const char *path);

/* The Crawl-delay of our group in seconds (non-standard; fractions allowed;
 * the largest when merged groups give several), 0 when none or r is NULL. */
double net_robots_crawl_delay(const net_robots *r);

void net_robots_free(net_robots *r);

#endif
