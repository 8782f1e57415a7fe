/* SHA-1 (FIPS 180-4) and base64 (RFC 4648), just for the WebSocket handshake's
 * Sec-WebSocket-Accept check: small enough to own instead of pulling a crypto library into the
 * module's link line. SHA-1 is not used for anything that needs collision resistance here. */
#include <string.h>

#include <lauxlib.h>

#include "sdb_core.h"
#include "sdb_transport.h"

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 80; i++) {
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sdb_sha1(const unsigned char *data, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    size_t full = len / 64 * 64;
    for (size_t i = 0; i < full; i += 64) {
        sha1_block(h, data + i);
    }
    /* The tail, the 0x80 marker and the 64-bit bit length fill one or two more blocks. */
    unsigned char tail[128];
    size_t rest = len - full;
    memset(tail, 0, sizeof tail);
    if (rest > 0) {
        memcpy(tail, data + full, rest);
    }
    tail[rest] = 0x80;
    size_t blocks = rest + 1 + 8 > 64 ? 2 : 1;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) {
        tail[blocks * 64 - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    for (size_t i = 0; i < blocks; i++) {
        sha1_block(h, tail + 64 * i);
    }
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

size_t sdb_base64(const unsigned char *data, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)data[i + 1] << 8;
        }
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

void sdb_ws_accept_value(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[20];
    /* Keys are 24 characters; a longer one (only from a test) is cut rather than overflowing. */
    unsigned char joined[64 + sizeof guid];
    if (key_len > 64) {
        key_len = 64;
    }
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, guid, sizeof guid - 1);
    sdb_sha1(joined, key_len + sizeof guid - 1, digest);
    sdb_base64(digest, 20, out);
}

/*** The SHA-1 digest of a string (20 raw bytes); exposed for the specs of the handshake.
 * @function sha1
 * @tparam string data
 * @treturn string the digest
 * @usage assert(core.sha1("abc"):byte(1) == 0xa9)
 */
static int lua_sha1(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    unsigned char digest[20];
    sdb_sha1((const unsigned char *)data, len, digest);
    lua_pushlstring(L, (const char *)digest, 20);
    return 1;
}

/*** The Sec-WebSocket-Accept value a server must answer to a Sec-WebSocket-Key.
 * @function ws_accept
 * @tparam string key the base64 key the client sent (at most 64 characters)
 * @treturn string base64(SHA-1(key .. "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
 * @usage core.ws_accept("dGhlIHNhbXBsZSBub25jZQ==") --> "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 */
static int lua_ws_accept(lua_State *L)
{
    size_t len;
    const char *key = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len <= 64, 1, "a key is at most 64 characters");
    char out[29];
    sdb_ws_accept_value(key, len, out);
    lua_pushstring(L, out);
    return 1;
}

void sdb_sha1_register(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"sha1", lua_sha1},
        {"ws_accept", lua_ws_accept},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
