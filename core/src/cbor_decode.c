/*
 * CBOR decoder: reads untrusted bytes and pushes the SurrealDB value straight onto the Lua stack.
 *
 * Every read is bounds-checked against the end of the input, and every length is compared with
 * the bytes that remain before anything is allocated for it (an array item or a map pair needs at
 * least one or two bytes). Failures travel back up as -1 with a message naming the byte offset;
 * the caller drops whatever was pushed and returns `nil, message, offset`. The string parsers of
 * the value types run under lua_pcall, so their errors come back the same way. Nothing is
 * allocated outside Lua: a memory error raised by Lua leaks nothing.
 *
 * Decisions for input the RFC allows but SurrealDB never sends: indefinite-length arrays, maps,
 * byte and text strings are accepted (string chunks must be definite strings of the same major
 * type); map keys must be text strings or integers (integers become integer keys of the Lua
 * table); with duplicate keys the last one wins; integers beyond the 64-bit signed range, simple
 * values other than false/true/null/undefined, and tags with content of the wrong shape are errors.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "sdb_cbor.h"
#include "sdb_utf8.h"

typedef struct decoder {
    lua_State *L;
    const unsigned char *start, *p, *end;
    size_t err_offset;
    char message[640];
} decoder;

static int decode_value(decoder *d, int depth);

static int fail(decoder *d, size_t offset, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    d->err_offset = offset;
    snprintf(d->message, sizeof(d->message), "%s at byte offset %zu", what, offset);
    return -1;
}

static inline size_t offset_of(const decoder *d, const unsigned char *p)
{
    return (size_t)(p - d->start);
}

static inline size_t remaining(const decoder *d)
{
    return (size_t)(d->end - d->p);
}

static const char *const major_names[8] = {
    "an unsigned integer",
    "a negative integer",
    "a byte string",
    "a text string",
    "an array",
    "a map",
    "a tag",
    "a simple value or float",
};

/* Reads the head at d->p: the major type, the additional information and its argument (the value,
 * length, tag number or float bits). Indefinite lengths give ai = 31; for major type 7 that is the
 * break code, which the callers that expect it check for. */
static int read_head_long(decoder *d, int *major, int *ai, uint64_t *arg);

static inline int read_head(decoder *d, int *major, int *ai, uint64_t *arg)
{
    /* Most heads are one byte: a small integer, a short string, array or map. */
    if (d->p < d->end && (*d->p & 31) < 24) {
        unsigned char ib = *d->p++;
        *major = ib >> 5;
        *ai = ib & 31;
        *arg = (uint64_t)*ai;
        return 0;
    }
    return read_head_long(d, major, ai, arg);
}

static int read_head_long(decoder *d, int *major, int *ai, uint64_t *arg)
{
    size_t off = offset_of(d, d->p);
    if (d->p >= d->end) {
        return fail(d, off, "unexpected end of input: a value was expected");
    }
    unsigned char ib = *d->p++;
    *major = ib >> 5;
    *ai = ib & 31;
    if (*ai <= 27) {
        size_t n = (size_t)1 << (*ai - 24);
        if (remaining(d) < n) {
            return fail(d, off, "unexpected end of input: the head needs %zu more bytes, %zu left",
                        n, remaining(d));
        }
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            v = v << 8 | d->p[i];
        }
        d->p += n;
        *arg = v;
        return 0;
    }
    if (*ai == 31) {
        if (*major == 0 || *major == 1 || *major == 6) {
            return fail(d, off, "%s cannot have an indefinite length", major_names[*major]);
        }
        *arg = 0;
        return 0;
    }
    return fail(d, off, "reserved additional information %d in the initial byte 0x%02x", *ai, ib);
}

/* Pushes the configuration value of a slot (a class, a sentinel, a field name). */
static inline void push_config(decoder *d, int slot)
{
    lua_rawgeti(d->L, SDB_CBOR_CONFIG_UPVALUE, slot);
}

static inline void set_class(decoder *d, int slot)
{
    push_config(d, slot);
    lua_setmetatable(d->L, -2);
}

