/*
 * A growable byte buffer that lives inside a Lua userdata and is reused between calls.
 *
 * It allocates through the Lua state's allocator, so a host that limits or accounts Lua memory sees
 * it, and it is freed by the owning userdata's __gc: a Lua error raised while it is in use leaks
 * nothing. Growth is geometric, so appending n bytes one at a time costs O(n).
 */
#ifndef SDB_BUFFER_H
#define SDB_BUFFER_H

#include <stddef.h>
#include <string.h>

#include <lua.h>

typedef struct sdb_buffer {
    unsigned char *data;
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
    lua_Alloc alloc;
    void *alloc_ud;
} sdb_buffer;

/* The metatable name of a userdata whose memory starts with an sdb_buffer. */
#define SDB_BUFFER_MT "surrealdb.core.buffer"

void sdb_buffer_init(sdb_buffer *b, lua_State *L);
/* Makes room for `extra` more bytes; 0 on success, -1 when out of memory (b is left intact). */
int sdb_buffer_grow(sdb_buffer *b, size_t extra);
/* Frees the memory; safe to call twice. */
void sdb_buffer_free(sdb_buffer *b);
/* Empties the buffer, and frees its memory when it grew beyond `keep` bytes. */
void sdb_buffer_reset(sdb_buffer *b, size_t keep);

/* Pushes a new userdata holding an empty buffer (freed by its __gc) and returns the buffer. */
sdb_buffer *sdb_buffer_push(lua_State *L);
/* Creates the metatable of buffer userdata (once per state). */
void sdb_buffer_register(lua_State *L);

static inline int sdb_buffer_reserve(sdb_buffer *b, size_t n)
{
    return (b->cap - b->len >= n) ? 0 : sdb_buffer_grow(b, n);
}

/* The unchecked appends: the caller reserved the room. */
static inline void sdb_buffer_put_byte(sdb_buffer *b, unsigned char c)
{
    b->data[b->len++] = c;
}

static inline void sdb_buffer_put_mem(sdb_buffer *b, const void *p, size_t n)
{
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

#endif
