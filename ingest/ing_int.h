/* ingest/ing_int.h: private layout of the ingest module.
 *
 * Data flow of one file:
 *   bytes --ing_detect--> type --ing_extract--> ing_text (normalised blocks)
 *         --ing_chunk--> chunks (text, heading path, byte offsets) --> store
 *
 * ing_text is what every extractor produces: a list of blocks (headings,
 * paragraphs, preformatted text), each already normalised (valid UTF-8, NFC,
 * whitespace), concatenated in `text` with "\n\n" between blocks. Chunk byte
 * offsets are offsets into that text: the document's extracted, normalised
 * text, which is what is searched and quoted. */
#ifndef RAG_INGEST_ING_INT_H
#define RAG_INGEST_ING_INT_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum ing_block_kind {
    ING_PARA = 0,    /* running text; line breaks kept, spaces collapsed */
    ING_HEADING = 1, /* a heading of `level` 1..6; one line */
    ING_PRE = 2,     /* preformatted (code, tables as text): indentation kept */
} ing_block_kind;

typedef struct ing_block {
    ing_block_kind kind;
    int level;    /* 1..6 for headings, 0 otherwise */
    size_t start; /* byte offset into ing_text.text */
    size_t len;
} ing_block;

typedef struct ing_text {
    rag_buf text; /* normalised blocks joined by "\n\n" */
    ing_block *blocks;
    size_t n_blocks, cap_blocks;
    char *title;       /* owned, normalised, one line; NULL when none */
    int title_in_text; /* 1 when the title is not to be put into the text: it is
                        * the first block already, or it is the file name */
    const char *mime;  /* static string, e.g. "text/markdown" */
    size_t n_repaired; /* invalid UTF-8 sequences replaced by U+FFFD */
    /* Metadata the format declares beyond the title (an email's sender and
     * date, Markdown front matter, ...): JSON object members, comma-joined,
     * without the braces; stored in the document's metadata_json beside
     * "type". Append with ing_meta_str / ing_meta_json. */
    rag_buf meta;
} ing_text;

/* Normalises s[0..n) and appends it as a block (nothing when it normalises to
 * empty). Invalid UTF-8 is repaired (counted in n_repaired); text is put in
 * NFC; control characters are dropped; CR LF and CR become LF; for ING_PARA
 * and ING_HEADING runs of horizontal whitespace become one space and lines are
 * trimmed; headings are joined to one line; blank-line runs inside a block are
 * dropped (a block has no empty lines, so "\n\n" only separates blocks). */
void ing_text_add(ing_text *t, ing_block_kind kind, int level, const char *s, size_t n);
/* Sets the title (normalised to one line, at most 512 bytes). */
void ing_text_set_title(ing_text *t, const char *s, size_t n);
void ing_text_free(ing_text *t);
/* Appends "key": value to t->meta: ing_meta_str quotes and escapes val
 * (valid UTF-8 expected; invalid bytes become U+FFFD), ing_meta_json takes
 * val as JSON already (an array, a number, an object). A key already present
 * is not checked for. */
void ing_meta_str(ing_text *t, const char *key, const char *val);
void ing_meta_json(ing_text *t, const char *key, const char *json);

/* ---- type detection ---------------------------------------------------- */
typedef enum ing_type {
    ING_TYPE_UNKNOWN = 0, /* binary of an unsupported kind: skipped with a reason */
    ING_TYPE_TEXT,
    ING_TYPE_MARKDOWN,
    ING_TYPE_HTML,
    ING_TYPE_PDF,
    ING_TYPE_DOCX,
    /* containers: their members are documents of their own (see ing_members) */
    ING_TYPE_ARCHIVE, /* zip, tar, tar.gz, ... (libarchive) */
    ING_TYPE_MBOX,    /* a mailbox: one member per message */
    ING_TYPE_EMAIL,   /* one message (RFC 5322): a document, its attachments members */
    /* office and publishing formats */
    ING_TYPE_PPTX,
    ING_TYPE_XLSX,
    ING_TYPE_ODT,
    ING_TYPE_ODS,
    ING_TYPE_ODP,
    ING_TYPE_EPUB,
    ING_TYPE_RTF,
    ING_TYPE_IMAGE, /* PNG, JPEG, TIFF: read by OCR when built with it */
} ing_type;