/* Pushes the byte (major 2) or text (major 3) string whose head was just read at off. */
static int push_string(decoder *d, int major, int ai, uint64_t len, size_t off)
{
    lua_State *L = d->L;
    const char *what = major == 3 ? "text string" : "byte string";
    if (ai != 31) {
        if (len > remaining(d)) {
            return fail(d, off, "%s of %llu bytes is longer than the %zu bytes left", what,
                        (unsigned long long)len, remaining(d));
        }
        if (major == 3) {
            size_t bad = sdb_utf8_check(d->p, (size_t)len);
            if (bad != len) {
                return fail(d, offset_of(d, d->p) + bad, "invalid UTF-8 in a text string");
            }
        }
        lua_pushlstring(L, (const char *)d->p, (size_t)len);
        d->p += len;
        return 0;
    }
    /* Indefinite length: definite chunks of the same major type up to a break. */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        size_t coff = offset_of(d, d->p);
        if (d->p >= d->end) {
            return fail(d, coff,
                        "unexpected end of input: the indefinite-length %s that starts at offset "
                        "%zu has no break code",
                        what, off);
        }
        if (*d->p == 0xff) {
            d->p++;
            break;
        }
        int m, a;
        uint64_t n;
        if (read_head(d, &m, &a, &n)) {
            return -1;
        }
        if (m != major) {
            return fail(d, coff, "a chunk of an indefinite-length %s is %s", what, major_names[m]);
        }
        if (a == 31) {
            return fail(d, coff, "an indefinite-length %s chunk inside an indefinite-length %s",
                        what, what);
        }
        if (n > remaining(d)) {
            return fail(d, coff, "%s chunk of %llu bytes is longer than the %zu bytes left", what,
                        (unsigned long long)n, remaining(d));
        }
        if (major == 3) {
            /* RFC 8949 3.2.3: a code point never spans two chunks, so each chunk is valid alone. */
            size_t bad = sdb_utf8_check(d->p, (size_t)n);
            if (bad != n) {
                return fail(d, offset_of(d, d->p) + bad, "invalid UTF-8 in a text string chunk");
            }
        }
        luaL_addlstring(&b, (const char *)d->p, (size_t)n);
        d->p += n;
    }
    luaL_pushresult(&b);
    return 0;
}

/* Reads a text string (the content of a tag) and pushes it. */
static int read_text(decoder *d, const char *what)
{
    int major, ai;
    uint64_t arg;
    size_t off = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &arg)) {
        return -1;
    }
    if (major != 3) {
        return fail(d, off, "%s must be a text string, got %s", what, major_names[major]);
    }
    return push_string(d, 3, ai, arg, off);
}

/* An array or map in progress: its remaining items, or an indefinite length ended by a break. */
typedef struct seq {
    uint64_t left;
    int indefinite;
    size_t off;
} seq;

/* Reads the head of an array (the content of a tag) and checks its length against [min, max]. */
static int seq_open(decoder *d, seq *s, const char *what, uint64_t min, uint64_t max)
{
    int major, ai;
    s->off = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &s->left)) {
        return -1;
    }
    if (major != 4) {
        return fail(d, s->off, "%s must be an array, got %s", what, major_names[major]);
    }
    s->indefinite = (ai == 31);
    if (!s->indefinite && (s->left < min || s->left > max)) {
        return fail(d, s->off, "%s must be an array of %llu to %llu items, got %llu", what,
                    (unsigned long long)min, (unsigned long long)max, (unsigned long long)s->left);
    }
    return 0;
}

/* 1 when another item follows, 0 at the end (the break is consumed), -1 on an error. */
static int seq_next(decoder *d, seq *s)
{
    if (!s->indefinite) {
        if (s->left == 0) {
            return 0;
        }
        s->left--;
        return 1;
    }
    if (d->p >= d->end) {
        return fail(d, offset_of(d, d->p),
                    "unexpected end of input: the indefinite-length item that starts at offset %zu "
                    "has no break code",
                    s->off);
    }
    if (*d->p == 0xff) {
        d->p++;
        return 0;
    }
    return 1;
}

/* For tag contents of a fixed size: the next item must exist (1) or the array must end (0). */
static int seq_expect(decoder *d, seq *s, int more, const char *what)
{
    size_t off = offset_of(d, d->p);
    int r = seq_next(d, s);
    if (r < 0) {
        return -1;
    }
    if (r != more) {
        return fail(d, off, "%s has %s items", what, more ? "too few" : "too many");
    }
    return 0;
}

