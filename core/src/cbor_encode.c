/*
 * CBOR encoder: walks the Lua value on the stack and writes CBOR into the state's reused buffer.
 *
 * It never calls Lua and never allocates Lua objects while it walks (field names come interned
 * from the configuration table), so no finalizer can run and nothing can raise in the middle of
 * an encode: failures travel back up as -1 with the message in the encoder, and the caller turns
 * them into `nil, message, path`.
 *
 * Tables are traversed once: the first key decides between array and object, items are written as
 * lua_next yields them, and the item count is patched into the head afterwards. A table whose
 * keys do not come out as 1, 2, 3, ... (items stored in the hash part, or an error) takes a slower
 * path that checks every key first.
 *
 * encode_rows writes a batch of rows as one array the same way, measuring each row as it goes, so a
 * caller can split a bulk insert by encoded size without encoding anything twice.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "sdb_cbor.h"
#include "sdb_utf8.h"

/* An encode that needed more than this gives its memory back afterwards. */
#define KEEP_BUFFER_BYTES ((size_t)16 << 20)

typedef struct path_elem {
    const char *key; /* NULL: an array index */
    size_t len;
    lua_Integer index;
} path_elem;

typedef struct encoder {
    lua_State *L;
    sdb_buffer *b;
    const void *const *identity;
    int depth;
    const void *seen[SDB_CBOR_MAX_DEPTH + 1]; /* the tables being encoded, outermost first */
    path_elem path[SDB_CBOR_MAX_DEPTH + 2];   /* path[1..depth]: how the current value is reached */
    char message[800];
    char where[384];
} encoder;

static int encode_value(encoder *e, int idx);

/* ---- errors ---- */

static void append_escaped(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *pos + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            *pos += (size_t)snprintf(out + *pos, cap - *pos, "\\x%02x", c);
        } else {
            out[(*pos)++] = (char)c;
        }
    }
}

static int is_identifier(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Renders path[1..depth] as `$.friends[2].name`, Lua indices, odd keys as `["a b"]`. */
static void render_path(encoder *e)
{
    size_t cap = sizeof(e->where), pos = 0;
    e->where[pos++] = '$';
    for (int d = 1; d <= e->depth && pos + 16 < cap; d++) {
        const path_elem *p = &e->path[d];
        if (p->key == NULL && p->index == 0) {
            continue; /* the table itself, before any item */
        }
        if (p->key == NULL) {
            pos += (size_t)snprintf(e->where + pos, cap - pos, "[%lld]", (long long)p->index);
        } else if (is_identifier(p->key, p->len) && pos + p->len + 2 < cap) {
            e->where[pos++] = '.';
            memcpy(e->where + pos, p->key, p->len);
            pos += p->len;
        } else {
            e->where[pos++] = '[';
            e->where[pos++] = '"';
            append_escaped(e->where, cap - 3, &pos, p->key, p->len);
            e->where[pos++] = '"';
            e->where[pos++] = ']';
        }
    }
    if (pos >= cap) {
        pos = cap - 1;
    }
    e->where[pos] = '\0';
}

/* Records a failure of the value at the current path; the message gets " at <path>". */
static int fail(encoder *e, const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    render_path(e);
    snprintf(e->message, sizeof(e->message), "%s at %s", what, e->where);
    return -1;
}

static int oom(encoder *e)
{
    return fail(e, "not enough memory for the encoded value");
}

/* Describes the key at idx for a message: `"name"`, `3`, `1.5`, `a boolean (true)`. */
static void describe_key(lua_State *L, int idx, char *out, size_t cap)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n, pos = 0;
        const char *s = lua_tolstring(L, idx, &n);
        out[pos++] = '"';
        append_escaped(out, cap - 2, &pos, s, n < 64 ? n : 64);
        out[pos++] = '"';
        out[pos] = '\0';
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(out, cap, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            snprintf(out, cap, "%.17g (a float)", (double)lua_tonumber(L, idx));
        }
        break;
    case LUA_TBOOLEAN:
        snprintf(out, cap, "%s (a boolean)", lua_toboolean(L, idx) ? "true" : "false");
        break;
    default:
        snprintf(out, cap, "of type %s", luaL_typename(L, idx));
        break;
    }
}

