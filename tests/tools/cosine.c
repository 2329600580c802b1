/* tests/tools/cosine.c: the worst per-row cosine similarity of two float32
 * files of rows of N values (logits files), printed with 6 decimals.
 * Usage: cosine A.bin B.bin N */
#include "base/file.h"
#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) return 2;
    char *a, *b;
    size_t na, nb;
    rag_err err;
    if (rag_file_read(argv[1], 0, &a, &na, &err) || rag_file_read(argv[2], 0, &b, &nb, &err)) {
        fprintf(stderr, "cosine: %s\n", err.msg);
        return 1;
    }
    size_t n = (size_t)atol(argv[3]);
    if (!n || na != nb || na % (n * sizeof(float))) {
        fprintf(stderr, "cosine: sizes differ or are not rows of %zu floats\n", n);
        return 1;
    }
    const float *x = (const float *)a, *y = (const float *)b;
    double worst = 1;
    for (size_t r = 0; r < na / (n * sizeof(float)); r++) {
        double d = 0, xx = 0, yy = 0;
        for (size_t i = 0; i < n; i++) {
            d += (double)x[r * n + i] * y[r * n + i];
            xx += (double)x[r * n + i] * x[r * n + i];
            yy += (double)y[r * n + i] * y[r * n + i];
        }
        double c = d / sqrt(xx * yy);
        if (c < worst) worst = c;
    }
    printf("%.6f\n", worst);
    rag_free(a);
    rag_free(b);
    return 0;
}