/* Fills the table on top of the stack with the items of an array whose head was just read. */
static int fill_array(decoder *d, int ai, uint64_t n, size_t off, int depth)
{
    lua_State *L = d->L;
    if (ai != 31) {
        for (lua_Integer i = 1; i <= (lua_Integer)n; i++) {
            if (decode_value(d, depth)) {
                return -1;
            }
            lua_rawseti(L, -2, i);
        }
        return 0;
    }
    seq s = {0, 1, off};
    int r;
    lua_Integer i = 0;
    while ((r = seq_next(d, &s)) == 1) {
        if (decode_value(d, depth)) {
            return -1;
        }
        lua_rawseti(L, -2, ++i);
    }
    return r;
}

static int check_nesting(decoder *d, size_t off, int depth)
{
    if (depth >= SDB_CBOR_MAX_DEPTH) {
        return fail(d, off, "nesting deeper than %d levels", SDB_CBOR_MAX_DEPTH);
    }
    /* A level holds at most 6 stack slots (a range holds more, over two levels of depth). */
    if (!lua_checkstack(d->L, 8)) {
        return fail(d, off, "Lua stack overflow");
    }
    return 0;
}

/* Pushes a new table for an array of n items (n checked against the input left). */
static int new_array(decoder *d, int ai, uint64_t n, size_t off)
{
    if (ai != 31 && n > remaining(d)) {
        return fail(d, off, "array of %llu items is longer than the %zu bytes left",
                    (unsigned long long)n, remaining(d));
    }
    if (ai != 31 && n > INT_MAX) {
        return fail(d, off, "array of %llu items is too large", (unsigned long long)n);
    }
    lua_createtable(d->L, ai != 31 ? (int)n : 0, 0);
    return 0;
}

static int decode_array(decoder *d, int ai, uint64_t n, size_t off, int depth, int class_slot)
{
    if (check_nesting(d, off, depth) || new_array(d, ai, n, off) ||
        fill_array(d, ai, n, off, depth + 1)) {
        return -1;
    }
    set_class(d, class_slot);
    return 0;
}

/* Pushes a map key: a text string or an integer. */
static int decode_key(decoder *d)
{
    int major, ai;
    uint64_t arg;
    size_t off = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &arg)) {
        return -1;
    }
    switch (major) {
    case 3:
        return push_string(d, 3, ai, arg, off);
    case 0:
    case 1:
        if (arg > INT64_MAX) {
            return fail(d, off, "map key is an integer out of the 64-bit signed range");
        }
        lua_pushinteger(d->L, major == 0 ? (lua_Integer)arg : -1 - (lua_Integer)arg);
        return 0;
    default:
        if (major == 7 && ai == 31) {
            return fail(d, off, "unexpected break code in place of a map key");
        }
        return fail(d, off, "map key is %s: object keys must be text strings (or integers)",
                    major_names[major]);
    }
}

static int decode_map(decoder *d, int ai, uint64_t n, size_t off, int depth)
{
    lua_State *L = d->L;
    if (check_nesting(d, off, depth)) {
        return -1;
    }
    if (ai != 31 && n > remaining(d) / 2) {
        return fail(d, off, "map of %llu pairs is longer than the %zu bytes left",
                    (unsigned long long)n, remaining(d));
    }
    if (ai != 31 && n > INT_MAX) {
        return fail(d, off, "map of %llu pairs is too large", (unsigned long long)n);
    }
    lua_createtable(L, 0, ai != 31 ? (int)n : 0);
    seq s = {n, ai == 31, off};
    int r;
    while ((r = seq_next(d, &s)) == 1) {
        if (decode_key(d)) {
            return -1;
        }
        if (s.indefinite && d->p < d->end && *d->p == 0xff) {
            return fail(d, offset_of(d, d->p),
                        "indefinite-length map ends after a key without "
                        "a value");
        }
        if (decode_value(d, depth + 1)) {
            return -1;
        }
        lua_rawset(L, -3);
    }
    return r;
}

/* Calls a string parser of the configuration (under pcall) on the string on top of the stack. */
static int call_parser(decoder *d, int slot, size_t off, const char *what)
{
    lua_State *L = d->L;
    push_config(d, slot);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *msg = NULL;
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushliteral(L, "message");
            lua_rawget(L, -2);
            msg = lua_tostring(L, -1);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            msg = lua_tostring(L, -1);
        }
        return fail(d, off, "invalid %s: %s", what, msg ? msg : "the parser raised an error");
    }
    if (lua_isnil(L, -1)) {
        return fail(d, off, "invalid %s: the parser returned nil", what);
    }
    return 0;
}