/* ---- writing ---- */

static inline size_t head_size(uint64_t v)
{
    return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}

/* Writes a head of exactly `size` bytes (size >= head_size(v)) at p. */
static inline void write_head(unsigned char *p, unsigned major, uint64_t v, size_t size)
{
    unsigned char mt = (unsigned char)(major << 5);
    switch (size) {
    case 1:
        p[0] = (unsigned char)(mt | v);
        break;
    case 2:
        p[0] = mt | 24;
        p[1] = (unsigned char)v;
        break;
    case 3:
        p[0] = mt | 25;
        p[1] = (unsigned char)(v >> 8);
        p[2] = (unsigned char)v;
        break;
    case 5:
        p[0] = mt | 26;
        for (int i = 0; i < 4; i++) {
            p[1 + i] = (unsigned char)(v >> (24 - 8 * i));
        }
        break;
    default:
        p[0] = mt | 27;
        for (int i = 0; i < 8; i++) {
            p[1 + i] = (unsigned char)(v >> (56 - 8 * i));
        }
        break;
    }
}

static inline int put_head(encoder *e, unsigned major, uint64_t v)
{
    sdb_buffer *b = e->b;
    if (sdb_buffer_reserve(b, 9)) {
        return oom(e);
    }
    size_t n = head_size(v);
    write_head(b->data + b->len, major, v, n);
    b->len += n;
    return 0;
}

static inline int put_byte(encoder *e, unsigned char c)
{
    if (sdb_buffer_reserve(e->b, 1)) {
        return oom(e);
    }
    sdb_buffer_put_byte(e->b, c);
    return 0;
}

/* A head of the given major type and length, then the bytes. */
static inline int put_string(encoder *e, unsigned major, const char *s, size_t n)
{
    sdb_buffer *b = e->b;
    if (n > SIZE_MAX - 16 || sdb_buffer_reserve(b, n + 9)) {
        return oom(e);
    }
    unsigned char *p = b->data + b->len;
    if (n < 24) {
        /* Keys and most values: a one-byte head, and the bytes copied as at most three
         * overlapping words rather than through a call to memcpy. */
        *p++ = (unsigned char)(major << 5 | n);
        if (n >= 8) {
            uint64_t head, mid, tail;
            memcpy(&head, s, 8);
            memcpy(&tail, s + n - 8, 8);
            if (n > 16) {
                memcpy(&mid, s + 8, 8);
                memcpy(p + 8, &mid, 8);
            }
            memcpy(p, &head, 8);
            memcpy(p + n - 8, &tail, 8);
        } else if (n >= 4) {
            uint32_t head, tail;
            memcpy(&head, s, 4);
            memcpy(&tail, s + n - 4, 4);
            memcpy(p, &head, 4);
            memcpy(p + n - 4, &tail, 4);
        } else {
            for (size_t i = 0; i < n; i++) {
                p[i] = (unsigned char)s[i];
            }
        }
        b->len += 1 + n;
        return 0;
    }
    size_t hs = head_size(n);
    write_head(p, major, n, hs);
    b->len += hs;
    sdb_buffer_put_mem(b, s, n);
    return 0;
}

static int put_text(encoder *e, const char *s, size_t n)
{
    size_t bad = sdb_utf8_check((const unsigned char *)s, n);
    if (bad != n) {
        return fail(e,
                    "invalid UTF-8 in a string (byte %zu): strings are CBOR text; wrap binary data "
                    "in surrealdb.Bytes",
                    bad + 1);
    }
    return put_string(e, 3, s, n);
}

static inline int put_integer(encoder *e, lua_Integer i)
{
    /* ~(uint64_t)i is -1 - i for negative i, without overflow at the minimum. */
    return i >= 0 ? put_head(e, 0, (uint64_t)i) : put_head(e, 1, ~(uint64_t)i);
}

