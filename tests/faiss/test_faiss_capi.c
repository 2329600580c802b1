/* The FAISS C API that `make deps` builds from Debian's source package links
 * against the system's libfaiss and answers an exact inner-product search
 * through an IndexIDMap2 (the shape the vector store will use). */
#include "../unit/test.h"

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/index_factory_c.h>

static void test_flat_ip_search(void)
{
    FaissIndex *idx = NULL;
    CHECK_INT(faiss_index_factory(&idx, 4, "IDMap2,Flat", METRIC_INNER_PRODUCT), 0);
    if (!idx) return;
    float x[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    idx_t ids[3] = {101, 202, 303};
    CHECK_INT(faiss_Index_add_with_ids(idx, 3, x, ids), 0);
    CHECK_INT(faiss_Index_ntotal(idx), 3);
    float q[4] = {0.1f, 0.9f, 0.2f, 0};
    float dist[2];
    idx_t labels[2];
    CHECK_INT(faiss_Index_search(idx, 1, q, 2, dist, labels), 0);
    CHECK_INT(labels[0], 202);
    CHECK_INT(labels[1], 303);
    CHECK(dist[0] > 0.89f && dist[0] < 0.91f);
    faiss_Index_free(idx);
}

int main(void)
{
    RUN(test_flat_ip_search);
    return test_summary();
}
