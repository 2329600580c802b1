/* ingest/pdf.c: PDF files, through poppler-glib in a child process.
 *
 * PDF parsers are large and handle hostile input: a bad file may make one
 * loop, eat memory or crash. So the parse runs in a forked child with
 * resource limits, and this process only reads what the child reports:
 *
 *   parent                                  child (fork, no exec)
 *   pipe(); fork()  ─────────────────────►  rlimits: CPU pdf_cpu_s, address
 *                                           space +pdf_mem, no core, no files
 *                                           fds: only the pipe (as fd 3)
 *                                           poppler_document_new_from_bytes
 *   poll() with a wall-clock deadline  ◄──  records, then _exit(0):
 *   parse records as they come              'T' title (may be empty)
 *   (payload total capped at max_text)      'P' text of one page, per page
 *   waitpid() always                        'R' OCR starts: limits raised
 *                                           'O' pages OCR'd (decimal)
 *                                           'E' message, then _exit(3)
 *                                           (_exit(4): encrypted,
 *                                           _exit(6): OCR cannot start)
 *
 * A record is one type byte, a 4-byte little-endian length, the payload.
 *
 * The parent never calls glib or poppler: all of that state exists in the
 * child only, which dies with it. The child inherits the document bytes
 * through fork (copy-on-write, nothing is copied) and ignores SIGPIPE so that
 * a parent that went away shows as EPIPE, not as a signal. There is no exec,
 * so the child runs on a copy of a possibly multi-threaded parent: it only
 * uses malloc (made fork-safe by glibc), plain system calls and libraries the
 * parent never touched (glib, poppler).
 *
 * pdf_mem is counted on top of the address space the child inherits (the
 * parent may have mapped a multi-GB model), read from /proc/self/statm.
 *
 * The child runner (fork, limits, records, outcomes) is ingest/child.c's
 * ing_child_run, shared with OCR.
 *
 * A file without "%PDF-" in its first 1 KiB is refused before any fork. A
 * build without RAG_HAVE_POPPLER answers RAG_ERR_UNSUPPORTED for the rest.
 *
 * Outcomes: killed by SIGXCPU (or SIGKILL after using its CPU time) => the
 * CPU limit; SIGABRT or a SIGKILL otherwise => out of memory (glib and
 * poppler's C++ abort when an allocation fails under RLIMIT_AS; the kernel's
 * OOM killer sends SIGKILL); no answer in pdf_timeout_s => killed, time
 * limit; exit 3 => corrupt PDF with poppler's message. A PDF whose pages hold
 * no text (scans) is an error of its own unless OCR reads them.
 *
 * OCR (built with RAG_HAVE_TESSERACT and cairo; lim->ocr_mode not NEVER):
 * in the child, a page whose text layer is blank (every page under ALWAYS)
 * is rendered at 300 dpi (less when that would pass ocr_max_pixels) on
 * white, turned grey and read by tesseract (ing_ocr_gray), at most
 * ocr_max_pages pages; tesseract is started at the first such page. Its text
 * replaces the page's. Record 'O' tells the parent how many pages were
 * OCR'd (metadata "ocr_pages"). Parsing runs under the pdf_ limits; at the
 * first page OCR'd the child raises its own (ing_child_raise) to the sums of
 * the pdf_ and ocr_ CPU limits and the larger memory limit, and says so
 * (record 'R'), and the parent adds ocr_timeout_s to its deadline.
 *
 * Page text: paragraphs at blank lines, the lines of a paragraph joined with
 * spaces, a word hyphenated at a line end ("infor-" + "mation") joined when
 * the next line starts with a lowercase letter; a page always ends a
 * paragraph. */
#include "ingest/ing_int.h"
#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef RAG_HAVE_POPPLER
#include <poppler.h>
#endif

#if defined(RAG_HAVE_POPPLER) && defined(RAG_HAVE_TESSERACT) && defined(RAG_HAVE_CAIRO)
#define PDF_OCR 1
#include <cairo.h>
#else
#define PDF_OCR 0
#endif

enum { REC_TITLE = 'T', REC_PAGE = 'P', REC_OCR_START = 'R', REC_OCR_PAGES = 'O' };
enum { EXIT_OK = 0, EXIT_BAD_PDF = 3, EXIT_ENCRYPTED = 4, EXIT_OCR = 6 };

#ifdef RAG_HAVE_POPPLER

/* ---- child ----------------------------------------------------------------- */

typedef struct pdf_job {
    const uint8_t *data;
    size_t n;
    const ing_limits *lim;
    int ocr;                         /* OCR pages: ING_OCR_AUTO or ING_OCR_ALWAYS; -1: off */
    const char *ocr_dir, *ocr_langs; /* resolved by the parent */
} pdf_job;