static int put_float(encoder *e, double d)
{
    if (sdb_buffer_reserve(e->b, 9)) {
        return oom(e);
    }
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    unsigned char *p = e->b->data + e->b->len;
    p[0] = 0xfb;
    for (int i = 0; i < 8; i++) {
        p[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    e->b->len += 9;
    return 0;
}

/* Rewrites the placeholder head of `reserved` bytes at hdr with the real count, moving what follows
 * when the head needs another size. */
static int patch_head(encoder *e, size_t hdr, size_t reserved, unsigned major, uint64_t count)
{
    sdb_buffer *b = e->b;
    size_t need = head_size(count);
    if (need != reserved) {
        if (need > reserved && sdb_buffer_reserve(b, need - reserved)) {
            return oom(e);
        }
        memmove(b->data + hdr + need, b->data + hdr + reserved, b->len - hdr - reserved);
        b->len = b->len + need - reserved;
    }
    write_head(b->data + hdr, major, count, need);
    return 0;
}

/* ---- tables ---- */

/* Pushes t[name] (raw) where name is an interned field name of the configuration; returns its type.
 */
static inline int get_field(encoder *e, int t, int slot)
{
    lua_rawgeti(e->L, SDB_CBOR_CONFIG_UPVALUE, slot);
    return lua_rawget(e->L, t);
}

static inline void set_path_key(encoder *e, const char *key, size_t len)
{
    e->path[e->depth].key = key;
    e->path[e->depth].len = len;
}

static inline void set_path_index(encoder *e, lua_Integer i)
{
    e->path[e->depth].key = NULL;
    e->path[e->depth].index = i;
}

/* Steps into the table p: checks the depth and for a cycle. path[depth] starts empty, so an error
 * about the table itself names the table's own path. */
static int enter(encoder *e, const void *p)
{
    if (e->depth >= SDB_CBOR_MAX_DEPTH) {
        return fail(e, "nesting deeper than %d levels", SDB_CBOR_MAX_DEPTH);
    }
    for (int d = 0; d < e->depth; d++) {
        if (e->seen[d] == p) {
            return fail(e, "cycle: the table contains itself");
        }
    }
    /* A level holds at most 6 stack slots; room for 16 levels is made every 16 levels. */
    if ((e->depth & 15) == 0 && !lua_checkstack(e->L, 16 * 6 + 8)) {
        return fail(e, "Lua stack overflow");
    }
    e->seen[e->depth] = p;
    e->depth++;
    set_path_index(e, 0);
    return 0;
}

/* Fails about the table being encoded itself, not about its last item. */
static int fail_table(encoder *e, const char *fmt, const char *key)
{
    set_path_index(e, 0);
    return fail(e, fmt, key);
}

/* Encodes the field (pushed and popped here) of a value type. */
static int encode_field(encoder *e, int t, int slot, const char *name)
{
    if (get_field(e, t, slot) == LUA_TNIL) {
        return fail(e, "missing field '%s'", name);
    }
    set_path_key(e, name, strlen(name));
    if (encode_value(e, lua_gettop(e->L))) {
        return -1;
    }
    lua_pop(e->L, 1);
    return 0;
}

static int encode_text_field(encoder *e, int t, int slot, const char *name)
{
    if (get_field(e, t, slot) != LUA_TSTRING) {
        return fail(e, "field '%s' must be a string, got %s", name, luaL_typename(e->L, -1));
    }
    size_t n;
    const char *s = lua_tolstring(e->L, -1, &n);
    set_path_key(e, name, strlen(name));
    if (put_text(e, s, n)) {
        return -1;
    }
    lua_pop(e->L, 1);
    return 0;
}

/* Reads an integer field (an integral float is accepted) into *out. */
static int integer_field(encoder *e, int t, int slot, const char *name, lua_Integer *out)
{
    int isnum = 0;
    get_field(e, t, slot);
    *out = lua_tointegerx(e->L, -1, &isnum);
    if (!isnum || lua_type(e->L, -1) != LUA_TNUMBER) {
        return fail(e, "field '%s' must be an integer, got %s", name, luaL_typename(e->L, -1));
    }
    lua_pop(e->L, 1);
    return 0;
}

/* Encodes t[1..n] as the items of an array whose head is already written. */
static int encode_items(encoder *e, int t, lua_Integer n)
{
    lua_State *L = e->L;
    for (lua_Integer i = 1; i <= n; i++) {
        set_path_index(e, i);
        if (lua_rawgeti(L, t, i) == LUA_TNIL) {
            return fail(e, "array has a hole at index %lld (use surrealdb.null for a NULL item)",
                        (long long)i);
        }
        if (encode_value(e, lua_gettop(L))) {
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Every key is checked first: for arrays whose items do not come out of lua_next in order, to name
 * the key that makes a table neither an array nor an object, and to find holes that lua_rawlen
 * would hide (items after a hole would be lost). Sets `*length` to the number of items. */
static int checked_length(encoder *e, int t, int kind, lua_Integer *length)
{
    lua_State *L = e->L;
    lua_Integer max = 0, count = 0;
    char key[96];
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1)) {
            lua_Integer k = lua_tointeger(L, -1);
            if (k < 1) {
                set_path_index(e, 0);
                return fail(e, "array index %lld is out of range (arrays start at 1)",
                            (long long)k);
            }
            max = k > max ? k : max;
            count++;
        } else {
            describe_key(L, -1, key, sizeof(key));
            if (lua_type(L, -1) != LUA_TSTRING) {
                return fail_table(e, "table key %s cannot be encoded: object keys must be strings",
                                  key);
            }
            if (kind == SDB_ARRAY_MT) {
                return fail_table(e, "array (surrealdb.array) has a non-index key %s", key);
            }
            if (kind == SDB_SET) {
                return fail_table(e, "Set has a key that is not an item index: %s", key);
            }
            return fail_table(e, "table mixes array items and object keys (key %s)", key);
        }
    }
    if (count != max) {
        for (lua_Integer i = 1; i <= max; i++) {
            int type = lua_rawgeti(L, t, i);
            lua_pop(L, 1);
            if (type == LUA_TNIL) {
                set_path_index(e, i);
                return fail(e,
                            "array has a hole at index %lld (use surrealdb.null for a NULL item)",
                            (long long)i);
            }
        }
    }
    *length = max;
    return 0;
}

static int encode_array_checked(encoder *e, int t, int kind)
{
    lua_Integer n;
    if (checked_length(e, t, kind, &n) || put_head(e, 4, (uint64_t)n)) {
        return -1;
    }
    return encode_items(e, t, n);
}

/* An array whose first key (1) and value lua_next just pushed. */
static int encode_array_from_next(encoder *e, int t, int kind)
{
    lua_State *L = e->L;
    sdb_buffer *b = e->b;
    size_t hdr = b->len;
    size_t reserved = head_size((uint64_t)lua_rawlen(L, t));
    if (sdb_buffer_reserve(b, reserved)) {
        return oom(e);
    }
    b->len += reserved;
    lua_Integer expected = 1;
    int v = lua_gettop(L); /* the value; the key is below it */
    do {
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) != expected) {
            lua_pop(L, 2);
            b->len = hdr;
            return encode_array_checked(e, t, kind);
        }
        set_path_index(e, expected);
        if (encode_value(e, v)) {
            return -1;
        }
        lua_pop(L, 1);
        expected++;
    } while (lua_next(L, t));
    return patch_head(e, hdr, reserved, 4, (uint64_t)(expected - 1));
}

