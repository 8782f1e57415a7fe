/*
 * The CBOR codec of surrealdb.core: SurrealDB values straight from and onto the Lua stack.
 *
 * cbor.c keeps the configuration that lua/surrealdb/cbor.lua hands over once (the sentinels, the
 * class tables of the value types, the string parsers; the value layouts are documented in
 * lua/surrealdb/cbor.lua) in a Lua table shared as upvalue 2 of the codec functions, and
 * the identities of those tables in the state userdata (upvalue 1), so the encoder recognises a
 * value type with a few pointer comparisons and never calls Lua.
 */
#ifndef SDB_CBOR_H
#define SDB_CBOR_H

#include <lua.h>

#include "sdb_buffer.h"

/* Deepest nesting of arrays, maps and tags accepted by the encoder and the decoder. */
#define SDB_CBOR_MAX_DEPTH 512

/* Slots of the configuration table (upvalue 2). The values the codec recognises by identity come
 * first, so the state can mirror them as pointers. */
enum sdb_cbor_slot {
    SDB_NULL = 1,
    SDB_NONE,
    SDB_ARRAY_MT,
    SDB_OBJECT_MT,
    SDB_RECORD_ID,
    SDB_TABLE,
    SDB_UUID,
    SDB_DATETIME,
    SDB_DURATION,
    SDB_DECIMAL,
    SDB_RANGE,
    SDB_GEOMETRY,
    SDB_FUTURE,
    SDB_FILE,
    SDB_SET,
    SDB_BYTES,
    SDB_TAGGED,
    SDB_ENCODED,      /* cbor.Encoded: { bytes = one CBOR item }, written verbatim */
    SDB_IDENTITY_END, /* end of the values recognised by identity */
    /* the string parsers, called (under pcall) by the decoder */
    SDB_PARSE_RECORD_ID = SDB_IDENTITY_END,
    SDB_PARSE_DATETIME,
    SDB_PARSE_DURATION,
    SDB_PARSE_UUID,
    /* field names, interned once so neither side hashes a C string per value */
    SDB_K_TB,
    SDB_K_ID,
    SDB_K_NAME,
    SDB_K_VALUE,
    SDB_K_SECONDS,
    SDB_K_NANOSECONDS,
    SDB_K_LOWER,
    SDB_K_UPPER,
    SDB_K_INCLUSIVE,
    SDB_K_KIND,
    SDB_K_COORDINATES,
    SDB_K_BODY,
    SDB_K_BUCKET,
    SDB_K_KEY,
    SDB_K_DATA,
    SDB_K_TAG,
    SDB_K_BYTES,
    /* the seven geometry kind names, in the order of tags 88..94 */
    SDB_K_GEOMETRY,
    SDB_SLOT_COUNT = SDB_K_GEOMETRY + 7
};

/* CBOR tags of SurrealDB (shared/PROTOCOL.md). */
enum sdb_cbor_tag {
    SDB_TAG_DATETIME_TEXT = 0,
    SDB_TAG_NONE = 6,
    SDB_TAG_TABLE = 7,
    SDB_TAG_RECORD_ID = 8,
    SDB_TAG_UUID_TEXT = 9,
    SDB_TAG_DECIMAL = 10,
    SDB_TAG_DATETIME = 12,
    SDB_TAG_DURATION_TEXT = 13,
    SDB_TAG_DURATION = 14,
    SDB_TAG_FUTURE = 15,
    SDB_TAG_UUID = 37,
    SDB_TAG_RANGE = 49,
    SDB_TAG_BOUND_INCLUDED = 50,
    SDB_TAG_BOUND_EXCLUDED = 51,
    SDB_TAG_FILE = 55,
    SDB_TAG_SET = 56,
    SDB_TAG_GEOMETRY_FIRST = 88, /* Point */
    SDB_TAG_GEOMETRY_LAST = 94   /* GeometryCollection */
};

/* The state shared by the codec functions of one Lua state (upvalue 1, a full userdata). The
 * buffer comes first: the userdata is freed by the buffer metatable's __gc. */
typedef struct sdb_cbor_state {
    sdb_buffer buf;                         /* the encoder's output, reused between calls */
    int buf_busy;                           /* set while an encode writes into buf */
    int configured;                         /* cbor_configure has run */
    const void *identity[SDB_IDENTITY_END]; /* lua_topointer of the slots below SDB_IDENTITY_END */
} sdb_cbor_state;

#define SDB_CBOR_STATE_UPVALUE lua_upvalueindex(1)
#define SDB_CBOR_CONFIG_UPVALUE lua_upvalueindex(2)

/* core.cbor_encode(value) -> string | nil, message, path */
int sdb_cbor_encode(lua_State *L);
/* core.cbor_encode_rows(rows, first, count, max_bytes) -> Encoded, n, size | nil, 0, row size
 * | false, message, path (see lua/surrealdb/cbor.lua) */
int sdb_cbor_encode_rows(lua_State *L);
/* core.cbor_decode(string) -> value | nil, message, offset */
int sdb_cbor_decode(lua_State *L);
/* Checks that cbor_configure ran; returns the state. */
sdb_cbor_state *sdb_cbor_checkstate(lua_State *L);

#endif
