/* RFC 6455 framing: the frame header writer, masking and the reader that turns the server's bytes
 * into whole messages and control frames. These are pure functions over buffers, so the specs can
 * feed them canned bytes through core.ws_frame and core.ws_reader: the connections in ws.c use the
 * very same code. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "sdb_core.h"
#include "sdb_transport.h"
#include "sdb_utf8.h"

/* A fragmented message's buffer larger than this is freed once the message is delivered, so one
 * huge message does not pin its memory for the connection's lifetime. */
#define KEEP_MESSAGE_BUFFER ((size_t)1 << 20)

size_t sdb_ws_frame_header(unsigned char *out, int fin, int opcode, uint64_t len,
                           const unsigned char *mask)
{
    size_t n = 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
    unsigned char mask_bit = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (unsigned char)(mask_bit | len);
    } else if (len <= 0xFFFF) {
        out[n++] = mask_bit | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = mask_bit | 127;
        for (int i = 7; i >= 0; i--) {
            out[n++] = (unsigned char)(len >> (8 * i));
        }
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void sdb_ws_mask(unsigned char *dst, const unsigned char *src, size_t n, const unsigned char key[4],
                 size_t offset)
{
    unsigned char k[4];
    for (int i = 0; i < 4; i++) {
        k[i] = key[(offset + (size_t)i) & 3];
    }
    /* Eight bytes at a time: masking a 10 MiB frame byte by byte would cost more than sending it.
     */
    uint32_t k32;
    memcpy(&k32, k, 4);
    uint64_t k64 = (uint64_t)k32 << 32 | k32;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k64;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ k[i & 3];
    }
}

void sdb_ws_reader_init(sdb_ws_reader *r, size_t max_message)
{
    memset(r, 0, sizeof *r);
    r->max_message = max_message;
}

void sdb_ws_reader_free(sdb_ws_reader *r)
{
    sdb_bytes_free(&r->in);
    sdb_bytes_free(&r->msg);
    r->pos = 0;
}

int sdb_ws_reader_space(sdb_ws_reader *r, size_t n)
{
    if (r->pos > 0) {
        sdb_bytes_consume(&r->in, r->pos);
        r->pos = 0;
    }
    return sdb_bytes_reserve(&r->in, n);
}

/* Whether a close code may appear in a close frame (RFC 6455 7.4 and the IANA registry). */
static int close_code_valid(int code)
{
    if (code >= 3000 && code <= 4999) {
        return 1;
    }
    switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
    case 1012:
    case 1013:
    case 1014:
        return 1;
    default:
        return 0;
    }
}

static int fail(sdb_ws_reader *r, int code, const char *message, int *close_code,
                const char **error)
{
    r->failed = code;
    *close_code = code;
    *error = message;
    return -1;
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    return sdb_utf8_check(s, n) == n;
}