static int blank_text(const char *s)
{
    if (!s) return 1;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f') return 0;
    return 1;
}

#if PDF_OCR
/* Renders page on white at up to 300 dpi and OCRs it: malloc'ed text or
 * NULL. Starts tesseract on first use (exits EXIT_OCR when it cannot). */
static char *ocr_page(const pdf_job *j, PopplerPage *page, ing_ocr **eng)
{
    double pw = 0, ph = 0;
    poppler_page_get_size(page, &pw, &ph);
    if (!(pw > 0 && ph > 0)) return NULL;
    double scale = 300.0 / 72.0;
    double px = pw * scale * ph * scale;
    if (j->lim->ocr_max_pixels && px > (double)j->lim->ocr_max_pixels)
        scale *= sqrt((double)j->lim->ocr_max_pixels / px);
    double wd = pw * scale, hd = ph * scale;
    if (wd < 1 || hd < 1 || wd > 32767 || hd > 32767) return NULL;
    int w = (int)wd, h = (int)hd;
    if (!*eng) {
        /* OCR's limits from here on: the parent raises its own alike */
        ing_child_put(REC_OCR_START, NULL);
        ing_child_raise(j->lim->pdf_cpu_s + j->lim->ocr_cpu_s,
                        j->lim->ocr_mem > j->lim->pdf_mem ? j->lim->ocr_mem : j->lim->pdf_mem);
        const char *why = NULL;
        *eng = ing_ocr_open(j->ocr_dir, j->ocr_langs, &why);
        if (!*eng) {
            ing_child_put(ING_CHILD_REC_ERROR, why ? why : "tesseract cannot start");
            _exit(EXIT_OCR);
        }
    }
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        return NULL;
    }
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, scale, scale);
    poppler_page_render(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    const unsigned char *d = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    uint8_t *gray = d ? malloc((size_t)w * (size_t)h) : NULL;
    char *text = NULL;
    if (gray) {
        for (int y = 0; y < h; y++) {
            const uint32_t *row = (const uint32_t *)(const void *)(d + (size_t)y * (size_t)stride);
            uint8_t *g = gray + (size_t)y * (size_t)w;
            for (int x = 0; x < w; x++) {
                uint32_t v = row[x]; /* 0xXXRRGGBB */
                unsigned r = v >> 16 & 255, gr = v >> 8 & 255, b = v & 255;
                g[x] = (uint8_t)((r * 299 + gr * 587 + b * 114) / 1000);
            }
        }
        text = ing_ocr_gray(*eng, gray, w, h, w, (int)lround(scale * 72.0));
        free(gray);
    }
    cairo_surface_destroy(surf);
    return text;
}
#endif

__attribute__((noreturn)) static void child_main(void *ctx)
{
    const pdf_job *j = ctx;
    GBytes *bytes = g_bytes_new_static(j->data, j->n);
    GError *gerr = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    if (!doc) {
        int encrypted =
            gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED;
        ing_child_put(ING_CHILD_REC_ERROR,
                      gerr && gerr->message ? gerr->message : "cannot be opened");
        _exit(encrypted ? EXIT_ENCRYPTED : EXIT_BAD_PDF);
    }
    gchar *title = poppler_document_get_title(doc);
    ing_child_put(REC_TITLE, title);
    g_free(title);
    int pages = poppler_document_get_n_pages(doc);
#if PDF_OCR
    ing_ocr *eng = NULL;
    unsigned ocr_done = 0;
#endif
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text = page ? poppler_page_get_text(page) : NULL;
#if PDF_OCR
        if (page && j->ocr >= 0 && (j->ocr == ING_OCR_ALWAYS || blank_text(text)) &&
            ocr_done < j->lim->ocr_max_pages) {
            char *o = ocr_page(j, page, &eng);
            ocr_done++;
            if (o && (!blank_text(o) || j->ocr == ING_OCR_ALWAYS)) {
                g_free(text);
                text = g_strdup(o);
            }
            free(o);
        }
#else
        (void)blank_text;
#endif
        ing_child_put(REC_PAGE, text);
        g_free(text);
        if (page) g_object_unref(page);
    }
#if PDF_OCR
    if (ocr_done) {
        char num[32];
        snprintf(num, sizeof num, "%u", ocr_done);
        ing_child_put(REC_OCR_PAGES, num);
    }
#endif
    /* no clean-up: the process ends here and the parent reads EOF */
    _exit(EXIT_OK);
}

/* ---- parent ----------------------------------------------------------------- */

typedef struct pdf_reader {
    ing_text *out;
    int got_title, raised;
    unsigned ocr_pages;
    ing_child_limits *cl;
    unsigned ocr_timeout_s;
} pdf_reader;

