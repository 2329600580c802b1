/* net/policy.c: which addresses a fetch may connect to (see net/net.h).
 *
 * "Private" follows the IANA special-purpose registries: everything that
 * is not ordinary public unicast. IPv6 forms that embed an IPv4 address
 * (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by
 * that address, so a private IPv4 cannot hide inside one. */
#include "net/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int v4_private(uint32_t a) /* host order */
{
    static const struct {
        uint32_t net;
        int bits;
    } blocks[] = {
        {0x00000000, 8},  /* "this network" */
        {0x0A000000, 8},  /* 10/8 private */
        {0x64400000, 10}, /* 100.64/10 carrier-grade NAT */
        {0x7F000000, 8},  /* loopback */
        {0xA9FE0000, 16}, /* 169.254/16 link-local (cloud metadata lives here) */
        {0xAC100000, 12}, /* 172.16/12 private */
        {0xC0000000, 24}, /* 192.0.0/24 protocol assignments */
        {0xC0000200, 24}, /* 192.0.2/24 documentation */
        {0xC0A80000, 16}, /* 192.168/16 private */
        {0xC6120000, 15}, /* 198.18/15 benchmarking */
        {0xC6336400, 24}, /* 198.51.100/24 documentation */
        {0xCB007100, 24}, /* 203.0.113/24 documentation */
        {0xE0000000, 4},  /* multicast */
        {0xF0000000, 4},  /* reserved, and broadcast */
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        uint32_t mask = 0xFFFFFFFFu << (32 - blocks[i].bits);
        if ((a & mask) == blocks[i].net) return 1;
    }
    return 0;
}

static uint32_t v4_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int v6_private(const uint8_t *a)
{
    static const uint8_t zero[16] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    if (!memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1)) return 1; /* :: and ::1 */
    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12)) return v4_private(v4_at(a + 12));
    if (!memcmp(a, zero, 12)) return 1; /* IPv4-compatible, deprecated */
    if (a[0] == 0x20 && a[1] == 0x02) return v4_private(v4_at(a + 2)); /* 6to4 */
    if ((a[0] & 0xFE) == 0xFC) return 1;                               /* fc00::/7 unique local */
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return 1;               /* fe80::/10 link-local */
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) return 1;               /* fec0::/10 site-local */
    if (a[0] == 0xFF) return 1;                                        /* multicast */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) return 1; /* documentation */
    if (a[0] == 0x01 && !memcmp(a + 1, zero, 7)) return 1; /* 100::/64 discard */
    return 0;
}

int net_address_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_private(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    return 1; /* anything else (unix sockets) is not the internet */
}

/* Parses "addr" or "addr/bits" into 16 bytes (IPv4 as mapped IPv6) and a
 * prefix length over those 16 bytes. */
static int parse_block(const char *s, size_t n, uint8_t net[16], int *bits)
{
    char text[64];
    if (!n || n >= sizeof text) return -1;
    memcpy(text, s, n);
    text[n] = 0;
    char *slash = strchr(text, '/');
    long b = -1;
    if (slash) {
        char *end;
        *slash = 0;
        b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end) return -1;
    }
    struct in_addr v4;
    memset(net, 0, 16);
    if (inet_pton(AF_INET, text, &v4) == 1) {
        if (b > 32) return -1;
        net[10] = net[11] = 0xFF;
        memcpy(net + 12, &v4, 4);
        *bits = 96 + (int)(b < 0 ? 32 : b);
        return 0;
    }
    if (inet_pton(AF_INET6, text, net) == 1) {
        if (b > 128) return -1;
        *bits = (int)(b < 0 ? 128 : b);
        return 0;
    }
    return -1;
}

static int in_block(const uint8_t a[16], const uint8_t net[16], int bits)
{
    for (int i = 0; i < 16 && bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xFF : (uint8_t)(0xFF << (8 - bits));
        if ((a[i] & mask) != (net[i] & mask)) return 0;
    }
    return 1;
}

/* Calls fn for each entry of a comma-separated allow list; stops at the
 * first non-zero result and returns it. -1 for a malformed entry. */
static int each_block(const char *allow, int (*fn)(void *, const uint8_t *, int), void *ctx)
{
    const char *p = allow;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        uint8_t net[16];
        int bits;
        if (parse_block(p, n, net, &bits)) return -1;
        int r = fn(ctx, net, bits);
        if (r) return r;
        p += n;
    }
    return 0;
}

static int match_block(void *ctx, const uint8_t *net, int bits)
{
    return in_block(ctx, net, bits);
}

static int accept_block(void *ctx, const uint8_t *net, int bits)
{
    (void)ctx, (void)net, (void)bits;
    return 0;
}

int net_allow_list_check(const char *allow, rag_err *err)
{
    if (each_block(allow, accept_block, NULL) < 0)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "net.allow '%s': expected addresses or CIDR blocks separated by commas",
                           allow);
    return 0;
}

int net_policy_check(const net_policy *p, const struct sockaddr *sa, char *why, size_t why_len)
{
    if (!p || p->allow_private || !net_address_private(sa)) return 0;
    uint8_t a[16] = {0};
    char text[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        a[10] = a[11] = 0xFF;
        memcpy(a + 12, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        memcpy(a, in6->sin6_addr.s6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    }
    int r = p->allow ? each_block(p->allow, match_block, a) : 0;
    if (r < 0) {
        snprintf(why, why_len, "the allow list '%s' is malformed", p->allow);
        return RAG_ERR_INVALID;
    }
    if (r > 0) return 0;
    snprintf(why, why_len,
             "%s is a private, loopback or link-local address (allow it with net.allow_private "
             "or --allow-private)",
             text);
    return RAG_ERR_DENIED;
}
