/* ingest/chunk.c: cutting an ing_text into chunks, and the word-based token
 * estimate used until a model tokenizer is configured.
 *
 * Token estimate (ing_tokens_estimate)
 * ------------------------------------
 * Byte-level BPE vocabularies hold most English words as one token, split
 * long or rare words, numbers (in groups of up to 3 digits) and camelCase, and
 * spend more tokens per letter on scripts with multi-byte letters. The
 * estimate follows that shape in one pass, with an ASCII fast path:
 *
 *   tokens = sum over word pieces  (1 + bytes/8 for letters, ceil(digits/3) for digits)
 *          + punctuation marks     (1 each; a run of one repeated ASCII mark,
 *                                   like "..." or "-----", costs ceil(run/4))
 *          + CJK characters        (1 each)
 *
 * A word is a maximal run of letters, marks and digits (rag_cp_is_word); it is
 * cut into pieces where letters meet digits, where a lowercase ASCII letter is
 * followed by an uppercase one, and before an apostrophe inside a word
 * ("don't" is don + 't, as in BPE). Whitespace costs nothing. English prose
 * lands near 1.3 tokens per word: about 1.2 for the words (a fifth of them
 * have 8+ letters) plus about 0.1 for punctuation, close to the usual
 * "words * 4/3". Cutting a text anywhere never lowers the sum of the parts'
 * estimates, so with this counter the sum of a chunk's atoms bounds its
 * count and step 5 below never has to act.
 *
 * Chunking (ing_chunk_text)
 * -------------------------
 * 1. Atoms. Blocks are taken in order (text that no block claims becomes a
 *    paragraph, so nothing visible is lost). A block that fits the target is
 *    one atom; a larger one is split into sentences (lines for preformatted
 *    text), a sentence that is still too large into lines, a line into
 *    whitespace-separated words, and a word into the longest runs of whole
 *    UTF-8 characters that fit (a galloping binary search over the prefix,
 *    seeded with the previous piece's length). Each atom is counted once,
 *    when it is cut; a level is skipped without recounting when it does not
 *    split anything. Atoms are produced lazily (a stack of one frame per
 *    level), so working memory is the open chunk's atoms plus one record
 *    per heading, whatever the size of a block.
 * 2. Sections. A heading block opens a section whose parent is the nearest
 *    open heading of a lower level (levels only grow along the parent chain,
 *    so a path has at most 6 parts). Every atom carries its section; a
 *    chunk's heading path is the section of its first text that is not a
 *    heading (a chunk opening with "# A", "## B", text is under "A › B").
 * 3. Packing. Atoms are added greedily while the sum of their counts stays
 *    within target_tokens. The first atom of a heading closes the chunk when
 *    it already holds min_tokens; a smaller section is merged into the next.
 * 4. Overlap. A chunk closed because it was full hands its trailing whole
 *    sentences (lines in preformatted text), or when none fits its trailing
 *    words, up to overlap_tokens and to what the next atom leaves free, to
 *    the next chunk; never across a heading and never the whole chunk.
 * 5. Closing. The final range is counted once more: that count is the
 *    chunk's n_tokens. A counter that is not subadditive (one that charges
 *    for the separators between blocks, say) can make it exceed the target;
 *    the overlap and then trailing atoms are dropped (and fed again) until it
 *    fits.
 * Each byte is counted a bounded number of times (at most once per split
 * level, then the final range and the overlap), so the cost is linear in the
 * text, except for the binary search inside words longer than the target
 * (n log n). */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/sentence.h"
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

/* Bound on each heading's share of a heading path (bytes, cut at a
 * character boundary): the path is stored with every chunk. */
#define HEADING_PART_MAX 256

static const char PATH_SEP[] = " \xE2\x80\xBA "; /* " › " */

/* ======================================================================== */
/* Token estimate                                                           */

enum { PIECE_NONE, PIECE_LETTERS, PIECE_DIGITS };

