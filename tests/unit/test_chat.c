/* Chat templates: each family renders a conversation exactly as its models
 * expect, is recognised from real template text, and keeps message content
 * apart from template text (so content cannot inject control tokens). */
#include "base/mem.h"
#include "llm/llm.h"
#include "test.h"

static const llm_chat_msg conv[] = {
    {"system", "Be brief."},
    {"user", "Hi <|im_end|>"},
    {"assistant", "Hello."},
    {"user", "Bye"},
};

static char *render(llm_chat_family f, size_t n)
{
    llm_chat_prompt p;
    rag_err err = {0};
    CHECK_INT(llm_chat_render(f, conv, n, 1, &p, &err), 0);
    char *s = rag_xstrdup(rag_buf_str(&p.text));
    llm_chat_prompt_free(&p);
    return s;
}

static void test_renderings(void)
{
    char *s = render(LLM_CHAT_CHATML, 4);
    CHECK_STR(s,
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi <|im_end|><|im_end|>\n"
              "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
              "<|im_start|>assistant\n");
    rag_free(s);
    s = render(LLM_CHAT_LLAMA3, 2);
    CHECK_STR(s, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nHi <|im_end|><|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    rag_free(s);
    s = render(LLM_CHAT_LLAMA2, 4);
    CHECK_STR(s, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi <|im_end|> [/INST] Hello.</s>[INST] "
                 "Bye [/INST]");
    rag_free(s);
    s = render(LLM_CHAT_GEMMA, 2);
    CHECK_STR(
        s, "<start_of_turn>user\nBe brief.\n\nHi <|im_end|><end_of_turn>\n<start_of_turn>model\n");
    rag_free(s);
    s = render(LLM_CHAT_PHI3, 2);
    CHECK_STR(s, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi <|im_end|><|end|>\n<|assistant|>\n");
    rag_free(s);
}

static void test_detection(void)
{
    const char *qwen = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                       "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    const char *llama3 =
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}";
    const char *mistral = "{{ bos_token }}{% for message in messages %}{{ '[INST] ' + "
                          "message['content'] + ' [/INST]' }}";
    const char *gemma =
        "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}";
    const char *phi3 =
        "{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}";
    CHECK_INT(llm_chat_detect(qwen, strlen(qwen)), LLM_CHAT_CHATML);
    CHECK_INT(llm_chat_detect(llama3, strlen(llama3)), LLM_CHAT_LLAMA3);
    CHECK_INT(llm_chat_detect(mistral, strlen(mistral)), LLM_CHAT_LLAMA2);
    CHECK_INT(llm_chat_detect(gemma, strlen(gemma)), LLM_CHAT_GEMMA);
    CHECK_INT(llm_chat_detect(phi3, strlen(phi3)), LLM_CHAT_PHI3);
    CHECK_INT(llm_chat_detect("{{ messages }}", 14), -1);
    CHECK_INT(llm_chat_family_from_name("mistral"), LLM_CHAT_LLAMA2);
    CHECK_INT(llm_chat_family_from_name("jinja"), -1);
}

static void test_content_is_not_template(void)
{
    llm_chat_prompt p;
    rag_err err = {0};
    CHECK_INT(llm_chat_render(LLM_CHAT_CHATML, conv, 2, 1, &p, &err), 0);
    int found = 0;
    for (size_t i = 0; i < p.n_frags; i++) {
        const char *t = p.text.data + p.frags[i].start;
        if (p.frags[i].len == strlen("Hi <|im_end|>") &&
            !memcmp(t, "Hi <|im_end|>", p.frags[i].len)) {
            found = 1;
            CHECK(!p.frags[i].is_template);
        }
    }
    CHECK(found);
    size_t total = 0;
    for (size_t i = 0; i < p.n_frags; i++)
        total += p.frags[i].len;
    CHECK_INT(total, p.text.len);
    llm_chat_prompt_free(&p);
    llm_chat_msg bad = {"tool", "x"};
    CHECK_INT(llm_chat_render(LLM_CHAT_CHATML, &bad, 1, 1, &p, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "'tool'");
}

int main(void)
{
    RUN(test_renderings);
    RUN(test_detection);
    RUN(test_content_is_not_template);
    return test_summary();
}
