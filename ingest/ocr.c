/* ingest/ocr.c: OCR with tesseract and leptonica: images (PNG, JPEG, TIFF)
 * as documents, and the engine that ingest/pdf.c's child uses for PDF pages
 * without a text layer.
 *
 * An image is read in a child process (ingest/child.c's ing_child_run)
 * under the ocr_ limits of ing_limits, as pdf.c reads PDFs: image decoders
 * and tesseract handle hostile bytes, and tesseract may take long or much
 * memory on a large image. The child
 *   - reads the header (pixReadHeaderMem) and refuses an image of more than
 *     ocr_max_pixels pixels before decoding it (exit 7, 'E' with the size),
 *   - decodes it (pixReadMem; exit 3 with 'E' when it cannot),
 *   - starts tesseract with the languages resolved in the parent (exit 6
 *     when it cannot) and sends the text as one 'P' record.
 * The parent splits the text into paragraphs at blank lines
 * (ing_text_add_page, as PDF pages). An image in which OCR finds no text
 * is RAG_ERR_UNSUPPORTED, "no text found by OCR": the file is skipped, not
 * failed, as a photo without words is no broken document.
 *
 * Languages are what is installed: the *.traineddata files (but osd, the
 * orientation model) in $TESSDATA_PREFIX (with or without a tessdata/
 * below it), else the system's tessdata directory. Without a choice:
 * "eng" when installed, else all of them.
 *
 * Tesseract is told to use one thread (OMP_THREAD_LIMIT=1, set in the child
 * only): ingest runs one file at a time per worker, and OpenMP's threads
 * would each reserve address space under the memory limit.
 *
 * A build without RAG_HAVE_TESSERACT answers RAG_ERR_UNSUPPORTED, "OCR not
 * built in", for every image (skipped as before OCR existed). */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "ingest/ingest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef RAG_HAVE_TESSERACT
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>
#endif

enum { REC_TEXT = 'P' };
enum { EXIT_OK = 0, EXIT_BAD_IMAGE = 3, EXIT_OCR = 6, EXIT_TOO_LARGE = 7 };

int ing_ocr_built_in(void)
{
#ifdef RAG_HAVE_TESSERACT
    return 1;
#else
    return 0;
#endif
}

int ing_ocr_mode_of(const char *word)
{
    if (word && !strcmp(word, "never")) return ING_OCR_NEVER;
    if (word && !strcmp(word, "always")) return ING_OCR_ALWAYS;
    return ING_OCR_AUTO;
}

/* ---- languages ---------------------------------------------------------------- */

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* The languages installed in dir, "+"-joined, sorted, osd left out. */
static void installed(const char *dir, rag_buf *out)
{
    rag_strv names = {0};
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            const char *suf = ".traineddata";
            size_t sl = strlen(suf);
            if (l <= sl || strcmp(e->d_name + l - sl, suf)) continue;
            char *lang = rag_xstrndup(e->d_name, l - sl);
            if (strcmp(lang, "osd")) rag_strv_push(&names, lang);
            rag_free(lang);
        }
        closedir(d);
    }
    rag_strv_sort_unique(&names);
    for (size_t i = 0; i < names.n; i++) {
        if (i) rag_buf_putc(out, '+');
        rag_buf_puts(out, names.v[i]);
    }
    rag_strv_free(&names);
}

static int has_lang(const char *dir, const char *lang, size_t n)
{
    char p[1400];
    int l = snprintf(p, sizeof p, "%s/%.*s.traineddata", dir, (int)n, lang);
    return l > 0 && (size_t)l < sizeof p && !access(p, R_OK);
}