/* An object whose first key and value lua_next just pushed. */
static int encode_map_from_next(encoder *e, int t, int kind)
{
    lua_State *L = e->L;
    sdb_buffer *b = e->b;
    size_t hdr = b->len;
    uint64_t count = 0;
    int v = lua_gettop(L); /* the value; the key is below it */
    if (put_byte(e, 0xa0)) {
        return -1;
    }
    do {
        if (lua_type(L, -2) != LUA_TSTRING) {
            char key[96];
            describe_key(L, -2, key, sizeof(key));
            if (lua_type(L, -2) != LUA_TNUMBER || !lua_isinteger(L, -2)) {
                return fail_table(e, "table key %s cannot be encoded: object keys must be strings",
                                  key);
            }
            if (kind == SDB_OBJECT_MT) {
                return fail_table(e, "object (surrealdb.object) has an integer key %s", key);
            }
            return fail_table(e, "table mixes object keys and array items (key %s)", key);
        }
        size_t n;
        const char *k = lua_tolstring(L, -2, &n);
        set_path_key(e, k, n);
        if (put_text(e, k, n) || encode_value(e, v)) {
            return -1;
        }
        lua_pop(L, 1);
        count++;
    } while (lua_next(L, t));
    return patch_head(e, hdr, 1, 5, count);
}

