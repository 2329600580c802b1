/* llm/dtype_table.c: layout facts of the GGML types (names, block sizes).
 * (Interim: replaced by llm/quant.c when the kernels land.) */
#include "llm/quant.h"

#include <strings.h>

static const llm_dtype_info infos[LLM_DTYPE_MAX] = {
    [LLM_F32] = {"f32", 1, 4, 0, 0},       [LLM_F16] = {"f16", 1, 2, 0, 0},
    [LLM_Q4_0] = {"q4_0", 32, 18, 0, 0},   [LLM_Q4_1] = {"q4_1", 32, 20, 0, 0},
    [LLM_Q5_0] = {"q5_0", 32, 22, 0, 0},   [LLM_Q5_1] = {"q5_1", 32, 24, 0, 0},
    [LLM_Q8_0] = {"q8_0", 32, 34, 0, 0},   [LLM_Q8_1] = {"q8_1", 32, 36, 0, 0},
    [LLM_Q2_K] = {"q2_K", 256, 84, 0, 0},  [LLM_Q3_K] = {"q3_K", 256, 110, 0, 0},
    [LLM_Q4_K] = {"q4_K", 256, 144, 0, 0}, [LLM_Q5_K] = {"q5_K", 256, 176, 0, 0},
    [LLM_Q6_K] = {"q6_K", 256, 210, 0, 0}, [LLM_Q8_K] = {"q8_K", 256, 292, 0, 0},
    [LLM_IQ4_NL] = {"iq4_nl", 32, 18, 0, 0}, [LLM_IQ4_XS] = {"iq4_xs", 256, 136, 0, 0},
    [LLM_I8] = {"i8", 1, 1, 0, 0},         [LLM_I16] = {"i16", 1, 2, 0, 0},
    [LLM_I32] = {"i32", 1, 4, 0, 0},       [LLM_I64] = {"i64", 1, 8, 0, 0},
    [LLM_F64] = {"f64", 1, 8, 0, 0},       [LLM_BF16] = {"bf16", 1, 2, 0, 0},
};

const llm_dtype_info *llm_dtype_get(int t)
{
    if (t < 0 || t >= LLM_DTYPE_MAX || !infos[t].name) return NULL;
    return &infos[t];
}

int llm_dtype_from_name(const char *name)
{
    for (int t = 0; t < LLM_DTYPE_MAX; t++)
        if (infos[t].name && !strcasecmp(infos[t].name, name)) return t;
    return -1;
}

size_t llm_row_bytes(llm_dtype t, int64_t n)
{
    const llm_dtype_info *i = llm_dtype_get(t);
    return (size_t)(n / i->block_elems) * i->block_bytes;
}