typedef struct est {
    size_t tokens;
    int piece;       /* PIECE_*: the word piece being read */
    size_t plen;     /* its bytes (letters) or digits */
    int prev_lower;  /* last letter was lowercase ASCII (camelCase cut) */
    unsigned run_ch; /* repeated ASCII punctuation mark, 0 when none */
    size_t run;
} est;

static inline void est_end_piece(est *e)
{
    if (e->piece == PIECE_LETTERS)
        e->tokens += 1 + e->plen / 8;
    else if (e->piece == PIECE_DIGITS)
        e->tokens += (e->plen + 2) / 3;
    e->piece = PIECE_NONE;
    e->plen = 0;
    e->prev_lower = 0;
}

static inline void est_end_run(est *e)
{
    if (e->run) e->tokens += (e->run + 3) / 4;
    e->run = 0;
    e->run_ch = 0;
}

static inline void est_letters(est *e, size_t bytes, int lower, int upper)
{
    est_end_run(e);
    if (e->piece == PIECE_DIGITS || (e->piece == PIECE_LETTERS && upper && e->prev_lower))
        est_end_piece(e);
    e->piece = PIECE_LETTERS;
    e->plen += bytes;
    e->prev_lower = lower;
}

static inline int ascii_alpha(unsigned c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

size_t ing_tokens_estimate(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    const uint8_t *p = (const uint8_t *)s;
    est e = {0};
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            if (c >= 'a' && c <= 'z') {
                est_letters(&e, 1, 1, 0);
                /* the rest of a lowercase run: what est_letters would add */
                while (i < n && p[i] >= 'a' && p[i] <= 'z')
                    e.plen++, i++;
            } else if (c >= 'A' && c <= 'Z') {
                est_letters(&e, 1, 0, 1);
            } else if (c >= '0' && c <= '9') {
                est_end_run(&e);
                if (e.piece == PIECE_LETTERS) est_end_piece(&e);
                e.piece = PIECE_DIGITS;
                e.plen++;
            } else if (c <= ' ' || c == 0x7F) {
                est_end_piece(&e);
                est_end_run(&e);
            } else if (c == '\'' && e.piece == PIECE_LETTERS && i < n && ascii_alpha(p[i])) {
                /* "don't", "it's": the apostrophe starts the next piece */
                est_end_piece(&e);
                est_letters(&e, 1, 0, 0);
            } else {
                est_end_piece(&e);
                if (e.run_ch != c) est_end_run(&e);
                e.run_ch = c;
                e.run++;
            }
            continue;
        }
        int32_t cp;
        size_t l = rag_utf8_decode(p + i, n - i, &cp);
        if (l == 0) { /* invalid or cut at n: one byte, one token */
            est_end_piece(&e);
            est_end_run(&e);
            e.tokens++;
            i++;
            continue;
        }
        i += l;
        if (rag_cp_is_cjk(cp)) {
            est_end_piece(&e);
            est_end_run(&e);
            e.tokens++;
        } else if (rag_cp_is_word(cp)) {
            est_letters(&e, l, 0, 0);
        } else if (cp == 0x2019 && e.piece == PIECE_LETTERS && i < n && ascii_alpha(p[i])) {
            est_end_piece(&e);
            est_letters(&e, l, 0, 0);
        } else if (rag_cp_is_space(cp) || rag_cp_is_control(cp)) {
            est_end_piece(&e);
            est_end_run(&e);
        } else {
            est_end_piece(&e);
            est_end_run(&e);
            e.tokens++;
        }
    }
    est_end_piece(&e);
    est_end_run(&e);
    return e.tokens;
}

void ing_chunk_params_default(ing_chunk_params *p)
{
    memset(p, 0, sizeof *p);
    p->target_tokens = 320;
    p->overlap_tokens = 48;
    p->min_tokens = 64;
    p->count = ing_tokens_estimate;
    p->count_ctx = NULL;
}

/* ======================================================================== */
/* Text helpers. Offsets are bytes into the text; `end` bounds every read.  */