/* Pushes a new instance of a class with `fields` fields. */
static inline void new_instance(decoder *d, int fields)
{
    lua_createtable(d->L, 0, fields);
}

/* Sets the field named by slot of the table below the value on top. */
static inline void set_field(decoder *d, int slot)
{
    push_config(d, slot);
    lua_insert(d->L, -2);
    lua_rawset(d->L, -3);
}

static int read_integer(decoder *d, const char *what, int64_t *out)
{
    int major, ai;
    uint64_t arg;
    size_t off = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &arg)) {
        return -1;
    }
    if ((major != 0 && major != 1) || arg > INT64_MAX) {
        return fail(d, off, "%s must be a 64-bit integer", what);
    }
    *out = major == 0 ? (int64_t)arg : -1 - (int64_t)arg;
    return 0;
}

/* Tag 12 (datetime) and 14 (duration): [seconds, nanoseconds], trailing zeros may be left out. */
static int decode_time(decoder *d, size_t off, int duration)
{
    const char *what = duration ? "a duration (tag 14)" : "a datetime (tag 12)";
    int64_t parts[2] = {0, 0};
    seq s;
    if (seq_open(d, &s, what, 0, 2)) {
        return -1;
    }
    for (int i = 0;; i++) {
        int r = seq_next(d, &s);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        if (i == 2) {
            return fail(d, off, "%s must be an array of at most 2 integers", what);
        }
        if (read_integer(d, what, &parts[i])) {
            return -1;
        }
    }
    if (parts[1] < 0 || parts[1] > 999999999) {
        return fail(d, off, "%s has nanoseconds out of range: %lld", what, (long long)parts[1]);
    }
    if (duration && parts[0] < 0) {
        return fail(d, off, "%s has negative seconds", what);
    }
    new_instance(d, 2);
    lua_pushinteger(d->L, parts[0]);
    set_field(d, SDB_K_SECONDS);
    lua_pushinteger(d->L, parts[1]);
    set_field(d, SDB_K_NANOSECONDS);
    set_class(d, duration ? SDB_DURATION : SDB_DATETIME);
    return 0;
}

/* Tag 37: 16 bytes, pushed as a Uuid with the canonical lowercase text. */
static int decode_uuid(decoder *d, size_t off)
{
    int major, ai;
    uint64_t len;
    size_t boff = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &len)) {
        return -1;
    }
    if (major != 2) {
        return fail(d, boff, "a UUID (tag 37) must be a byte string, got %s", major_names[major]);
    }
    if (push_string(d, 2, ai, len, boff)) {
        return -1;
    }
    size_t n;
    const unsigned char *u = (const unsigned char *)lua_tolstring(d->L, -1, &n);
    if (n != 16) {
        return fail(d, off, "a UUID (tag 37) must be 16 bytes, got %zu", n);
    }
    static const char hex[] = "0123456789abcdef";
    char text[36];
    for (size_t i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text[j++] = '-';
        }
        text[j++] = hex[u[i] >> 4];
        text[j++] = hex[u[i] & 15];
    }
    lua_pop(d->L, 1);
    new_instance(d, 1);
    lua_pushlstring(d->L, text, sizeof(text));
    set_field(d, SDB_K_VALUE);
    set_class(d, SDB_UUID);
    return 0;
}

/* Tag 8: [table, id], or a string "tb:id" given to the RecordID parser. */
static int decode_record_id(decoder *d, size_t off, int depth)
{
    if (d->p < d->end && (*d->p >> 5) == 3) {
        if (read_text(d, "a record id (tag 8)")) {
            return -1;
        }
        return call_parser(d, SDB_PARSE_RECORD_ID, off, "record id string (tag 8)");
    }
    seq s;
    if (seq_open(d, &s, "a record id (tag 8)", 2, 2)) {
        return -1;
    }
    new_instance(d, 2);
    push_config(d, SDB_K_TB);
    if (seq_expect(d, &s, 1, "a record id (tag 8)") ||
        read_text(d, "the table of a record id (tag 8)")) {
        return -1;
    }
    lua_rawset(d->L, -3);
    push_config(d, SDB_K_ID);
    if (seq_expect(d, &s, 1, "a record id (tag 8)") || decode_value(d, depth + 1)) {
        return -1;
    }
    lua_rawset(d->L, -3);
    if (seq_expect(d, &s, 0, "a record id (tag 8)")) {
        return -1;
    }
    set_class(d, SDB_RECORD_ID);
    return 0;
}