int ing_ocr_languages(const char *want, char *dir, size_t dir_cap, char *langs, size_t langs_cap,
                      rag_err *err)
{
    const char *prefix = getenv("TESSDATA_PREFIX");
    char cand[1100];
    dir[0] = 0;
    if (prefix && *prefix) {
        snprintf(cand, sizeof cand, "%s/tessdata", prefix);
        snprintf(dir, dir_cap, "%s", is_dir(cand) ? cand : prefix);
    } else {
        static const char *const sys[] = {"/usr/share/tesseract-ocr/5/tessdata",
                                          "/usr/share/tesseract-ocr/4.00/tessdata",
                                          "/usr/share/tessdata", "/usr/local/share/tessdata", NULL};
        for (size_t i = 0; sys[i]; i++)
            if (is_dir(sys[i])) {
                snprintf(dir, dir_cap, "%s", sys[i]);
                break;
            }
    }
    rag_buf all = {0};
    if (dir[0]) installed(dir, &all);
    if (!all.len) {
        rag_buf_free(&all);
        return rag_err_set(err, RAG_ERR_INVALID,
                           "no OCR language is installed (no *.traineddata in %s; install "
                           "tesseract-ocr-eng or set TESSDATA_PREFIX)",
                           dir[0] ? dir : "/usr/share/tesseract-ocr/5/tessdata");
    }
    int rc = 0;
    if (want && *want) {
        for (const char *p = want; *p;) {
            const char *e = strchr(p, '+');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            int ok = n > 0 && n < 64 && !memchr(p, '/', n) && !memchr(p, '.', n) &&
                     !(n == 3 && !memcmp(p, "osd", 3)) && has_lang(dir, p, n);
            if (!ok) {
                rc = rag_err_set(err, RAG_ERR_INVALID,
                                 "OCR language '%.*s' is not installed (installed in %s: %s)",
                                 (int)(n < 64 ? n : 64), p, dir, all.data);
                break;
            }
            p += n + (e ? 1 : 0);
        }
        if (!rc && strlen(want) >= langs_cap)
            rc = rag_err_set(err, RAG_ERR_INVALID, "OCR languages: too long a list");
        if (!rc) snprintf(langs, langs_cap, "%s", want);
    } else if (has_lang(dir, "eng", 3)) {
        snprintf(langs, langs_cap, "eng");
    } else if (all.len < langs_cap) {
        snprintf(langs, langs_cap, "%s", all.data);
    } else {
        rc = rag_err_set(err, RAG_ERR_INVALID,
                         "OCR: too many languages installed to use all; choose some "
                         "(ingest.ocr_languages)");
    }
    rag_buf_free(&all);
    return rc;
}

#ifdef RAG_HAVE_TESSERACT

/* ---- the engine (in a child only) ------------------------------------------- */

struct ing_ocr {
    TessBaseAPI *api;
};

ing_ocr *ing_ocr_open(const char *dir, const char *langs, const char **why)
{
    setenv("OMP_THREAD_LIMIT", "1", 1);
    setMsgSeverity(L_SEVERITY_NONE);
    TessBaseAPI *api = TessBaseAPICreate();
    if (!api) {
        *why = "tesseract cannot start";
        return NULL;
    }
    if (TessBaseAPIInit3(api, dir, langs) != 0) {
        TessBaseAPIDelete(api);
        *why = "tesseract cannot load its language data";
        return NULL;
    }
    ing_ocr *o = malloc(sizeof *o);
    if (!o) {
        *why = "out of memory";
        return NULL;
    }
    o->api = api;
    return o;
}

static char *ocr_pix(ing_ocr *o, PIX *pix, int ppi)
{
    TessBaseAPISetImage2(o->api, pix);
    TessBaseAPISetSourceResolution(o->api, ppi > 0 ? ppi : 300);
    char *t = TessBaseAPIGetUTF8Text(o->api);
    char *copy = t ? strdup(t) : NULL;
    if (t) TessDeleteText(t);
    TessBaseAPIClear(o->api);
    return copy;
}

char *ing_ocr_gray(ing_ocr *o, const uint8_t *gray, int w, int h, int stride, int ppi)
{
    PIX *pix = pixCreate(w, h, 8);
    if (!pix) return NULL;
    l_uint32 *data = pixGetData(pix);
    l_int32 wpl = pixGetWpl(pix);
    for (int y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * (size_t)wpl;
        const uint8_t *src = gray + (size_t)y * (size_t)stride;
        for (int x = 0; x < w; x++)
            SET_DATA_BYTE(line, x, src[x]);
    }
    char *t = ocr_pix(o, pix, ppi);
    pixDestroy(&pix);
    return t;
}

/* ---- images ---------------------------------------------------------------------- */

typedef struct image_job {
    const uint8_t *data;
    size_t n;
    const ing_limits *lim;
    const char *dir, *langs;
} image_job;