static void on_record(void *ctx, char type, const char *p, size_t len)
{
    pdf_reader *r = ctx;
    if (type == REC_TITLE && !r->got_title) {
        r->got_title = 1;
        if (len) {
            ing_text_set_title(r->out, p, len);
            r->out->title_in_text = 0;
        }
    } else if (type == REC_PAGE) {
        ing_text_add_page(r->out, p, len);
    } else if (type == REC_OCR_START && !r->raised) {
        r->raised = 1; /* the child raised its limits to these */
        r->cl->cpu_s = r->cl->cpu_max_s;
        r->cl->mem = r->cl->mem_max;
        r->cl->timeout_s += r->ocr_timeout_s;
    } else if (type == REC_OCR_PAGES) {
        r->ocr_pages = (unsigned)strtoul(len < 20 ? p : "0", NULL, 10);
    }
}

static int extract_in_child(const char *name, const uint8_t *data, size_t n, const ing_limits *lim,
                            ing_text *out, rag_err *err)
{
    pdf_job j = {.data = data, .n = n, .lim = lim, .ocr = -1};
    ing_child_limits cl = {lim->pdf_cpu_s, lim->pdf_mem, lim->pdf_timeout_s, 0, 0};
    char dir[1024], langs[512];
    rag_err lang_err = {0};
    if (PDF_OCR && lim->ocr_mode != ING_OCR_NEVER && lim->ocr_max_pages > 0) {
        if (!ing_ocr_languages(lim->ocr_languages, dir, sizeof dir, langs, sizeof langs,
                               &lang_err)) {
            j.ocr = lim->ocr_mode;
            j.ocr_dir = dir;
            j.ocr_langs = langs;
            cl.cpu_max_s = lim->pdf_cpu_s + lim->ocr_cpu_s;
            cl.mem_max = lim->ocr_mem > lim->pdf_mem ? lim->ocr_mem : lim->pdf_mem;
        }
    }
    pdf_reader r = {.out = out, .cl = &cl, .ocr_timeout_s = lim->ocr_timeout_s};
    ing_child_result res;
    int rc = ing_child_run(name, "PDF parser", &cl, lim->max_text, child_main, &j, on_record, &r,
                           &res, err);
    if (rc) return rc;
    if (res.reaped && WIFEXITED(res.status)) {
        int code = WEXITSTATUS(res.status);
        if (code == EXIT_BAD_PDF)
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt PDF: %s", name,
                               res.error[0] ? res.error : "poppler cannot read it");
        if (code == EXIT_ENCRYPTED)
            return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                               "%s: the PDF is encrypted (it needs a password)", name);
        if (code == EXIT_OCR)
            return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: OCR of a page without text: %s", name,
                               res.error[0] ? res.error : "tesseract cannot start");
        if (code != EXIT_OK)
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: PDF parser failed (exit status %d)", name,
                               code);
    } else if (!res.reaped && !r.got_title) {
        /* the status was lost (someone else reaped the child): go by what
         * it wrote */
        if (res.error[0])
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt PDF: %s", name, res.error);
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: PDF parser ended without a result", name);
    }
    if (r.ocr_pages) {
        char num[32];
        snprintf(num, sizeof num, "%u", r.ocr_pages);
        ing_meta_json(out, "ocr_pages", num);
    }
    if (out->n_blocks == 0) {
        if (!PDF_OCR)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: the PDF has no text layer (scanned? OCR is not supported)",
                               name);
        if (lim->ocr_mode == ING_OCR_NEVER || lim->ocr_max_pages == 0)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: the PDF has no text layer (scanned? OCR is off)", name);
        if (lang_err.code)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: the PDF has no text layer, and OCR cannot run: %s", name,
                               lang_err.msg);
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: the PDF has no text layer and OCR found no text in its pages",
                           name);
    }
    return 0;
}

#else /* !RAG_HAVE_POPPLER */

static int extract_in_child(const char *name, const uint8_t *data, size_t n, const ing_limits *lim,
                            ing_text *out, rag_err *err)
{
    (void)data, (void)n, (void)lim, (void)out;
    return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                       "%s: PDF support was not built (install libpoppler-glib-dev and rebuild)",
                       name);
}

#endif

int ing_extract_pdf(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "application/pdf";
    /* No header: not worth a parser (a file named .pdf that is not one),
     * and the answer does not depend on poppler being built in. */
    size_t hl = n < 1029 ? n : 1029;
    if (!hl || !memmem(data, hl, "%PDF-", 5))
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: corrupt PDF: no %%PDF- header in the first 1024 bytes", name);
    return extract_in_child(name, data, n, lim, out, err);
}