static inline int ascii_space(unsigned c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Length of the whitespace character at s[i] (i < end), 0 when it is not. */
static size_t space_at(const char *s, size_t i, size_t end)
{
    unsigned c = (unsigned char)s[i];
    if (c < 0x80) return ascii_space(c);
    int32_t cp;
    size_t l = rag_utf8_decode((const uint8_t *)s + i, end - i, &cp);
    return l && rag_cp_is_space(cp) ? l : 0;
}

/* Start of the character that ends at s[i] (i > lo). */
static size_t char_start_before(const char *s, size_t lo, size_t i)
{
    size_t j = i - 1;
    while (j > lo && i - j < 4 && ((unsigned char)s[j] & 0xC0) == 0x80)
        j--;
    return j;
}

/* Length of the whitespace character ending just before s[i] (i > lo), or 0. */
static size_t space_before(const char *s, size_t lo, size_t i)
{
    unsigned c = (unsigned char)s[i - 1];
    if (c < 0x80) return ascii_space(c);
    size_t j = char_start_before(s, lo, i);
    size_t l = space_at(s, j, i);
    return l == i - j ? l : 0;
}

static size_t skip_space(const char *s, size_t i, size_t end)
{
    size_t l;
    while (i < end && (l = space_at(s, i, end)))
        i += l;
    return i;
}

static void trim(const char *s, size_t *a, size_t *b)
{
    size_t l;
    *a = skip_space(s, *a, *b);
    while (*b > *a && (l = space_before(s, *a, *b)))
        *b -= l;
}

/* Length of the character at s[i]; an invalid byte counts as one. */
static size_t char_len(const char *s, size_t i, size_t end)
{
    if ((unsigned char)s[i] < 0x80) return 1;
    int32_t cp;
    size_t l = rag_utf8_decode((const uint8_t *)s + i, end - i, &cp);
    return l ? l : 1;
}

/* The largest character boundary <= i and > lo, or lo. */
static size_t snap_down(const char *s, size_t lo, size_t i)
{
    while (i > lo && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static size_t line_end(const char *s, size_t pos, size_t end)
{
    const char *nl = memchr(s + pos, '\n', end - pos);
    return nl ? (size_t)(nl - s) : end;
}

static size_t word_end(const char *s, size_t pos, size_t end)
{
    while (pos < end) {
        unsigned c = (unsigned char)s[pos];
        if (c < 0x80) {
            if (ascii_space(c)) break;
            pos++;
        } else {
            if (space_at(s, pos, end)) break;
            pos += char_len(s, pos, end);
        }
    }
    return pos;
}

/* ======================================================================== */
/* The chunker                                                              */

/* Split levels, coarse to fine. Preformatted blocks split into lines at
 * LV_SENT and skip LV_LINE. */
enum { LV_BLOCK, LV_SENT, LV_LINE, LV_WORD, LV_CHAR, LV_N };

typedef struct frame {
    size_t start, end; /* the range being split (trimmed) */
    size_t pos;        /* next piece starts here */
    size_t tokens;     /* count of [start, end), SIZE_MAX when not counted */
    int level;         /* how this range is split */
} frame;

typedef struct heading_sec {
    size_t start, len; /* the heading's text */
    int level;
    size_t parent; /* 0: the root (no heading) */
} heading_sec;

typedef struct atom {
    size_t start, end, tokens;
    size_t section;
    unsigned char level;         /* LV_* of the cut that produced it */
    unsigned char kind;          /* ing_block_kind of its block */
    unsigned char heading_start; /* first atom of a heading block */
    unsigned char in_heading;    /* any atom of a heading block */
} atom;

typedef struct chunker {
    const char *s;
    size_t len;
    const ing_block *blocks;
    size_t n_blocks;
    ing_token_count_fn count;
    void *count_ctx;
    size_t target, overlap, min;

    /* atom generator */
    size_t bi;       /* next block */
    size_t text_pos; /* end of the last region handed out */
    frame st[LV_N];
    int depth;
    int kind;           /* kind of the block being cut */
    int first_of_block; /* its first atom is still to come */
    size_t section;     /* current section */
    size_t char_guess;  /* bytes of the last character-level piece */
    heading_sec *sec;
    size_t n_sec, cap_sec;

    /* packer: the open chunk is [overlap] + cur[0..n_cur) */
    atom *cur;
    size_t n_cur, cap_cur;
    size_t sum; /* ov_tok + counts of cur */
    int has_ov;
    size_t ov_start, ov_tok, ov_section;
    atom *back; /* atoms to feed again before the generator's, a stack */
    size_t n_back, cap_back;
    size_t *tmp; /* sentence bounds of a block while taking the overlap */
    size_t n_tmp, cap_tmp;

    ing_chunks *out;
} chunker;

static inline size_t count_range(const chunker *C, size_t a, size_t b)
{
    return C->count(C->count_ctx, C->s + a, b - a);
}

/* The next region of text: a block, or text between blocks that no block
 * claims (a paragraph). Tolerates blocks that overlap, run past the text or
 * come out of order: each byte is handed out once. Returns 0 at the end. */
static int next_region(chunker *C, size_t *rs, size_t *re, int *kind, int *level)
{
    for (;;) {
        size_t s, e;
        if (C->bi < C->n_blocks) {
            const ing_block *b = &C->blocks[C->bi];
            size_t bs = b->start < C->len ? b->start : C->len;
            size_t be = b->len < C->len - bs ? bs + b->len : C->len;
            if (bs > C->text_pos) {
                s = C->text_pos;
                e = bs;
                C->text_pos = bs;
                trim(C->s, &s, &e);
                if (s < e) {
                    *rs = s, *re = e, *kind = ING_PARA, *level = 0;
                    return 1;
                }
            }
            C->bi++;
            if (bs < C->text_pos) bs = C->text_pos;
            if (be <= bs) continue;
            C->text_pos = be;
            s = bs;
            e = be;
            trim(C->s, &s, &e);
            if (s == e) continue;
            *rs = s, *re = e;
            *kind = b->kind == ING_HEADING || b->kind == ING_PRE ? (int)b->kind : ING_PARA;
            *level = b->level < 1 ? 1 : b->level > 6 ? 6 : b->level;
            return 1;
        }
        if (C->text_pos >= C->len) return 0;
        s = C->text_pos;
        e = C->len;
        C->text_pos = C->len;
        trim(C->s, &s, &e);
        if (s < e) {
            *rs = s, *re = e, *kind = ING_PARA, *level = 0;
            return 1;
        }
    }
}

/* A heading of `level` replaces the open headings of the same or a deeper level. */
static void open_section(chunker *C, size_t s, size_t e, int level)
{
    size_t parent = C->section;
    while (parent && C->sec[parent].level >= level)
        parent = C->sec[parent].parent;
    C->sec = rag_xgrow(C->sec, &C->cap_sec, C->n_sec + 1, sizeof *C->sec);
    C->sec[C->n_sec] = (heading_sec){.start = s, .len = e - s, .level = level, .parent = parent};
    C->section = C->n_sec++;
}

/* The longest run of whole characters from s[pos] that fits the target, at
 * least one character. Galloping from the previous piece's length keeps a
 * long uniform word (a CJK run, say) at about two counts per piece. */
static size_t fit_chars(chunker *C, size_t pos, size_t end, size_t *tokens)
{
    const char *s = C->s;
    size_t first = pos + char_len(s, pos, end);
    size_t guess = C->char_guess ? C->char_guess : C->target * 4;
    size_t probe = guess < end - pos ? snap_down(s, pos, pos + guess) : end;
    if (probe < first) probe = first;
    size_t lo = pos, lo_tok = 0, hi = end, step = 4, c = count_range(C, pos, probe);
    if (c <= C->target) {
        lo = probe, lo_tok = c;
        for (;;) {
            if (lo == end) {
                *tokens = lo_tok;
                C->char_guess = lo - pos;
                return lo;
            }
            size_t q = step < end - lo ? snap_down(s, lo, lo + step) : end;
            if (q <= lo) q = lo + char_len(s, lo, end);
            c = count_range(C, pos, q);
            if (c > C->target) {
                hi = q;
                break;
            }
            lo = q, lo_tok = c;
            step *= 2;
        }
    } else {
        hi = probe;
        for (;;) {
            if (hi - pos <= step) break;
            size_t q = snap_down(s, pos, hi - step);
            if (q < first) break;
            c = count_range(C, pos, q);
            if (c <= C->target) {
                lo = q, lo_tok = c;
                break;
            }
            hi = q;
            step *= 2;
        }
    }
    /* count(pos, lo) fits (or lo == pos), count(pos, hi) does not */
    for (;;) {
        size_t m = snap_down(s, lo, lo + (hi - lo) / 2);
        if (m <= lo) m = lo + char_len(s, lo, end);
        if (m >= hi) break;
        c = count_range(C, pos, m);
        if (c <= C->target)
            lo = m, lo_tok = c;
        else
            hi = m;
    }
    if (lo == pos) { /* one character above the target: unavoidable */
        lo = first;
        lo_tok = count_range(C, pos, lo);
    }
    C->char_guess = lo - pos;
    *tokens = lo_tok;
    return lo;
}

/* Produces the next atom in document order; 0 at the end of the text. */
static int gen_next(chunker *C, atom *out)
{
    const char *s = C->s;
    for (;;) {
        if (C->depth == 0) {
            size_t rs, re;
            int kind, level;
            if (!next_region(C, &rs, &re, &kind, &level)) return 0;
            C->kind = kind;
            C->first_of_block = 1;
            if (kind == ING_HEADING) open_section(C, rs, re, level);
            C->st[0] =
                (frame){.start = rs, .end = re, .pos = rs, .tokens = SIZE_MAX, .level = LV_BLOCK};
            C->depth = 1;
        }
        frame *f = &C->st[C->depth - 1];
        if (f->pos >= f->end) {
            C->depth--;
            continue;
        }
        size_t ps = f->pos, pe, tok = SIZE_MAX;
        switch (f->level) {
        case LV_BLOCK:
            pe = f->end;
            break;
        case LV_SENT:
            pe = C->kind == ING_PRE ? line_end(s, ps, f->end) : rag_sentence_end(s, ps, f->end);
            break;
        case LV_LINE:
            pe = line_end(s, ps, f->end);
            break;
        case LV_WORD:
            pe = word_end(s, ps, f->end);
            break;
        default:
            pe = fit_chars(C, ps, f->end, &tok);
            break;
        }
        if (pe <= ps) pe = ps + char_len(s, ps, f->end); /* not reached: ps is visible */
        f->pos = skip_space(s, pe, f->end);
        size_t a = ps, b = pe;
        trim(s, &a, &b);
        if (a >= b) continue;
        if (tok == SIZE_MAX)
            tok = a == f->start && b == f->end && f->tokens != SIZE_MAX ? f->tokens
                                                                        : count_range(C, a, b);
        if (tok <= C->target || f->level == LV_CHAR) {
            *out = (atom){.start = a,
                          .end = b,
                          .tokens = tok,
                          .section = C->section,
                          .level = (unsigned char)f->level,
                          .kind = (unsigned char)C->kind,
                          .heading_start = C->kind == ING_HEADING && C->first_of_block,
                          .in_heading = C->kind == ING_HEADING};
            C->first_of_block = 0;
            return 1;
        }
        int next = f->level + 1;
        if (next == LV_LINE && C->kind == ING_PRE) next = LV_WORD;
        C->st[C->depth++] = (frame){.start = a, .end = b, .pos = a, .tokens = tok, .level = next};
    }
}

static int next_atom(chunker *C, atom *x)
{
    if (C->n_back) {
        *x = C->back[--C->n_back];
        return 1;
    }
    return gen_next(C, x);
}

static void push_back(chunker *C, const atom *x)
{
    C->back = rag_xgrow(C->back, &C->cap_back, C->n_back + 1, sizeof *C->back);
    C->back[C->n_back++] = *x;
}

static char *heading_path(const chunker *C, size_t section)
{
    size_t chain[8];
    int n = 0;
    for (size_t k = section; k && n < 8; k = C->sec[k].parent)
        chain[n++] = k;
    rag_buf b = {0};
    for (int i = n; i-- > 0;) {
        const heading_sec *h = &C->sec[chain[i]];
        size_t len = h->len;
        if (len > HEADING_PART_MAX) {
            len = snap_down(C->s, h->start, h->start + HEADING_PART_MAX) - h->start;
            size_t a = h->start, e = h->start + len;
            trim(C->s, &a, &e);
            len = e - h->start;
        }
        if (b.len) rag_buf_puts(&b, PATH_SEP);
        rag_buf_append(&b, C->s + h->start, len);
    }
    if (!b.len) {
        rag_buf_free(&b);
        return rag_xstrdup("");
    }
    return rag_buf_steal(&b);
}

/* Sentence bounds (lines for preformatted text) of atom u into C->tmp. */
static void split_units(chunker *C, const atom *u)
{
    C->n_tmp = 0;
    size_t pos = u->start;
    while (pos < u->end) {
        size_t e =
            u->kind == ING_PRE ? line_end(C->s, pos, u->end) : rag_sentence_end(C->s, pos, u->end);
        if (e <= pos) e = pos + char_len(C->s, pos, u->end);
        size_t a = pos, b = e;
        trim(C->s, &a, &b);
        if (a < b) {
            C->tmp = rag_xgrow(C->tmp, &C->cap_tmp, C->n_tmp + 2, sizeof *C->tmp);
            C->tmp[C->n_tmp++] = a;
            C->tmp[C->n_tmp++] = b;
        }
        pos = skip_space(C->s, e, u->end);
    }
}

/* Picks the overlap for the next chunk from the tail of cur[0..n_cur):
 * whole sentences while they fit `budget`, else whole words. Never the
 * first byte of the chunk (the next chunk would contain this one) and never
 * a heading (no overlap across a section boundary). */
static void take_overlap(chunker *C, size_t chunk_start, size_t budget)
{
    size_t taken = 0, ov = 0, sec = 0;
    int any = 0, stop = 0;
    for (size_t k = C->n_cur; k-- > 0 && !stop;) {
        const atom *u = &C->cur[k];
        if (u->in_heading || u->level > LV_SENT) break; /* part of an oversized sentence */
        if (u->level == LV_SENT) {
            if (u->start <= chunk_start || u->tokens > budget - taken) break;
            taken += u->tokens, ov = u->start, sec = u->section, any = 1;
            continue;
        }
        split_units(C, u);
        for (size_t j = C->n_tmp / 2; j-- > 0;) {
            size_t a = C->tmp[2 * j], b = C->tmp[2 * j + 1];
            size_t c = a > chunk_start ? count_range(C, a, b) : SIZE_MAX;
            if (c > budget - taken) {
                stop = 1;
                break;
            }
            taken += c, ov = a, sec = u->section, any = 1;
        }
    }
    /* No trailing sentence fits: trailing words of the same tail. */
    int done = any;
    for (size_t k = C->n_cur; !done && k-- > 0;) {
        const atom *u = &C->cur[k];
        if (u->in_heading) break;
        size_t e = u->end, l;
        while (e > u->start) {
            size_t w = e;
            while (w > u->start && !space_before(C->s, u->start, w))
                w = char_start_before(C->s, u->start, w);
            size_t c = w > chunk_start ? count_range(C, w, e) : SIZE_MAX;
            if (c > budget - taken) {
                done = 1;
                break;
            }
            taken += c, ov = w, sec = u->section, any = 1;
            e = w;
            while (e > u->start && (l = space_before(C->s, u->start, e)))
                e -= l;
        }
    }
    if (!any) return;
    C->has_ov = 1;
    C->ov_start = ov;
    C->ov_tok = taken;
    C->ov_section = sec;
}

/* The section that names a chunk of cur[0..keep): that of its first text
 * that is not a heading, so a chunk opening with "# A" then "## B" then text
 * is under "A › B"; a chunk of headings only takes the last one's. */
static size_t path_section(const chunker *C, size_t keep)
{
    if (C->has_ov) return C->ov_section;
    for (size_t k = 0; k < keep; k++)
        if (!C->cur[k].in_heading) return C->cur[k].section;
    return C->cur[keep ? keep - 1 : 0].section;
}

/* Emits the open chunk. `x` is the atom that did not fit (NULL at the end of
 * the text). Returns 1 when atoms were handed back to be fed again (then x
 * was handed back too). */
static int close_chunk(chunker *C, const atom *x)
{
    size_t start = C->has_ov ? C->ov_start : C->cur[0].start;
    size_t end = C->cur[C->n_cur - 1].end;
    size_t tok = count_range(C, start, end);
    size_t keep = C->n_cur;
    if (tok > C->target && C->has_ov) {
        C->has_ov = 0;
        start = C->cur[0].start;
        tok = count_range(C, start, end);
    }
    while (tok > C->target && keep > 1) {
        keep--;
        end = C->cur[keep - 1].end;
        tok = count_range(C, start, end);
    }
    int handed_back = keep < C->n_cur;
    atom next = {0};
    int have_next = 0;
    if (handed_back) {
        if (x) push_back(C, x);
        for (size_t k = C->n_cur; k-- > keep;)
            push_back(C, &C->cur[k]);
        next = C->cur[keep];
        have_next = 1;
    } else if (x) {
        next = *x;
        have_next = 1;
    }

    ing_chunks *o = C->out;
    o->v = rag_xgrow(o->v, &o->cap, o->n + 1, sizeof *o->v);
    o->v[o->n++] = (ing_chunk){.byte_start = start,
                               .byte_end = end,
                               .n_tokens = tok,
                               .heading_path = heading_path(C, path_section(C, keep))};

    C->n_cur = keep;
    C->has_ov = 0;
    C->ov_tok = 0;
    if (have_next && !next.heading_start) {
        size_t budget = next.tokens < C->target ? C->target - next.tokens : 0;
        if (budget > C->overlap) budget = C->overlap;
        if (budget) take_overlap(C, start, budget);
    }
    C->n_cur = 0;
    C->sum = C->ov_tok;
    return handed_back;
}

void ing_chunk_text(const ing_text *t, const ing_chunk_params *p, ing_chunks *out)
{
    if (!t || !out || !t->text.data || !t->text.len) return;
    ing_chunk_params def;
    if (!p) {
        ing_chunk_params_default(&def);
        p = &def;
    }
    chunker C;
    memset(&C, 0, sizeof C);
    C.s = t->text.data;
    C.len = t->text.len;
    C.blocks = t->blocks;
    C.n_blocks = t->blocks ? t->n_blocks : 0;
    C.count = p->count ? p->count : ing_tokens_estimate;
    C.count_ctx = p->count ? p->count_ctx : NULL;
    C.target = p->target_tokens ? p->target_tokens : 1;
    C.overlap = p->overlap_tokens;
    C.min = p->min_tokens;
    C.out = out;
    C.sec = rag_xgrow(NULL, &C.cap_sec, 16, sizeof *C.sec);
    C.sec[0] = (heading_sec){0};
    C.n_sec = 1;

    atom x;
    for (;;) {
        if (!next_atom(&C, &x)) {
            if (!C.n_cur) break;
            close_chunk(&C, NULL); /* atoms it hands back are fed again */
            continue;
        }
        if (C.n_cur) {
            int full = C.sum > C.target || x.tokens > C.target - C.sum;
            int heading = x.heading_start && C.sum >= C.min;
            if ((full || heading) && close_chunk(&C, &x)) continue;
        }
        C.cur = rag_xgrow(C.cur, &C.cap_cur, C.n_cur + 1, sizeof *C.cur);
        C.cur[C.n_cur++] = x;
        C.sum = x.tokens > SIZE_MAX - C.sum ? SIZE_MAX : C.sum + x.tokens;
    }

    rag_free(C.sec);
    rag_free(C.cur);
    rag_free(C.back);
    rag_free(C.tmp);
}

void ing_chunks_free(ing_chunks *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        rag_free(c->v[i].heading_path);
    rag_free(c->v);
    memset(c, 0, sizeof *c);
}