/* Decides the type from the content first (magic bytes, zip directory, NUL
 * bytes) and the extension second. `path` may be NULL. */
ing_type ing_detect(const char *path, const uint8_t *data, size_t n);
const char *ing_type_name(ing_type t); /* "text", "markdown", ... */

/* ---- extraction --------------------------------------------------------- */
typedef struct ing_limits {
    size_t max_line;        /* text files: longest line accepted (bytes) */
    size_t max_text;        /* extracted text of one document (bytes) */
    size_t max_unzipped;    /* DOCX: total uncompressed bytes read */
    unsigned max_zip_ratio; /* DOCX: uncompressed/compressed ratio of a member */
    unsigned pdf_cpu_s;     /* PDF child: CPU seconds */
    size_t pdf_mem;         /* PDF child: address-space bytes */
    unsigned pdf_timeout_s; /* PDF child: wall-clock seconds */
    /* Containers and compressed files (ingest/archive.c). A member over
     * max_member or max_member_ratio fails alone; max_container and
     * max_members stop the container; max_depth stops the nesting. */
    size_t max_member;         /* uncompressed bytes of one member or compressed
                                * file (the pipeline sets --max-size) */
    size_t max_container;      /* uncompressed bytes of all members of one container */
    unsigned max_member_ratio; /* uncompressed/compressed of a member over 1 MiB */
    size_t max_members;        /* members (regular files) of one container */
    unsigned max_depth;        /* containers inside containers, the outer one counted */
    /* OCR (images; PDF pages without a text layer), when built with it.
     * An image's child runs under the ocr_ limits; a PDF's child, from its
     * first page OCR'd on, under the sums of the pdf_ and ocr_ CPU and
     * wall-clock limits and the larger of the two memory limits. */
    int ocr_mode;              /* ING_OCR_AUTO (default), _NEVER, _ALWAYS */
    const char *ocr_languages; /* "eng+deu"; NULL or "": eng when installed, else all */
    unsigned ocr_cpu_s;        /* OCR child: CPU seconds (default 300) */
    size_t ocr_mem;            /* OCR child: address-space bytes (default 2 GiB) */
    unsigned ocr_timeout_s;    /* OCR child: wall-clock seconds (default 600) */
    unsigned ocr_max_pages;    /* pages of one PDF OCR'd at most (default 100) */
    uint64_t ocr_max_pixels;   /* an image's width x height (default 100 million) */
} ing_limits;

/* ing_limits.ocr_mode (also ing_params.ocr_mode): AUTO OCRs images and PDF
 * pages without text; NEVER skips images and leaves scanned PDFs failing;
 * ALWAYS OCRs every PDF page, its text layer ignored. */
enum { ING_OCR_AUTO = 0, ING_OCR_NEVER = 1, ING_OCR_ALWAYS = 2 };

void ing_limits_default(ing_limits *l);

/* Extracts `type` from data[0..n) into *out (zeroed by the caller). `path` is
 * used in messages and for the title of last resort: when the document
 * declares none, its first heading, else the first line of its first block
 * when that line reads as a title, else the file name of path (see
 * extract.c). Errors: RAG_ERR_FORMAT (malformed, with the offset
 * or the part that is broken), RAG_ERR_LIMIT (a limit above was hit),
 * RAG_ERR_UNSUPPORTED (type not supported, or not built in). On error *out may
 * hold partial data: free it with ing_text_free. */
int ing_extract(ing_type type, const char *path, const uint8_t *data, size_t n,
                const ing_limits *lim, ing_text *out, rag_err *err);

/* The per-type extractors behind ing_extract (same contract). They set only
 * the title the format declares (HTML <title>, DOCX and PDF properties,
 * Markdown front matter); ing_extract then gives the others theirs (first
 * heading, first line, file name), once, for every format. */
int ing_extract_text(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err);
int ing_extract_markdown(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                         ing_text *out, rag_err *err);
int ing_extract_html(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err);
int ing_extract_pdf(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    ing_text *out, rag_err *err);
int ing_extract_docx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err);
/* One email message (RFC 5322): a header block (From, To, Cc, Date,
 * Subject), then the body; metadata from, to, cc, date, message_id,
 * in_reply_to, thread (ingest/email.c). */
