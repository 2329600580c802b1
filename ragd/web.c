/* ragd/web.c: the chat page served at GET /, built into the program so that
 * ragd is one file to deploy. The page is ragd/web/chat.html, included by
 * the assembler (.incbin, path relative to the top of the tree, where make
 * runs) and ended with a NUL. */
#include "ragd/http.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl ragd_chat_page_start\n"
        ".hidden ragd_chat_page_start\n"
        ".globl ragd_chat_page_stop\n"
        ".hidden ragd_chat_page_stop\n"
        "ragd_chat_page_start:\n"
        ".incbin \"ragd/web/chat.html\"\n"
        "ragd_chat_page_stop:\n"
        ".byte 0\n"
        ".previous\n");

extern const char ragd_chat_page_start[], ragd_chat_page_stop[];

const char *ragd_web_page(size_t *len)
{
    *len = (size_t)(ragd_chat_page_stop - ragd_chat_page_start);
    return ragd_chat_page_start;
}