/* A table without a known metatable, or with array_mt / object_mt (kind). */
static int encode_plain(encoder *e, int t, int kind)
{
    lua_State *L = e->L;
    lua_pushnil(L);
    if (!lua_next(L, t)) {
        return put_byte(e, kind == SDB_ARRAY_MT ? 0x80 : 0xa0);
    }
    if (kind != SDB_ARRAY_MT && lua_type(L, -2) == LUA_TSTRING) {
        return encode_map_from_next(e, t, kind);
    }
    if (kind == SDB_OBJECT_MT) {
        return encode_map_from_next(e, t, kind); /* reports the non-string key */
    }
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1) {
        return encode_array_from_next(e, t, kind);
    }
    lua_pop(L, 2);
    return encode_array_checked(e, t, kind);
}

/* ---- value types ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int encode_uuid(encoder *e, int t)
{
    lua_State *L = e->L;
    unsigned char bytes[16];
    size_t n = 0;
    const char *s = NULL;
    if (get_field(e, t, SDB_K_VALUE) == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
    }
    int ok = (s != NULL && n == 36);
    for (size_t i = 0, j = 0; ok && i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ok = (s[i] == '-');
            continue;
        }
        int hi = hex_value(s[i++]), lo = hex_value(s[i]);
        ok = (hi >= 0 && lo >= 0);
        bytes[j++] = (unsigned char)(hi << 4 | lo);
    }
    if (!ok) {
        return fail(e, "Uuid field 'value' must be a string of the form "
                       "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    }
    lua_pop(L, 1);
    if (put_head(e, 6, SDB_TAG_UUID)) {
        return -1;
    }
    return put_string(e, 2, (const char *)bytes, 16);
}

/* Datetime: tag 12 [seconds, nanoseconds]; Duration: tag 14 with trailing zeros left out. */
static int encode_time(encoder *e, int t, int duration)
{
    lua_Integer s, ns;
    if (integer_field(e, t, SDB_K_SECONDS, "seconds", &s) ||
        integer_field(e, t, SDB_K_NANOSECONDS, "nanoseconds", &ns)) {
        return -1;
    }
    if (ns < 0 || ns > 999999999) {
        return fail(e, "field 'nanoseconds' must be between 0 and 999999999, got %lld",
                    (long long)ns);
    }
    if (duration && s < 0) {
        return fail(e, "Duration field 'seconds' must not be negative, got %lld", (long long)s);
    }
    int items = (!duration || ns != 0) ? 2 : (s != 0 ? 1 : 0);
    if (put_head(e, 6, duration ? SDB_TAG_DURATION : SDB_TAG_DATETIME) ||
        put_byte(e, (unsigned char)(0x80 | items))) {
        return -1;
    }
    if (items >= 1 && put_integer(e, s)) {
        return -1;
    }
    if (items == 2 && put_integer(e, ns)) {
        return -1;
    }
    return 0;
}

static int encode_bound(encoder *e, int t, int slot, const char *name)
{
    lua_State *L = e->L;
    int type = get_field(e, t, slot);
    set_path_key(e, name, strlen(name));
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return put_byte(e, 0xf6); /* unbounded */
    }
    if (type != LUA_TTABLE) {
        return fail(
            e, "a Range bound must be a table { value = v, inclusive = boolean } or nil, got %s",
            luaL_typename(L, -1));
    }
    int b = lua_gettop(L);
    if (get_field(e, b, SDB_K_INCLUSIVE) != LUA_TBOOLEAN) {
        return fail(e, "a Range bound's field 'inclusive' must be a boolean");
    }
    int inclusive = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (put_head(e, 6, inclusive ? SDB_TAG_BOUND_INCLUDED : SDB_TAG_BOUND_EXCLUDED) ||
        enter(e, lua_topointer(L, b))) {
        return -1;
    }
    int rc = encode_field(e, b, SDB_K_VALUE, "value");
    e->depth--;
    if (rc) {
        return -1;
    }
    lua_pop(L, 1);
    return 0;
}