int ing_extract_email(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_text *out, rag_err *err);
int ing_extract_pptx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err);
int ing_extract_xlsx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err);
/* type: ING_TYPE_ODT, ING_TYPE_ODS or ING_TYPE_ODP (odf.c) */
int ing_extract_odf(ing_type type, const char *path, const uint8_t *data, size_t n,
                    const ing_limits *lim, ing_text *out, rag_err *err);
int ing_extract_epub(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err);
int ing_extract_rtf(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    ing_text *out, rag_err *err);
/* PNG, JPEG, TIFF through OCR (ingest/ocr.c). An image in which OCR finds
 * no text, a build without OCR and ocr_mode NEVER answer
 * RAG_ERR_UNSUPPORTED (the file is skipped, not failed). */
int ing_extract_image(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_text *out, rag_err *err);

/* ---- OCR (ingest/ocr.c) ---------------------------------------------------- */
/* 1 when built with tesseract and leptonica. */
int ing_ocr_built_in(void);
/* The tessdata directory ($TESSDATA_PREFIX, else the system's) and the
 * languages to use, "eng+deu": `want` ("+"-separated; NULL or "": eng when
 * installed, else every installed language but osd). RAG_ERR_INVALID
 * naming what is installed when a language wanted is not, or none is. */
int ing_ocr_languages(const char *want, char *dir, size_t dir_cap, char *langs, size_t langs_cap,
                      rag_err *err);
/* In a child only (ing_child_run): the engine, opened once for dir/langs;
 * NULL with *why set when tesseract cannot start. */
typedef struct ing_ocr ing_ocr;
ing_ocr *ing_ocr_open(const char *dir, const char *langs, const char **why);
/* The text OCR finds in an 8-bit grey image (rows `stride` bytes apart)
 * scanned at ppi: malloc'ed, NULL when none can be read. */
char *ing_ocr_gray(ing_ocr *o, const uint8_t *gray, int w, int h, int stride, int ppi);

/* Splits page text into paragraphs at blank lines, the lines of a paragraph
 * joined with spaces, a word hyphenated at a line end ("infor-" + "mation")
 * joined when the next line starts with a lowercase letter (ingest/text.c).
 * For PDF page text and OCR output. */
void ing_text_add_page(ing_text *t, const char *s, size_t n);

/* ---- child processes (ingest/child.c) ------------------------------------ */
typedef struct ing_child_limits {
    unsigned cpu_s;     /* CPU seconds (SIGXCPU, then SIGKILL a second later) */
    size_t mem;         /* address space above what the child inherits; 0: none */
    unsigned timeout_s; /* wall-clock seconds */
    unsigned cpu_max_s; /* what ing_child_raise may raise cpu_s to (0: cpu_s) */
    size_t mem_max;     /* what ing_child_raise may raise mem to (0: mem) */
} ing_child_limits;
#define ING_CHILD_FD 3          /* the child writes its records here */
#define ING_CHILD_REC_ERROR 'E' /* a message to go with a failure exit */
enum { ING_CHILD_EXIT_PIPE = 5 };
/* In the child: sends one record (type, the string s, NULL: empty); the
 * child _exits with ING_CHILD_EXIT_PIPE when the parent is gone. */
void ing_child_put(char type, const char *s);
/* In the child: raises its CPU (total seconds) and memory limits, up to
 * cpu_max_s and mem_max; the parent's on_rec raises *cl alike when told. */
void ing_child_raise(unsigned cpu_s, size_t mem);
/* child_main(ctx) runs in the child with its limits set (see child.c) and
 * must _exit. */
typedef void (*ing_child_main_fn)(void *ctx);
/* Called in the parent for each record other than ING_CHILD_REC_ERROR. */
typedef void (*ing_child_rec_fn)(void *ctx, char type, const char *p, size_t len);
typedef struct ing_child_result {
    int reaped, status; /* the wait status, when the child could be reaped */
    char error[200];    /* its ING_CHILD_REC_ERROR record, "" when none */
} ing_child_result;
/* Held by a thread of this process that uses glib (GMime, ingest/email.c)
 * and taken around each fork: a child runs glib too (poppler) and must not
 * start with one of glib's locks held by a thread that is not there.
 * Recursive: an email's attachment may be a PDF, parsed in a child. */