int sdb_ws_reader_next(sdb_ws_reader *r, sdb_ws_item *item, int *close_code, const char **error)
{
    if (r->failed) {
        return fail(r, r->failed, "the connection already failed", close_code, error);
    }
    if (r->msg_opcode == 0 && r->msg.len > 0) {
        /* The previous call delivered a reassembled message: its bytes are no longer needed. */
        r->msg.len = 0;
        if (r->msg.cap > KEEP_MESSAGE_BUFFER) {
            sdb_bytes_free(&r->msg);
        }
    }
    for (;;) {
        size_t avail = r->in.len - r->pos;
        const unsigned char *p = r->in.data + r->pos;
        if (avail < 2) {
            r->want = 2;
            return 0;
        }
        int fin = p[0] & 0x80;
        int opcode = p[0] & 0x0F;
        int len7 = p[1] & 0x7F;
        /* Everything the first two bytes can show is checked before waiting for the rest, so a
         * broken stream fails at once rather than after a length it made up. */
        if (p[0] & 0x70) {
            return fail(r, 1002, "the server set reserved bits, but no extension was negotiated",
                        close_code, error);
        }
        if (p[1] & 0x80) {
            return fail(r, 1002, "the server sent a masked frame", close_code, error);
        }
        int control = opcode & 0x08;
        if (opcode != SDB_WS_OP_CONT && opcode != SDB_WS_OP_TEXT && opcode != SDB_WS_OP_BINARY &&
            opcode != SDB_WS_OP_CLOSE && opcode != SDB_WS_OP_PING && opcode != SDB_WS_OP_PONG) {
            return fail(r, 1002, "the server sent a frame with an unknown opcode", close_code,
                        error);
        }
        if (control && !fin) {
            return fail(r, 1002, "the server sent a fragmented control frame", close_code, error);
        }
        if (control && len7 > 125) {
            return fail(r, 1002, "the server sent a control frame longer than 125 bytes",
                        close_code, error);
        }
        if (opcode == SDB_WS_OP_CONT && r->msg_opcode == 0) {
            return fail(r, 1002, "the server sent a continuation frame with no message to continue",
                        close_code, error);
        }
        if ((opcode == SDB_WS_OP_TEXT || opcode == SDB_WS_OP_BINARY) && r->msg_opcode != 0) {
            return fail(r, 1002, "the server began a message before finishing the fragmented one",
                        close_code, error);
        }
        size_t header = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        if (avail < header) {
            r->want = header;
            return 0;
        }
        uint64_t len = (uint64_t)len7;
        if (len7 == 126) {
            len = (uint64_t)p[2] << 8 | p[3];
        } else if (len7 == 127) {
            len = 0;
            for (int i = 0; i < 8; i++) {
                len = len << 8 | p[2 + i];
            }
            if (len >> 63) {
                return fail(r, 1002, "the server sent a frame length with the high bit set",
                            close_code, error);
            }
        }
        if (!control) {
            uint64_t total = len + (opcode == SDB_WS_OP_CONT ? r->msg.len : 0);
            if (total > r->max_message) {
                return fail(r, 1009, "the server sent a message larger than max_message",
                            close_code, error);
            }
        }
        if ((uint64_t)(avail - header) < len) {
            r->want = header + (size_t)len;
            return 0;
        }
        const unsigned char *payload = p + header;
        size_t n = (size_t)len;
        /* The payload stays where it is until the caller asks for space again. */
        r->pos += header + n;
        r->want = 0;
        memset(item, 0, sizeof *item);
        switch (opcode) {
        case SDB_WS_OP_PING:
        case SDB_WS_OP_PONG:
            item->kind = opcode == SDB_WS_OP_PING ? SDB_WS_ITEM_PING : SDB_WS_ITEM_PONG;
            item->data = payload;
            item->len = n;
            return 1;
        case SDB_WS_OP_CLOSE:
            if (n == 1) {
                return fail(r, 1002, "the server sent a close frame with a one-byte payload",
                            close_code, error);
            }
            item->kind = SDB_WS_ITEM_CLOSE;
            item->code = 1005;
            if (n >= 2) {
                item->code = payload[0] << 8 | payload[1];
                if (!close_code_valid(item->code)) {
                    return fail(r, 1002, "the server sent an invalid close code", close_code,
                                error);
                }
                item->data = payload + 2;
                item->len = n - 2;
                if (!valid_utf8(item->data, item->len)) {
                    return fail(r, 1007, "the server sent a close reason that is not UTF-8",
                                close_code, error);
                }
            }
            return 1;
        case SDB_WS_OP_TEXT:
        case SDB_WS_OP_BINARY:
            if (fin) {
                if (opcode == SDB_WS_OP_TEXT && !valid_utf8(payload, n)) {
                    return fail(r, 1007, "the server sent a text message that is not UTF-8",
                                close_code, error);
                }
                item->kind = SDB_WS_ITEM_MESSAGE;
                item->text = opcode == SDB_WS_OP_TEXT;
                item->data = payload;
                item->len = n;
                return 1;
            }
            r->msg_opcode = opcode;
            r->msg.len = 0;
            /* The first fragment is appended like the ones that follow it. */
            __attribute__((fallthrough));
        default: /* SDB_WS_OP_CONT, or the first fragment */
            if (sdb_bytes_append(&r->msg, payload, n) != 0) {
                return fail(r, 1011, "out of memory while reassembling a message", close_code,
                            error);
            }
            if (!fin) {
                continue;
            }
            item->kind = SDB_WS_ITEM_MESSAGE;
            item->text = r->msg_opcode == SDB_WS_OP_TEXT;
            item->data = r->msg.data;
            item->len = r->msg.len;
            r->msg_opcode = 0;
            if (item->text && !valid_utf8(item->data, item->len)) {
                return fail(r, 1007, "the server sent a text message that is not UTF-8", close_code,
                            error);
            }
            return 1;
        }
    }
}

/* ---- Lua bindings for the specs: the same functions the connections use ---- */

/*** Build one WebSocket frame (the function the connections use for every frame they send).
 * @function ws_frame
 * @tparam integer opcode 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong
 * @tparam string payload
 * @tparam[opt=true] boolean fin whether this is the final fragment
 * @tparam[opt] string mask four bytes to mask with (a client's frame); nil for an unmasked frame
 * @treturn string the frame's bytes
 * @usage local frame = core.ws_frame(2, "\1\2\3", true, "\0\0\0\0")
 */