static int encode_geometry(encoder *e, int t)
{
    lua_State *L = e->L;
    int kind = -1;
    if (get_field(e, t, SDB_K_KIND) == LUA_TSTRING) {
        for (int i = 0; i < 7 && kind < 0; i++) {
            lua_rawgeti(L, SDB_CBOR_CONFIG_UPVALUE, SDB_K_GEOMETRY + i);
            if (lua_rawequal(L, -1, -2)) {
                kind = i;
            }
            lua_pop(L, 1);
        }
    }
    if (kind < 0) {
        return fail(e,
                    "Geometry field 'kind' must be one of Point, LineString, Polygon, MultiPoint, "
                    "MultiLineString, MultiPolygon, GeometryCollection");
    }
    lua_pop(L, 1);
    if (get_field(e, t, SDB_K_COORDINATES) != LUA_TTABLE) {
        return fail(e, "Geometry field 'coordinates' must be an array, got %s",
                    luaL_typename(L, -1));
    }
    int c = lua_gettop(L);
    set_path_key(e, "coordinates", 11);
    lua_Integer n;
    if (checked_length(e, c, SDB_ARRAY_MT, &n) ||
        put_head(e, 6, (uint64_t)(SDB_TAG_GEOMETRY_FIRST + kind)) || put_head(e, 4, (uint64_t)n) ||
        enter(e, lua_topointer(L, c))) {
        return -1;
    }
    int rc = encode_items(e, c, n);
    e->depth--;
    if (rc) {
        return -1;
    }
    lua_pop(L, 1);
    return 0;
}

static int encode_typed(encoder *e, int t, int kind)
{
    lua_State *L = e->L;
    switch (kind) {
    case SDB_RECORD_ID:
        if (put_head(e, 6, SDB_TAG_RECORD_ID) || put_byte(e, 0x82) ||
            encode_text_field(e, t, SDB_K_TB, "tb")) {
            return -1;
        }
        return encode_field(e, t, SDB_K_ID, "id");
    case SDB_TABLE:
        if (put_head(e, 6, SDB_TAG_TABLE)) {
            return -1;
        }
        return encode_text_field(e, t, SDB_K_NAME, "name");
    case SDB_UUID:
        return encode_uuid(e, t);
    case SDB_DATETIME:
        return encode_time(e, t, 0);
    case SDB_DURATION:
        return encode_time(e, t, 1);
    case SDB_DECIMAL:
        if (put_head(e, 6, SDB_TAG_DECIMAL)) {
            return -1;
        }
        return encode_text_field(e, t, SDB_K_VALUE, "value");
    case SDB_RANGE:
        if (put_head(e, 6, SDB_TAG_RANGE) || put_byte(e, 0x82)) {
            return -1;
        }
        if (encode_bound(e, t, SDB_K_LOWER, "lower")) {
            return -1;
        }
        return encode_bound(e, t, SDB_K_UPPER, "upper");
    case SDB_GEOMETRY:
        return encode_geometry(e, t);
    case SDB_FUTURE:
        if (put_head(e, 6, SDB_TAG_FUTURE)) {
            return -1;
        }
        return encode_text_field(e, t, SDB_K_BODY, "body");
    case SDB_FILE:
        if (put_head(e, 6, SDB_TAG_FILE) || put_byte(e, 0x82) ||
            encode_text_field(e, t, SDB_K_BUCKET, "bucket")) {
            return -1;
        }
        return encode_text_field(e, t, SDB_K_KEY, "key");
    case SDB_SET: {
        lua_Integer n;
        if (checked_length(e, t, SDB_SET, &n) || put_head(e, 6, SDB_TAG_SET) ||
            put_head(e, 4, (uint64_t)n)) {
            return -1;
        }
        return encode_items(e, t, n);
    }
    case SDB_BYTES: {
        if (get_field(e, t, SDB_K_DATA) != LUA_TSTRING) {
            return fail(e, "Bytes field 'data' must be a string, got %s", luaL_typename(L, -1));
        }
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (put_string(e, 2, s, n)) {
            return -1;
        }
        lua_pop(L, 1);
        return 0;
    }
    case SDB_TAGGED: {
        lua_Integer tag;
        if (integer_field(e, t, SDB_K_TAG, "tag", &tag)) {
            return -1;
        }
        /* Tag numbers of 2^63 and more come back from the decoder as negative integers (the same
         * 64 bits), so the cast writes them back unchanged. */
        if (put_head(e, 6, (uint64_t)tag)) {
            return -1;
        }
        return encode_field(e, t, SDB_K_VALUE, "value");
    }
    case SDB_ENCODED: {
        /* One CBOR item the codec made (encode_rows): written as it is, never looked into. */
        size_t n = 0;
        const char *s = NULL;
        if (get_field(e, t, SDB_K_BYTES) == LUA_TSTRING) {
            s = lua_tolstring(L, -1, &n);
        }
        if (n == 0) {
            return fail(e, "cbor.Encoded field 'bytes' must be a non-empty string, got %s",
                        s ? "an empty string" : luaL_typename(L, -1));
        }
        if (sdb_buffer_reserve(e->b, n)) {
            return oom(e);
        }
        sdb_buffer_put_mem(e->b, s, n);
        lua_pop(L, 1);
        return 0;
    }
    default:
        return encode_plain(e, t, kind);
    }
}