void ing_fork_lock(void);
void ing_fork_unlock(void);
/* Runs child_main in a forked child under cl, passing its records to on_rec
 * as they arrive (payloads at most max_payload bytes in all); on_rec may
 * raise cl's limits (it is read again at each record, and in messages). `what` names
 * the parser in messages ("PDF parser"). Returns RAG_ERR_LIMIT for a limit
 * (time, CPU, memory, max_payload), RAG_ERR_FORMAT when the child died of
 * another signal, an error of the pipe or the fork; else 0, the exit
 * status in *res for the caller to judge. */
int ing_child_run(const char *name, const char *what, ing_child_limits *cl, size_t max_payload,
                  ing_child_main_fn child_main, void *child_ctx, ing_child_rec_fn on_rec,
                  void *rec_ctx, ing_child_result *res, rag_err *err);

/* Text files: turns raw bytes into valid UTF-8 (BOM handling, UTF-16,
 * Windows-1252 fallback, repair). Fails with RAG_ERR_FORMAT when the bytes are
 * not text in any of those encodings. Enforces lim->max_line. */
int ing_decode_text(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    rag_buf *out, size_t *n_repaired, rag_err *err);

/* Helpers shared by the extractors. */
/* "UTF-16LE", "UTF-16BE", "UTF-32LE" or "UTF-32BE" when the NUL bytes in
 * the first 8 KiB of data[0..n) follow the pattern of that encoding without
 * a BOM (ASCII-range text), else NULL. Used by detection and decoding alike. */
const char *ing_wide_encoding(const uint8_t *data, size_t n);
/* 1 when data[0..n) is empty or holds only ASCII whitespace (after a UTF-8
 * or UTF-16 byte order mark): an empty file, skipped rather than failed. */
int ing_is_blank(const uint8_t *data, size_t n);
/* Initialises libxml2 once per process (thread-safe) and makes sure libxml2
 * never prints errors to stderr from the calling thread. Call before any
 * libxml2 use. */
void ing_xml_init(void);

/* ---- containers ------------------------------------------------------------
 * An archive, a mailbox or an email's attachments hold documents of their
 * own. Each member becomes a document whose uri is the container's uri,
 * "!/" and the member's name ("docs.zip!/guide/install.md",
 * "inbox.mbox!/3/attachments/report.pdf"), with the container's labels.
 * Members are extracted like files (detected from their bytes and name
 * unless the container knows the type), recursively up to a depth limit. */
typedef struct ing_member {
    const char *name;    /* '/'-separated path inside the container, not empty */
    const uint8_t *data; /* the member's bytes, borrowed for the call */
    size_t n;
    int64_t mtime_ns; /* 0: the container's */
    ing_type type;    /* ING_TYPE_UNKNOWN: detect from data and name */
    const char *meta; /* extra metadata members as in ing_text.meta, or NULL */
    /* Non-zero (a RAG_ERR_* code): the member could not be read (over a
     * limit, encrypted, its data corrupt); data is NULL and fail_msg, naming
     * the container and the member, says why. The walk goes on. */
    int fail;
    const char *fail_msg;
} ing_member;

/* Called once per member, in the container's order; a non-zero return stops
 * the walk and is returned by ing_members. */
typedef int (*ing_member_fn)(void *ctx, const ing_member *m, rag_err *err);

/* 1 for the types that have members (ARCHIVE, MBOX, EMAIL). An EMAIL is
 * also a document itself (ing_extract gives its body). */
int ing_type_is_container(ing_type t);

/* Calls fn for each member of the container data[0..n) of type `type`.
 * Returns 0, fn's non-zero return, or an error for the container as a
 * whole (RAG_ERR_FORMAT naming the offset or member; RAG_ERR_LIMIT naming
 * the limit). A member that is itself broken is still passed on: its
 * extraction fails on its own. (ingest/container.c) */