/* Tag 49: [lower, upper], each a tag 50 (included) or 51 (excluded) bound, or null (unbounded). */
static int decode_range(decoder *d, int depth)
{
    static const int slots[2] = {SDB_K_LOWER, SDB_K_UPPER};
    seq s;
    if (seq_open(d, &s, "a range (tag 49)", 2, 2)) {
        return -1;
    }
    new_instance(d, 2);
    for (int i = 0; i < 2; i++) {
        if (seq_expect(d, &s, 1, "a range (tag 49)")) {
            return -1;
        }
        int major, ai;
        uint64_t arg;
        size_t boff = offset_of(d, d->p);
        if (read_head(d, &major, &ai, &arg)) {
            return -1;
        }
        if (major == 7 && ai == 22) {
            continue; /* unbounded: the field stays absent */
        }
        if (major != 6 || (arg != SDB_TAG_BOUND_INCLUDED && arg != SDB_TAG_BOUND_EXCLUDED)) {
            return fail(d, boff, "a range bound must be tag 50, tag 51 or null");
        }
        push_config(d, slots[i]);
        new_instance(d, 2);
        lua_pushboolean(d->L, arg == SDB_TAG_BOUND_INCLUDED);
        set_field(d, SDB_K_INCLUSIVE);
        push_config(d, SDB_K_VALUE);
        if (decode_value(d, depth + 2)) {
            return -1;
        }
        lua_rawset(d->L, -3);
        lua_rawset(d->L, -3);
    }
    if (seq_expect(d, &s, 0, "a range (tag 49)")) {
        return -1;
    }
    set_class(d, SDB_RANGE);
    return 0;
}

/* Tag 55: [bucket, key]. */
static int decode_file(decoder *d)
{
    const char *what = "a file pointer (tag 55)";
    seq s;
    if (seq_open(d, &s, what, 2, 2)) {
        return -1;
    }
    new_instance(d, 2);
    push_config(d, SDB_K_BUCKET);
    if (seq_expect(d, &s, 1, what) || read_text(d, "the bucket of a file pointer (tag 55)")) {
        return -1;
    }
    lua_rawset(d->L, -3);
    push_config(d, SDB_K_KEY);
    if (seq_expect(d, &s, 1, what) || read_text(d, "the key of a file pointer (tag 55)") ||
        (lua_rawset(d->L, -3), seq_expect(d, &s, 0, what))) {
        return -1;
    }
    set_class(d, SDB_FILE);
    return 0;
}

/* Whether the value at idx is a Geometry of the kind (0..6), or of any kind when kind < 0. */
static int is_geometry(decoder *d, int idx, int kind)
{
    lua_State *L = d->L;
    int ok = 0;
    if (lua_getmetatable(L, idx)) {
        push_config(d, SDB_GEOMETRY);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (ok && kind >= 0) {
        push_config(d, SDB_K_KIND);
        lua_rawget(L, idx < 0 ? idx - 1 : idx);
        push_config(d, SDB_K_GEOMETRY + kind);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return ok;
}

/* Tags 88..94: a point is [x, y]; the others are arrays of the geometries they are made of. */
static int decode_geometry(decoder *d, uint64_t tag, int depth)
{
    /* The kind of the items of each geometry kind: -1 any geometry, -2 numbers (a point). */
    static const int item_kind[7] = {-2, 0, 1, 0, 1, 2, -1};
    static const char *const names[7] = {"a geometry point",     "a geometry line",
                                         "a geometry polygon",   "a geometry multipoint",
                                         "a geometry multiline", "a geometry multipolygon",
                                         "a geometry collection"};
    lua_State *L = d->L;
    int kind = (int)(tag - SDB_TAG_GEOMETRY_FIRST);
    new_instance(d, 2);
    push_config(d, SDB_K_GEOMETRY + kind);
    set_field(d, SDB_K_KIND);
    push_config(d, SDB_K_COORDINATES);
    int major, ai;
    uint64_t n;
    size_t coff = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &n)) {
        return -1;
    }
    if (major != 4) {
        return fail(d, coff, "%s (tag %llu) must be an array, got %s", names[kind],
                    (unsigned long long)tag, major_names[major]);
    }
    if (decode_array(d, ai, n, coff, depth + 1, SDB_ARRAY_MT)) {
        return -1;
    }
    lua_Integer count = (lua_Integer)lua_rawlen(L, -1);
    if (item_kind[kind] == -2 && count != 2) {
        return fail(d, coff, "a geometry point (tag 88) must be an array of 2 numbers");
    }
    for (lua_Integer i = 1; i <= count; i++) {
        lua_rawgeti(L, -1, i);
        int ok = item_kind[kind] == -2 ? lua_type(L, -1) == LUA_TNUMBER
                                       : is_geometry(d, -1, item_kind[kind]);
        lua_pop(L, 1);
        if (!ok) {
            static const char *const items[7] = {
                "numbers",        "geometry points",   "geometry lines", "geometry points",
                "geometry lines", "geometry polygons", "geometries"};
            return fail(d, coff, "%s (tag %llu) must be an array of %s", names[kind],
                        (unsigned long long)tag, items[kind]);
        }
    }
    lua_rawset(L, -3);
    set_class(d, SDB_GEOMETRY);
    return 0;
}

