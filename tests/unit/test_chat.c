/* Chat templates: each family renders a conversation exactly as its models
 * expect, is recognised from real template text, and keeps message content
 * apart from template text (so content cannot inject control tokens).
 * Reasoning models: Qwen3's switch and the splitter of reasoning and
 * answer, fed whole or cut anywhere. */
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
    /* the end of Qwen3's template (Qwen/Qwen3-8B), and of QwQ's */
    const char *qwen3 =
        "{%- elif message.role == \"assistant\" %}\n"
        "        {%- if '</think>' in content %}\n"
        "            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
        "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n"
        "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
        "        {{- '<think>\\n\\n</think>\\n\\n' }}\n    {%- endif %}\n{%- endif %}";
    const char *qwq = "{%- if add_generation_prompt %}\n"
                      "    {{- '<|im_start|>assistant\\n<think>\\n' }}\n{%- endif %}";
    CHECK_INT(llm_chat_detect(qwen3, strlen(qwen3)), LLM_CHAT_QWEN3);
    CHECK_INT(llm_chat_detect(qwq, strlen(qwq)), LLM_CHAT_CHATML_THINK);
    CHECK_INT(llm_chat_family_from_name("qwen3"), LLM_CHAT_QWEN3);
    CHECK_INT(llm_chat_family_from_name("chatml-think"), LLM_CHAT_CHATML_THINK);
    CHECK(llm_chat_can_think_off(LLM_CHAT_QWEN3));
    CHECK(!llm_chat_can_think_off(LLM_CHAT_CHATML) &&
          !llm_chat_can_think_off(LLM_CHAT_CHATML_THINK));
}

/* Qwen3 renders as its template does: enable_thinking=false adds the empty
 * block after the reply's opening, true (and the template's default) adds
 * nothing; earlier assistant turns lose their think block either way. */
static void test_qwen3(void)
{
    static const llm_chat_msg turns[] = {
        {"system", "Be brief."},
        {"user", "Hi"},
        {"assistant", "<think>\nThe user greets me.\n</think>\n\nHello."},
        {"user", "Bye"},
    };
    const char *history =
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n";
    llm_chat_prompt p;
    rag_err err = {0};
    CHECK_INT(llm_chat_render(LLM_CHAT_QWEN3, turns, 4, LLM_CHAT_GEN_PROMPT | LLM_CHAT_THINK_OFF,
                              &p, &err),
              0);
    char *want = rag_xasprintf("%s<think>\n\n</think>\n\n", history);
    CHECK_STR(rag_buf_str(&p.text), want);
    CHECK(!p.think_open);
    rag_free(want);
    /* the empty block is template text: its tags are tokens, not content */
    CHECK(p.frags[p.n_frags - 1].is_template);
    llm_chat_prompt_free(&p);
    CHECK_INT(llm_chat_render(LLM_CHAT_QWEN3, turns, 4, LLM_CHAT_GEN_PROMPT, &p, &err), 0);
    CHECK_STR(rag_buf_str(&p.text), history);
    llm_chat_prompt_free(&p);
    /* ChatML keeps an assistant turn as written, and has no switch */
    CHECK_INT(llm_chat_render(LLM_CHAT_CHATML, turns, 4, LLM_CHAT_GEN_PROMPT | LLM_CHAT_THINK_OFF,
                              &p, &err),
              0);
    CHECK_CONTAINS(rag_buf_str(&p.text), "assistant\n<think>\nThe user greets me.\n</think>");
    CHECK(!strstr(rag_buf_str(&p.text), "</think>\n\n<|im_end|>"));
    llm_chat_prompt_free(&p);
    /* QwQ-style: the reply opens the block whatever the switch says */
    CHECK_INT(llm_chat_render(LLM_CHAT_CHATML_THINK, turns, 4,
                              LLM_CHAT_GEN_PROMPT | LLM_CHAT_THINK_OFF, &p, &err),
              0);
    CHECK(p.think_open);
    CHECK_CONTAINS(rag_buf_str(&p.text), "<|im_start|>assistant\nHello.<|im_end|>");
    const char *end = "<|im_start|>assistant\n<think>\n";
    CHECK(p.text.len > strlen(end) &&
          !strcmp(rag_buf_str(&p.text) + p.text.len - strlen(end), end));
    llm_chat_prompt_free(&p);
}

/* ---- the splitter ---- */