int ing_members(ing_type type, const char *path, const uint8_t *data, size_t n,
                const ing_limits *lim, ing_member_fn fn, void *ctx, rag_err *err);
/* The members of an email: its attachments, "attachments/N/FILENAME"
 * (message/rfc822 ones as ING_TYPE_EMAIL), with "parent_message_id" as
 * metadata. (ingest/email.c) */
int ing_email_members(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                      ing_member_fn fn, void *ctx, rag_err *err);
/* The members of an mbox: its messages, "1", "2", ... in file order, as
 * ING_TYPE_EMAIL, with "message_id" as metadata. (ingest/email.c) */
int ing_mbox_members(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_member_fn fn, void *ctx, rag_err *err);

/* Archives and compressed files (ingest/archive.c, libarchive). A zip, tar
 * (plain or compressed), 7z, cpio or ISO image gives its regular files as
 * members, names normalised (no leading '/', no "." or ".." parts); a
 * compressed file whose content is no archive gives one member, its name
 * without the compression suffix (only when it holds another container:
 * a compressed document is read as the document, see ing_decompress). */
int ing_archive_members(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                        ing_member_fn fn, void *ctx, rag_err *err);
/* When data[0..n) is a compressed file (gzip, bzip2, xz, lzma, zstd, lz4,
 * compress) holding no archive: 1, *out (zeroed by the caller) its content
 * within lim->max_member and lim->max_member_ratio, *inner_name (owned, may
 * be NULL when path is) path without the compression suffix, *filter the
 * compression's name ("gzip"). 0 when data is not compressed. Negative on a
 * corrupt stream or a limit. */
int ing_decompress(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                   rag_buf *out, char **inner_name, const char **filter, rag_err *err);
/* 1 when data starts with the magic of a compression ing_decompress reads. */
int ing_is_compressed(const uint8_t *data, size_t n);
/* Decompresses at most max bytes from the start of compressed data, for
 * detection: 0 and *out, or negative (corrupt). */
int ing_decompress_head(const uint8_t *data, size_t n, size_t max, rag_buf *out, rag_err *err);
/* 1 when libarchive recognises data[0..n) (after decompression) as an
 * archive format other than raw: tar, zip, 7z, cpio, ISO 9660. */
int ing_is_archive(const uint8_t *data, size_t n);

/* ---- chunking ------------------------------------------------------------ */
/* Counts tokens of s[0..n). Until a model tokenizer is configured this is a
 * word-based estimate (ing_tokens_estimate). */
typedef size_t (*ing_token_count_fn)(void *ctx, const char *s, size_t n);
size_t ing_tokens_estimate(void *ctx, const char *s, size_t n);

typedef struct ing_chunk_params {
    size_t target_tokens;  /* aim for chunks of about this many tokens */
    size_t overlap_tokens; /* repeat about this many tokens from the previous chunk */
    size_t min_tokens;     /* a heading closes the chunk only when it has this many */
    ing_token_count_fn count;
    void *count_ctx;
} ing_chunk_params;

void ing_chunk_params_default(ing_chunk_params *p);

/* A chunk's text is ing_text.text[byte_start, byte_end): it may span blocks
 * (with their "\n\n" separators) and overlaps the previous chunk. */
typedef struct ing_chunk {
    size_t byte_start, byte_end;
    size_t n_tokens;
    char *heading_path; /* owned: "Top › Sub › Leaf", "" when none */
} ing_chunk;

typedef struct ing_chunks {
    ing_chunk *v;
    size_t n, cap;
} ing_chunks;

/* Cuts t into chunks: never more than target_tokens unless a single word is
 * larger; prefers heading, then paragraph, then sentence, then word
 * boundaries; consecutive chunks overlap by about overlap_tokens, taken from
 * whole sentences of the previous chunk where they fit. t and p are borrowed
 * (p NULL: the defaults); chunks are appended to *out (zeroed by the caller,
 * free with ing_chunks_free). The algorithm is described in ingest/chunk.c. */
void ing_chunk_text(const ing_text *t, const ing_chunk_params *p, ing_chunks *out);
void ing_chunks_free(ing_chunks *c);

#endif