/* A tag whose content is one text string kept as field `key` of an instance of class `slot`
 * (Table, Decimal, Future). */
static int decode_text_instance(decoder *d, int key, int slot, const char *what)
{
    new_instance(d, 1);
    push_config(d, key);
    if (read_text(d, what)) {
        return -1;
    }
    lua_rawset(d->L, -3);
    set_class(d, slot);
    return 0;
}

/* Pushes the value of a tag whose head (at off) was just read. */
static int decode_tag(decoder *d, uint64_t tag, size_t off, int depth)
{
    lua_State *L = d->L;
    if (check_nesting(d, off, depth)) {
        return -1;
    }
    switch (tag) {
    case SDB_TAG_DATETIME_TEXT:
        return read_text(d, "a datetime (tag 0)") ||
               call_parser(d, SDB_PARSE_DATETIME, off, "datetime string (tag 0)");
    case SDB_TAG_NONE:
        if (decode_value(d, depth + 1)) {
            return -1;
        }
        lua_pop(L, 1);
        push_config(d, SDB_NONE);
        return 0;
    case SDB_TAG_TABLE:
        return decode_text_instance(d, SDB_K_NAME, SDB_TABLE, "a table name (tag 7)");
    case SDB_TAG_RECORD_ID:
        return decode_record_id(d, off, depth);
    case SDB_TAG_UUID_TEXT:
        return read_text(d, "a UUID (tag 9)") ||
               call_parser(d, SDB_PARSE_UUID, off, "UUID string (tag 9)");
    case SDB_TAG_DECIMAL:
        return decode_text_instance(d, SDB_K_VALUE, SDB_DECIMAL, "a decimal (tag 10)");
    case SDB_TAG_DATETIME:
        return decode_time(d, off, 0);
    case SDB_TAG_DURATION_TEXT:
        return read_text(d, "a duration (tag 13)") ||
               call_parser(d, SDB_PARSE_DURATION, off, "duration string (tag 13)");
    case SDB_TAG_DURATION:
        return decode_time(d, off, 1);
    case SDB_TAG_FUTURE:
        return decode_text_instance(d, SDB_K_BODY, SDB_FUTURE, "a future (tag 15)");
    case SDB_TAG_UUID:
        return decode_uuid(d, off);
    case SDB_TAG_RANGE:
        return decode_range(d, depth);
    case SDB_TAG_FILE:
        return decode_file(d);
    case SDB_TAG_SET: {
        int major, ai;
        uint64_t n;
        size_t aoff = offset_of(d, d->p);
        if (read_head(d, &major, &ai, &n)) {
            return -1;
        }
        if (major != 4) {
            return fail(d, aoff, "a set (tag 56) must be an array, got %s", major_names[major]);
        }
        /* The set is one level, like the Set table the encoder walks. */
        if (new_array(d, ai, n, aoff) || fill_array(d, ai, n, aoff, depth + 1)) {
            return -1;
        }
        set_class(d, SDB_SET);
        return 0;
    }
    default:
        if (tag >= SDB_TAG_GEOMETRY_FIRST && tag <= SDB_TAG_GEOMETRY_LAST) {
            return decode_geometry(d, tag, depth);
        }
        /* Any other tag: Tagged { tag, value }, written back the same by the encoder. Tag numbers
         * of 2^63 and more keep their 64 bits as a negative integer. */
        new_instance(d, 2);
        lua_pushinteger(L, (lua_Integer)tag);
        set_field(d, SDB_K_TAG);
        push_config(d, SDB_K_VALUE);
        if (decode_value(d, depth + 1)) {
            return -1;
        }
        lua_rawset(L, -3);
        set_class(d, SDB_TAGGED);
        return 0;
    }
}