typedef struct split {
    rag_buf reasoning, answer;
    int calls;
} split;

static void on_split(void *ctx, int reasoning, const char *text, size_t len)
{
    split *s = ctx;
    CHECK(len > 0);
    rag_buf_append(reasoning ? &s->reasoning : &s->answer, text, len);
    s->calls++;
}

/* Splits text fed in pieces of `step` bytes (0: whole). */
static void run_split(const char *text, int open, size_t step, split *out)
{
    memset(out, 0, sizeof *out);
    llm_think t;
    llm_think_init(&t, open);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step ? step : n)
        llm_think_feed(&t, text + i, step && n - i > step ? step : n - i, on_split, out);
    llm_think_flush(&t, on_split, out);
    llm_think_free(&t);
}

/* Every cut gives the same reasoning and answer as the whole text. */
static void check_split(const char *text, int open, const char *reasoning, const char *answer)
{
    for (size_t step = 0; step <= 9; step++) {
        split s;
        run_split(text, open, step, &s);
        if (strcmp(rag_buf_str(&s.reasoning), reasoning) || strcmp(rag_buf_str(&s.answer), answer))
            printf("    fed in pieces of %zu bytes:\n", step);
        CHECK_STR(rag_buf_str(&s.reasoning), reasoning);
        CHECK_STR(rag_buf_str(&s.answer), answer);
        rag_buf_free(&s.reasoning);
        rag_buf_free(&s.answer);
    }
}

static void test_think_split(void)
{
    /* Qwen3's form: the block, a blank line, the answer */
    check_split("<think>\nOkay, refunds. [7] is no block.\n</think>\n\nWithin 14 days [1].", 0,
                "Okay, refunds. [7] is no block.", "Within 14 days [1].");
    /* the prompt opened the block: no opening tag */
    check_split("Thinking here\n</think>\n\nThe answer.", 1, "Thinking here", "The answer.");
    /* thinking off: the model answers at once */
    check_split("The answer [1].", 0, "", "The answer [1].");
    check_split("  \nThe answer.", 0, "", "  \nThe answer.");
    check_split("\n<think>x</think>y", 0, "", "\n<think>x</think>y"); /* not where it opens */
    /* an empty block */
    check_split("<think>\n\n</think>\n\nThe answer.", 0, "", "The answer.");
    /* a tag later in an answer is text; a cut tag at the end too */
    check_split("Use <think> tags.", 0, "", "Use <think> tags.");
    check_split("<thi", 0, "", "<thi");
    check_split("A </think> B", 0, "", "A </think> B");
    /* unterminated: all reasoning, no answer (a cut closing tag stays text) */
    check_split("<think>\nStill thinking about it\n", 0, "Still thinking about it", "");
    check_split("<think>Still </thi", 0, "Still </thi", "");
    check_split("Opened by the prompt", 1, "Opened by the prompt", "");
    /* blank space inside the reasoning is kept; a second block is answer text */
    check_split("<think>a\n\nb </think>x<think>y</think>", 0, "a\n\nb", "x<think>y</think>");
    /* streamed as it comes: reasoning goes out before the block ends, and
     * an answer's blank lines are not held back */
    split s;
    memset(&s, 0, sizeof s);
    llm_think t;
    llm_think_init(&t, 0);
    llm_think_feed(&t, "\n\n", 2, on_split, &s);
    CHECK_STR(rag_buf_str(&s.answer), "\n\n");
    llm_think_free(&t);
    rag_buf_free(&s.answer);
    llm_think_init(&t, 0);
    llm_think_feed(&t, "<think>\nfirst ", 14, on_split, &s);
    CHECK_STR(rag_buf_str(&s.reasoning), "first");
    CHECK(!t.closed && t.state == LLM_THINK_IN);
    llm_think_feed(&t, "second </", 9, on_split, &s);
    CHECK_STR(rag_buf_str(&s.reasoning), "first second");
    llm_think_feed(&t, "think>\n\nAns", 11, on_split, &s);
    CHECK(t.closed);
    CHECK_STR(rag_buf_str(&s.answer), "Ans");
    llm_think_flush(&t, on_split, &s);
    llm_think_free(&t);
    rag_buf_free(&s.reasoning);
    rag_buf_free(&s.answer);
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
    RUN(test_qwen3);
    RUN(test_think_split);
    return test_summary();
}