static int encode_table(encoder *e, int t)
{
    lua_State *L = e->L;
    const void *p = lua_topointer(L, t);
    if (p == e->identity[SDB_NULL]) {
        return put_byte(e, 0xf6);
    }
    if (p == e->identity[SDB_NONE]) {
        return put_head(e, 6, SDB_TAG_NONE) || put_byte(e, 0xf6) ? -1 : 0;
    }
    int kind = 0;
    if (lua_getmetatable(L, t)) {
        const void *mt = lua_topointer(L, -1);
        lua_pop(L, 1);
        for (int k = SDB_ARRAY_MT; k < SDB_IDENTITY_END; k++) {
            if (mt == e->identity[k]) {
                kind = k;
                break;
            }
        }
    }
    if (enter(e, p)) {
        return -1;
    }
    int rc = encode_typed(e, t, kind);
    e->depth--;
    return rc;
}

static int encode_value(encoder *e, int idx)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return put_text(e, s, n);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            return put_integer(e, lua_tointeger(L, idx));
        }
        return put_float(e, (double)lua_tonumber(L, idx));
    case LUA_TBOOLEAN:
        return put_byte(e, lua_toboolean(L, idx) ? 0xf5 : 0xf4);
    case LUA_TTABLE:
        return encode_table(e, idx);
    case LUA_TNIL:
        return fail(e, "cannot encode nil: use surrealdb.null for NULL or surrealdb.NONE for NONE");
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
        return fail(e, "cannot encode a userdata (%s)", luaL_typename(L, idx));
    case LUA_TTHREAD:
        return fail(e, "cannot encode a coroutine (thread)");
    default:
        return fail(e, "cannot encode a %s", luaL_typename(L, idx));
    }
}

/* ---- entry points ---- */

/* Starts an encode into the state's reused buffer, or into a buffer of its own (pushed on the
 * stack, freed by its __gc) when a finalizer or a parser encodes while another encode writes. */
static void encoder_start(encoder *e, lua_State *L, sdb_cbor_state *st)
{
    e->L = L;
    e->b = st->buf_busy ? sdb_buffer_push(L) : &st->buf;
    e->b->len = 0;
    st->buf_busy = 1;
    e->identity = st->identity;
    e->depth = 0;
    e->path[0].key = NULL;
}

/* Ends the writing: the bytes stay in e->b until encoder_reset. */
static void encoder_release(encoder *e, sdb_cbor_state *st)
{
    if (e->b == &st->buf) {
        st->buf_busy = 0;
    }
}

static void encoder_reset(encoder *e)
{
    sdb_buffer_reset(e->b, KEEP_BUFFER_BYTES);
}

/* Pushes the encoded bytes as a string and empties the buffer. The copy is made before the push can
 * run the collector (and any finalizer, which may encode into the same buffer). */
