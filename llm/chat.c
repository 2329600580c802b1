/* llm/chat.c: the chat template families (see llm/chat.h). Each family is a
 * table of strings around the messages; the renderer is shared. */
#include "llm/chat.h"
#include "base/mem.h"

#include <string.h>

typedef struct family {
    const char *name;
    const char *marker;               /* recognises the family in template text */
    const char *sys_pre, *sys_post;   /* around a system message */
    const char *user_pre, *user_post; /* around a user message */
    const char *asst_pre, *asst_post; /* around an assistant message */
    const char *gen_prompt;           /* starts the assistant's reply */
    int system_in_user;               /* no system role: prepend it to the first user message */
} family;

/* Order matters for detection: more specific markers first. */
static const family families[LLM_CHAT_N_FAMILIES] = {
    [LLM_CHAT_CHATML] = {"chatml", "<|im_start|>", "<|im_start|>system\n", "<|im_end|>\n",
                         "<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n",
                         "<|im_end|>\n", "<|im_start|>assistant\n", 0},
    [LLM_CHAT_LLAMA3] = {"llama3", "<|start_header_id|>",
                         "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
                         "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
                         "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>",
                         "<|start_header_id|>assistant<|end_header_id|>\n\n", 0},
    /* Llama 2 / Mistral: the system prompt sits in the first [INST] */
    [LLM_CHAT_LLAMA2] = {"llama2", "[INST]", "<<SYS>>\n", "\n<</SYS>>\n\n", "[INST] ", " [/INST]",
                         " ", "</s>", "", 1},
    [LLM_CHAT_GEMMA] = {"gemma", "<start_of_turn>", "", "\n\n", "<start_of_turn>user\n",
                        "<end_of_turn>\n", "<start_of_turn>model\n", "<end_of_turn>\n",
                        "<start_of_turn>model\n", 1},
    [LLM_CHAT_PHI3] = {"phi3", "<|assistant|>", "<|system|>\n", "<|end|>\n", "<|user|>\n",
                       "<|end|>\n", "<|assistant|>\n", "<|end|>\n", "<|assistant|>\n", 0},
};

int llm_chat_detect(const char *tmpl, size_t len)
{
    static const llm_chat_family order[] = {LLM_CHAT_CHATML, LLM_CHAT_LLAMA3, LLM_CHAT_GEMMA,
                                            LLM_CHAT_PHI3, LLM_CHAT_LLAMA2};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (memmem(tmpl, len, families[order[i]].marker, strlen(families[order[i]].marker)))
            return (int)order[i];
    return -1;
}

int llm_chat_family_from_name(const char *name)
{
    if (!strcmp(name, "mistral")) return LLM_CHAT_LLAMA2;
    for (int f = 0; f < LLM_CHAT_N_FAMILIES; f++)
        if (!strcmp(name, families[f].name)) return f;
    return -1;
}

const char *llm_chat_family_name(llm_chat_family f)
{
    return families[f].name;
}

int llm_chat_family_for(const llm_gguf *g, const char *override, llm_chat_family *out,
                        int *fell_back, rag_err *err)
{
    *fell_back = 0;
    if (override) {
        int f = llm_chat_family_from_name(override);
        if (f < 0)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "unknown chat template '%s' (chatml, llama3, llama2, mistral, "
                               "gemma, phi3)",
                               override);
        *out = (llm_chat_family)f;
        return 0;
    }
    const char *t;
    size_t len;
    int f = -1;
    if (llm_gguf_get_str(g, "tokenizer.chat_template", &t, &len, NULL) == 0)
        f = llm_chat_detect(t, len);
    if (f < 0) {
        *fell_back = 1;
        f = LLM_CHAT_CHATML;
    }
    *out = (llm_chat_family)f;
    return 0;
}

static void frag(llm_chat_prompt *p, const char *s, size_t n, int is_template)
{
    if (!n) return;
    p->frags = rag_xgrow(p->frags, &p->cap_frags, p->n_frags + 1, sizeof *p->frags);
    p->frags[p->n_frags++] = (llm_chat_frag){p->text.len, n, is_template};
    rag_buf_append(&p->text, s, n);
}

static void tmpl(llm_chat_prompt *p, const char *s)
{
    frag(p, s, strlen(s), 1);
}

int llm_chat_render(llm_chat_family f, const llm_chat_msg *msgs, size_t n,
                    int add_generation_prompt, llm_chat_prompt *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    const family *F = &families[f];
    const char *pending_system = NULL; /* for families without a system role */
    for (size_t i = 0; i < n; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content ? msgs[i].content : "";
        if (!strcmp(role, "system")) {
            if (F->system_in_user) {
                pending_system = c;
                continue;
            }
            tmpl(out, F->sys_pre);
            frag(out, c, strlen(c), 0);
            tmpl(out, F->sys_post);
        } else if (!strcmp(role, "user")) {
            tmpl(out, F->user_pre);
            if (pending_system) {
                tmpl(out, F->sys_pre);
                frag(out, pending_system, strlen(pending_system), 0);
                tmpl(out, F->sys_post);
                pending_system = NULL;
            }
            frag(out, c, strlen(c), 0);
            tmpl(out, F->user_post);
        } else if (!strcmp(role, "assistant")) {
            tmpl(out, F->asst_pre);
            frag(out, c, strlen(c), 0);
            tmpl(out, F->asst_post);
        } else {
            llm_chat_prompt_free(out);
            return rag_err_set(err, RAG_ERR_INVALID,
                               "message %zu: role '%.40s' is not system, user or assistant", i,
                               role);
        }
    }
    if (add_generation_prompt) tmpl(out, F->gen_prompt);
    if (!out->text.data) rag_buf_puts(&out->text, "");
    return 0;
}

void llm_chat_prompt_free(llm_chat_prompt *p)
{
    rag_buf_free(&p->text);
    rag_free(p->frags);
    memset(p, 0, sizeof *p);
}

int llm_chat_tokenize(const llm_vocab *v, const llm_chat_prompt *p, llm_tokens *out, rag_err *err)
{
    uint8_t *mask = rag_xcalloc(p->text.len ? p->text.len : 1, 1);
    for (size_t i = 0; i < p->n_frags; i++)
        if (p->frags[i].is_template) memset(mask + p->frags[i].start, 1, p->frags[i].len);
    int rc = llm_tokenize_masked(v, rag_buf_str(&p->text), p->text.len, mask, out, err);
    rag_free(mask);
    return rc;
}
