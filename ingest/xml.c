/* ingest/xml.c: libxml2 set-up shared by the HTML and DOCX extractors.
 *
 * libxml2 2.9 wants xmlInitParser() called once before threads use it, and
 * by default reports some errors (encoding conversion, I/O) through its
 * "generic" handler, which prints to stderr. Library code must never print,
 * so each thread that parses installs a structured handler that swallows
 * messages; parse errors stay available through the parser context
 * (xmlCtxtGetLastError), which is where the extractors read them. */
#include "ingest/ing_int.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <pthread.h>

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void silent_structured(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

static void xml_init_once(void)
{
    xmlInitParser();
    /* the default for threads created from now on */
    xmlThrDefSetStructuredErrorFunc(NULL, silent_structured);
}

void ing_xml_init(void)
{
    pthread_once(&xml_once, xml_init_once);
    /* libxml2's handlers are per thread: set ours for the calling one. */
    xmlSetStructuredErrorFunc(NULL, silent_structured);
}