static void push_result(encoder *e)
{
    lua_pushlstring(e->L, (const char *)e->b->data, e->b->len);
    encoder_reset(e);
}

/* Returns `<falsy>, message, path` for a failed encode (falsy: nil or false). */
static int push_failure(encoder *e, int base, int falsy_is_false)
{
    encoder_reset(e);
    lua_settop(e->L, base);
    if (falsy_is_false) {
        lua_pushboolean(e->L, 0);
    } else {
        lua_pushnil(e->L);
    }
    lua_pushstring(e->L, e->message);
    lua_pushstring(e->L, e->where);
    return 3;
}

int sdb_cbor_encode(lua_State *L)
{
    sdb_cbor_state *st = sdb_cbor_checkstate(L);
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    encoder e;
    encoder_start(&e, L, st);
    int rc = encode_value(&e, 1);
    encoder_release(&e, st);
    if (rc) {
        return push_failure(&e, 1, 0);
    }
    push_result(&e);
    return 1;
}

/*
 * Encodes rows[first], rows[first + 1], ... as one array, each row once, and stops before the row
 * that would make the array longer than max_bytes. The head is reserved for the largest count the
 * call may reach, so patching it to the count that fitted only ever shrinks it (no allocation).
 */
int sdb_cbor_encode_rows(lua_State *L)
{
    sdb_cbor_state *st = sdb_cbor_checkstate(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer first = luaL_checkinteger(L, 2);
    lua_Integer count = luaL_checkinteger(L, 3);
    lua_Integer max_bytes = luaL_checkinteger(L, 4);
    lua_Integer len = (lua_Integer)lua_rawlen(L, 1);
    luaL_argcheck(L, first >= 1, 2, "first must be at least 1");
    luaL_argcheck(L, count >= 1, 3, "count must be at least 1");
    luaL_argcheck(L, max_bytes >= 1, 4, "max_bytes must be at least 1");
    luaL_argcheck(L, first <= len, 2, "first is past the last row");
    /* The rows up to #rows (raw): count may reach beyond it. len - first cannot overflow. */
    lua_Integer last = count - 1 > len - first ? len : first + count - 1;
    lua_settop(L, 4);

    encoder e;
    encoder_start(&e, L, st);
    sdb_buffer *b = e.b;
    size_t reserved = head_size((uint64_t)(last - first + 1));
    size_t row_size = 0;
    lua_Integer n = 0;
    int rc = enter(&e, lua_topointer(L, 1));
    if (rc == 0 && sdb_buffer_reserve(b, reserved)) {
        rc = oom(&e);
    }
    if (rc == 0) {
        b->len = reserved;
        for (lua_Integer i = first; i <= last; i++) {
            size_t start = b->len;
            set_path_index(&e, i);
            lua_rawgeti(L, 1, i);
            if (encode_value(&e, lua_gettop(L))) {
                rc = -1;
                break;
            }
            lua_pop(L, 1);
            uint64_t items = (uint64_t)(n + 1);
            if (head_size(items) + (b->len - reserved) > (uint64_t)max_bytes) {
                row_size = b->len - start;
                b->len = start;
                break;
            }
            n++;
        }
        e.depth--;
    }
    if (rc == 0 && n > 0) {
        rc = patch_head(&e, 0, reserved, 4, (uint64_t)n);
    }
    encoder_release(&e, st);
    if (rc) {
        return push_failure(&e, 4, 1);
    }
    if (n == 0) {
        encoder_reset(&e);
        lua_pushnil(L);
        lua_pushinteger(L, 0);
        lua_pushinteger(L, (lua_Integer)row_size);
        return 3;
    }
    size_t size = b->len;
    push_result(&e);
    /* The cbor.Encoded object: { bytes = <the array> } */
    lua_createtable(L, 0, 1);
    lua_rawgeti(L, SDB_CBOR_CONFIG_UPVALUE, SDB_K_BYTES);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_rawgeti(L, SDB_CBOR_CONFIG_UPVALUE, SDB_ENCODED);
    lua_setmetatable(L, -2);
    lua_pushinteger(L, n);
    lua_pushinteger(L, (lua_Integer)size);
    return 3;
}