static int lua_ws_frame(lua_State *L)
{
    lua_Integer opcode = luaL_checkinteger(L, 1);
    luaL_argcheck(L, opcode >= 0 && opcode <= 15, 1, "an opcode is between 0 and 15");
    size_t len;
    const char *payload = luaL_checklstring(L, 2, &len);
    int fin = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
    size_t mask_len = 0;
    const char *mask = luaL_optlstring(L, 4, NULL, &mask_len);
    luaL_argcheck(L, mask == NULL || mask_len == 4, 4, "a mask is 4 bytes");
    unsigned char header[SDB_WS_MAX_HEADER];
    size_t header_len =
        sdb_ws_frame_header(header, fin, (int)opcode, len, (const unsigned char *)mask);
    luaL_Buffer b;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, header_len + len);
    memcpy(out, header, header_len);
    if (mask) {
        sdb_ws_mask(out + header_len, (const unsigned char *)payload, len,
                    (const unsigned char *)mask, 0);
    } else if (len > 0) {
        memcpy(out + header_len, payload, len);
    }
    luaL_pushresultsize(&b, header_len + len);
    return 1;
}

typedef struct reader_ud {
    sdb_ws_reader reader;
} reader_ud;

/*** A frame reader over canned bytes, for the specs of the framing.
 * @function ws_reader
 * @tparam[opt=134217728] integer max_message the largest message accepted
 * @return a reader with `:feed(bytes)`
 * @usage local r = core.ws_reader(1024); local items = r:feed(bytes)
 */
static int lua_ws_reader(lua_State *L)
{
    lua_Integer max = luaL_optinteger(L, 1, (lua_Integer)SDB_DEFAULT_MAX_MESSAGE);
    luaL_argcheck(L, max >= 0, 1, "must not be negative");
    reader_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    sdb_ws_reader_init(&u->reader, (size_t)max);
    luaL_setmetatable(L, SDB_WS_READER_MT);
    return 1;
}

/*** Feed bytes to the reader; returns the items they complete, in order.
 * Items: `{type="message", data=, text=}`, `{type="ping", data=}`, `{type="pong", data=}`,
 * `{type="close", code=, reason=}`, and on a protocol violation a last
 * `{type="error", code=<close code to send>, message=}` (the reader stays failed).
 * @function ws_reader:feed
 * @tparam string bytes
 * @treturn table the items
 * @usage for _, item in ipairs(reader:feed(bytes)) do print(item.type) end
 */
static int reader_feed(lua_State *L)
{
    reader_ud *u = luaL_checkudata(L, 1, SDB_WS_READER_MT);
    size_t len;
    const char *bytes = luaL_checklstring(L, 2, &len);
    /* The reader's memory belongs to the userdata, so a Lua error below leaks nothing. */
    if (sdb_ws_reader_space(&u->reader, len) != 0) {
        return luaL_error(L, "out of memory");
    }
    memcpy(u->reader.in.data + u->reader.in.len, bytes, len);
    u->reader.in.len += len;
    lua_newtable(L);
    int n = 0;
    for (;;) {
        sdb_ws_item item;
        int code = 0;
        const char *error = NULL;
        int rc = sdb_ws_reader_next(&u->reader, &item, &code, &error);
        if (rc == 0) {
            break;
        }
        lua_createtable(L, 0, 3);
        if (rc < 0) {
            lua_pushliteral(L, "error");
            lua_setfield(L, -2, "type");
            lua_pushinteger(L, code);
            lua_setfield(L, -2, "code");
            lua_pushstring(L, error);
            lua_setfield(L, -2, "message");
            lua_rawseti(L, -2, ++n);
            break;
        }
        static const char *const names[] = {"message", "ping", "pong", "close"};
        lua_pushstring(L, names[item.kind]);
        lua_setfield(L, -2, "type");
        lua_pushlstring(L, (const char *)item.data, item.len);
        lua_setfield(L, -2, item.kind == SDB_WS_ITEM_CLOSE ? "reason" : "data");
        if (item.kind == SDB_WS_ITEM_MESSAGE) {
            lua_pushboolean(L, item.text);
            lua_setfield(L, -2, "text");
        } else if (item.kind == SDB_WS_ITEM_CLOSE) {
            lua_pushinteger(L, item.code);
            lua_setfield(L, -2, "code");
        }
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static int reader_gc(lua_State *L)
{
    reader_ud *u = luaL_checkudata(L, 1, SDB_WS_READER_MT);
    sdb_ws_reader_free(&u->reader);
    return 0;
}

void sdb_ws_frame_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"feed", reader_feed},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", reader_gc},
        {"__close", reader_gc},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, SDB_WS_READER_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    static const luaL_Reg functions[] = {
        {"ws_frame", lua_ws_frame},
        {"ws_reader", lua_ws_reader},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