/* IEEE 754 half precision to double. */
static double half_to_double(unsigned h)
{
    unsigned exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0) {
        v = (double)mant * (1.0 / 16777216.0); /* mant * 2^-24 */
    } else if (exp == 31) {
        v = mant == 0 ? HUGE_VAL : NAN;
    } else {
        v = (double)(mant | 0x400) * (double)(1u << exp) * (1.0 / 33554432.0); /* 2^(exp-25) */
    }
    return (h & 0x8000) ? -v : v;
}

static int decode_value(decoder *d, int depth)
{
    lua_State *L = d->L;
    int major, ai;
    uint64_t arg;
    size_t off = offset_of(d, d->p);
    if (read_head(d, &major, &ai, &arg)) {
        return -1;
    }
    switch (major) {
    case 0:
    case 1:
        if (arg > INT64_MAX) {
            return fail(d, off, "integer out of the 64-bit signed range");
        }
        lua_pushinteger(L, major == 0 ? (lua_Integer)arg : -1 - (lua_Integer)arg);
        return 0;
    case 2:
        new_instance(d, 1);
        push_config(d, SDB_K_DATA);
        if (push_string(d, 2, ai, arg, off)) {
            return -1;
        }
        lua_rawset(L, -3);
        set_class(d, SDB_BYTES);
        return 0;
    case 3:
        return push_string(d, 3, ai, arg, off);
    case 4:
        return decode_array(d, ai, arg, off, depth, SDB_ARRAY_MT);
    case 5:
        return decode_map(d, ai, arg, off, depth);
    case 6:
        return decode_tag(d, arg, off, depth);
    default:
        switch (ai) {
        case 20:
        case 21:
            lua_pushboolean(L, ai == 21);
            return 0;
        case 22:
            push_config(d, SDB_NULL);
            return 0;
        case 23:
            push_config(d, SDB_NONE); /* undefined */
            return 0;
        case 25:
            lua_pushnumber(L, (lua_Number)half_to_double((unsigned)arg));
            return 0;
        case 26: {
            uint32_t bits = (uint32_t)arg;
            float f;
            memcpy(&f, &bits, sizeof(f));
            lua_pushnumber(L, (lua_Number)f);
            return 0;
        }
        case 27: {
            double v;
            memcpy(&v, &arg, sizeof(v));
            lua_pushnumber(L, (lua_Number)v);
            return 0;
        }
        case 31:
            return fail(d, off, "unexpected break code (0xff) outside an indefinite-length item");
        default:
            if (ai == 24 && arg < 32) {
                return fail(d, off, "simple value %llu in the two-byte form is not well-formed",
                            (unsigned long long)arg);
            }
            return fail(d, off, "unknown simple value %llu", (unsigned long long)arg);
        }
    }
}

int sdb_cbor_decode(lua_State *L)
{
    sdb_cbor_checkstate(L);
    luaL_checktype(L, 1, LUA_TSTRING);
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    lua_settop(L, 1);
    decoder d;
    d.L = L;
    d.start = d.p = (const unsigned char *)s;
    d.end = d.start + n;
    d.err_offset = 0;
    if (decode_value(&d, 0) == 0) {
        if (d.p == d.end) {
            return 1;
        }
        fail(&d, offset_of(&d, d.p), "%zu trailing bytes after the value", remaining(&d));
    }
    lua_settop(L, 1);
    lua_pushnil(L);
    lua_pushstring(L, d.message);
    lua_pushinteger(L, (lua_Integer)d.err_offset);
    return 3;
}