__attribute__((noreturn)) static void image_child(void *ctx)
{
    const image_job *j = ctx;
    setMsgSeverity(L_SEVERITY_NONE);
    l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
    if (pixReadHeaderMem(j->data, j->n, &format, &w, &h, &bps, &spp, &cmap) || w <= 0 || h <= 0) {
        ing_child_put(ING_CHILD_REC_ERROR, "cannot read the image header");
        _exit(EXIT_BAD_IMAGE);
    }
    if (j->lim->ocr_max_pixels && (uint64_t)w * (uint64_t)h > j->lim->ocr_max_pixels) {
        char msg[160];
        snprintf(msg, sizeof msg, "%d x %d pixels", (int)w, (int)h);
        ing_child_put(ING_CHILD_REC_ERROR, msg);
        _exit(EXIT_TOO_LARGE);
    }
    PIX *pix = pixReadMem(j->data, j->n);
    if (!pix) {
        ing_child_put(ING_CHILD_REC_ERROR, "the image data cannot be decoded");
        _exit(EXIT_BAD_IMAGE);
    }
    const char *why = NULL;
    ing_ocr *o = ing_ocr_open(j->dir, j->langs, &why);
    if (!o) {
        ing_child_put(ING_CHILD_REC_ERROR, why);
        _exit(EXIT_OCR);
    }
    l_int32 xres = 0, yres = 0;
    pixGetResolution(pix, &xres, &yres);
    char *t = ocr_pix(o, pix, xres >= 70 && xres <= 2400 ? xres : 300);
    ing_child_put(REC_TEXT, t);
    _exit(EXIT_OK);
}

static void on_image_record(void *ctx, char type, const char *p, size_t len)
{
    if (type == REC_TEXT) ing_text_add_page(ctx, p, len);
}

int ing_extract_image(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "image";
    if (n >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8))
        out->mime = "image/png";
    else if (n >= 3 && !memcmp(data, "\xff\xd8\xff", 3))
        out->mime = "image/jpeg";
    else if (n >= 4 && (!memcmp(data, "II*\0", 4) || !memcmp(data, "MM\0*", 4)))
        out->mime = "image/tiff";
    if (lim->ocr_mode == ING_OCR_NEVER)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: an image, and OCR is off", name);
    char dir[1024], langs[512];
    rag_err lerr = {0};
    int rc = ing_ocr_languages(lim->ocr_languages, dir, sizeof dir, langs, sizeof langs, &lerr);
    if (rc) return rag_err_set(err, rc, "%s: %s", name, lerr.msg);
    image_job j = {.data = data, .n = n, .lim = lim, .dir = dir, .langs = langs};
    ing_child_limits cl = {lim->ocr_cpu_s, lim->ocr_mem, lim->ocr_timeout_s, 0, 0};
    ing_child_result res;
    rc = ing_child_run(name, "OCR", &cl, lim->max_text, image_child, &j, on_image_record, out, &res,
                       err);
    if (rc) return rc;
    int code = res.reaped && WIFEXITED(res.status) ? WEXITSTATUS(res.status) : -1;
    if (code == EXIT_BAD_IMAGE)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt image: %s", name,
                           res.error[0] ? res.error : "it cannot be decoded");
    if (code == EXIT_TOO_LARGE)
        return rag_err_set(err, RAG_ERR_LIMIT,
                           "%s: the image is larger than the OCR limit of %llu pixels (%s)", name,
                           (unsigned long long)lim->ocr_max_pixels, res.error);
    if (code == EXIT_OCR)
        return rag_err_set(err, RAG_ERR_INVALID, "%s: OCR cannot run: %s", name,
                           res.error[0] ? res.error : "tesseract cannot start");
    if (code != EXIT_OK && code != -1)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: OCR failed (exit status %d)", name, code);
    if (out->n_blocks == 0)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: no text found by OCR", name);
    ing_meta_json(out, "ocr", "true");
    return 0;
}

#else /* !RAG_HAVE_TESSERACT */

ing_ocr *ing_ocr_open(const char *dir, const char *langs, const char **why)
{
    (void)dir, (void)langs;
    *why = "OCR not built in";
    return NULL;
}

char *ing_ocr_gray(ing_ocr *o, const uint8_t *gray, int w, int h, int stride, int ppi)
{
    (void)o, (void)gray, (void)w, (void)h, (void)stride, (void)ppi;
    return NULL;
}

int ing_extract_image(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_text *out, rag_err *err)
{
    (void)data, (void)n, (void)lim;
    out->mime = "image";
    return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                       "%s: an image, and OCR not built in (install libtesseract-dev and "
                       "libleptonica-dev and rebuild)",
                       path ? path : "(input)");
}

#endif
