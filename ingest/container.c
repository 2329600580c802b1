/* ingest/container.c: containers, the files whose members are documents of
 * their own (ing_type_is_container, ing_members): a dispatch to the reader
 * of each kind. Archives and compressed files are read by archive.c
 * (libarchive); mailboxes and emails by email.c. What the pipeline does
 * with the members (uris "container!/member", incremental updates, limits
 * of nesting) is in pipeline.c. */
#include "ingest/ing_int.h"

int ing_type_is_container(ing_type t)
{
    return t == ING_TYPE_ARCHIVE || t == ING_TYPE_MBOX || t == ING_TYPE_EMAIL;
}

int ing_members(ing_type type, const char *path, const uint8_t *data, size_t n,
                const ing_limits *lim, ing_member_fn fn, void *ctx, rag_err *err)
{
    const char *name = path ? path : "(input)";
    switch (type) {
    case ING_TYPE_ARCHIVE:
        return ing_archive_members(path, data, n, lim, fn, ctx, err);
    case ING_TYPE_MBOX:
        return ing_mbox_members(path, data, n, lim, fn, ctx, err);
    case ING_TYPE_EMAIL:
        return ing_email_members(path, data, n, lim, fn, ctx, err);
    default:
        break;
    }
    return rag_err_set(err, RAG_ERR_INVALID, "%s: type %s has no members", name,
                       ing_type_name(type));
}
