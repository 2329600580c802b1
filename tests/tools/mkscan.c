/* tests/tools/mkscan.c: "scanned" test documents for OCR: text drawn as
 * pixels, with no text layer anywhere.
 *
 *   mkscan png|jpeg|tiff|pdf OUT [--size PX] LINE...
 *
 * Each LINE is drawn in black on a white page 2400 pixels wide (font size
 * PX, default 64, DejaVu Sans or whatever "sans" is through cairo's toy text
 * API); an empty LINE leaves a blank line (a paragraph break). png is
 * written by cairo; jpeg and tiff are the png re-encoded by leptonica; pdf
 * is a one-page PDF (cairo's PDF surface) holding the image only, scaled to
 * A4-ish width. Exits 77 when built without cairo (or leptonica for jpeg and
 * tiff), 2 on a usage error, 1 when drawing fails (no font: nothing drawn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RAG_HAVE_CAIRO
#include <cairo-pdf.h>
#include <cairo.h>
#endif
#ifdef RAG_HAVE_TESSERACT
#include <leptonica/allheaders.h>
#endif

#ifdef RAG_HAVE_CAIRO
static cairo_surface_t *draw(char **lines, int n, double size)
{
    int w = 2400, lh = (int)(size * 1.5), h = (int)(size * 2) + lh * (n > 0 ? n : 1);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_select_font_face(cr, "sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    for (int i = 0; i < n; i++) {
        cairo_move_to(cr, size, size + lh * (i + 1));
        cairo_show_text(cr, lines[i]);
    }
    cairo_destroy(cr);
    cairo_surface_flush(s);
    /* something must have been drawn */
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s), dark = 0;
    for (int y = 0; y < h && !dark; y++)
        for (int x = 0; x < w; x++)
            if ((d[(size_t)y * stride + 4 * x] & 0xff) < 128) {
                dark = 1;
                break;
            }
    int any = 0;
    for (int i = 0; i < n; i++)
        if (lines[i][0]) any = 1;
    if (!dark && any) {
        cairo_surface_destroy(s);
        return NULL;
    }
    return s;
}
#endif

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkscan png|jpeg|tiff|pdf OUT [--size PX] LINE...\n");
        return 2;
    }
    const char *kind = argv[1], *out = argv[2];
    double size = 64;
    int first = 3;
    if (argc > 4 && !strcmp(argv[3], "--size")) {
        size = atof(argv[4]);
        first = 5;
    }
    if (size < 4 || size > 1000) return 2;
#ifndef RAG_HAVE_CAIRO
    (void)kind, (void)out, (void)first;
    fprintf(stderr, "mkscan: built without cairo\n");
    return 77;
#else
    cairo_surface_t *img = draw(argv + first, argc - first, size);
    if (!img) {
        fprintf(stderr, "mkscan: nothing was drawn (no font?)\n");
        return 1;
    }
    int rc = 0;
    if (!strcmp(kind, "png")) {
        rc = cairo_surface_write_to_png(img, out) != CAIRO_STATUS_SUCCESS;
    } else if (!strcmp(kind, "pdf")) {
        double pw = 595, scale = pw / cairo_image_surface_get_width(img);
        double ph = cairo_image_surface_get_height(img) * scale + 72;
        cairo_surface_t *pdf = cairo_pdf_surface_create(out, pw, ph < 842 ? 842 : ph);
        cairo_t *cr = cairo_create(pdf);
        cairo_translate(cr, 0, 36);
        cairo_scale(cr, scale, scale);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_paint(cr);
        cairo_destroy(cr);
        cairo_surface_finish(pdf);
        rc = cairo_surface_status(pdf) != CAIRO_STATUS_SUCCESS;
        cairo_surface_destroy(pdf);
    } else if (!strcmp(kind, "jpeg") || !strcmp(kind, "tiff")) {
#ifdef RAG_HAVE_TESSERACT
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.png", out);
        rc = cairo_surface_write_to_png(img, tmp) != CAIRO_STATUS_SUCCESS;
        PIX *pix = rc ? NULL : pixRead(tmp);
        remove(tmp);
        if (!pix) rc = 1;
        if (!rc) rc = pixWrite(out, pix, !strcmp(kind, "jpeg") ? IFF_JFIF_JPEG : IFF_TIFF_LZW) != 0;
        pixDestroy(&pix);
#else
        fprintf(stderr, "mkscan: built without leptonica\n");
        rc = 77;
#endif
    } else {
        fprintf(stderr, "mkscan: unknown kind %s\n", kind);
        rc = 2;
    }
    cairo_surface_destroy(img);
    if (rc == 1) fprintf(stderr, "mkscan: cannot write %s\n", out);
    return rc;
#endif
}
