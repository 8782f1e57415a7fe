/*
 * Memory errors in the middle of surrealdb.cbor (encode, encode_rows, decode): a Lua host whose
 * allocator fails at the k-th allocation, for k = 1, 2, ... until a run no longer reaches the failure. Every run must end in a
 * Lua error or in success, never in a crash, and the state must still encode and decode afterwards
 * (run it under valgrind --leak-check=full or with libasan preloaded to see leaks and bad
 * accesses).
 *
 * spec/cbor_malformed_spec.lua builds and runs it:
 *   cc -std=c11 spec/support/cbor_oom.c $(pkg-config --cflags --libs lua5.4) -o cbor_oom
 *   LUA_PATH=... LUA_CPATH=... ./cbor_oom
 * It prints `N allocation points tried, M memory errors` and exits 0, or says what broke and
 * exits 1. This is a test host: the module itself never links liblua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

static long budget = -1; /* growing allocations left before failing; -1: unlimited */

static void *limited_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    if (nsize > osize || p == NULL) {
        if (budget == 0) {
            return NULL;
        }
        if (budget > 0) {
            budget--;
        }
    }
    return realloc(p, nsize);
}

/* Values of every kind, built once; WORK encodes and decodes them. */
static const char SETUP[] =
    "local cbor = require('surrealdb.cbor')\n"
    "local t = require('surrealdb.types')\n"
    "OOM_VALUE = { id = 1, name = 'x', list = { 1, 2.5, 's', t.null, t.NONE }, o = { a = { b = {} "
    "} },\n"
    "  r = t.RecordID('t', { 1, 'a' }), d = setmetatable({ seconds = 1, nanoseconds = 2 }, "
    "t.Datetime),\n"
    "  u = t.Uuid.parse('0190d4a4-9b3c-7d2e-8f00-123456789abc'),\n"
    "  rg = setmetatable({ lower = { value = 1, inclusive = true } }, t.Range),\n"
    "  s = setmetatable({ 1 }, t.Set), b = setmetatable({ data = '\\0' }, t.Bytes),\n"
    "  tg = setmetatable({ tag = 99, value = { 1 } }, t.Tagged), big = string.rep('x', 5000) }\n"
    "OOM_BYTES = cbor.encode(OOM_VALUE)\n"
    "OOM_EXTRA = { '\\xc0\\x78\\x1e2024-01-02T03:04:05.123456789Z', "
    "'\\x7f\\x61\\x61\\x62\\x62\\x62\\xff',\n"
    "  '\\x9f\\x01\\xbf\\x61\\x61\\x01\\xff\\xff', '\\xcd\\x62\\x31\\x73', '\\xc8\\x68person:1',\n"
    "  '\\xd8\\x59\\x82\\xd8\\x58\\x82\\x01\\x02\\xd8\\x58\\x82\\x03\\x04' }\n"
    /* encode_rows: 300 rows cut into batches of at most 4000 bytes (a batch of more than 24
     * rows, so the reserved head shrinks), and what each batch must be */
    "OOM_ROWS = {}\n"
    "for i = 1, 300 do OOM_ROWS[i] = { id = i, name = ('n'):rep(i % 50), v = OOM_VALUE.list } end\n"
    "OOM_BATCHES = {}\n"
    "local first = 1\n"
    "while first <= #OOM_ROWS do\n"
    "  local batch, n = cbor.encode_rows(OOM_ROWS, first, 1000, 4000)\n"
    "  OOM_BATCHES[#OOM_BATCHES + 1] = { first = first, n = n, bytes = batch.bytes }\n"
    "  first = first + n\n"
    "end\n"
    "OOM_WRAPPED = cbor.encode({ rows = cbor.encode_rows(OOM_ROWS, 1, 10, 100000) })\n"
    /* 200 rows of 1 KB in one batch: WORK encodes them first, so that its buffer growths happen
     * inside encode_rows (the bytes expected are put together from the rows one by one, which
     * keeps the buffer small until then) */
    "OOM_BIG = {}\n"
    "local parts = { '\\x98\\xc8' }\n"
    "for i = 1, 200 do\n"
    "  OOM_BIG[i] = { i = i, s = ('z'):rep(1000) }\n"
    "  parts[#parts + 1] = cbor.encode(OOM_BIG[i])\n"
    "end\n"
    "OOM_BIG_BYTES = table.concat(parts)\n"
    "assert(#OOM_BATCHES > 2)\n";

static const char WORK[] = "local cbor = require('surrealdb.cbor')\n"
                           "local big, n = cbor.encode_rows(OOM_BIG, 1, 1000, 1 << 20)\n"
                           "assert(n == 200 and big.bytes == OOM_BIG_BYTES)\n"
                           "assert(cbor.encode(OOM_VALUE) == OOM_BYTES)\n"
                           "assert(#cbor.encode(string.rep('y', 100000)) == 100005)\n"
                           "local v = cbor.decode(OOM_BYTES)\n"
                           "assert(v.list[3] == 's')\n"
                           "for _, b in ipairs(OOM_EXTRA) do cbor.decode(b) end\n"
                           "assert(not pcall(cbor.encode, { OOM_VALUE, print }))\n"
                           "assert(not pcall(cbor.decode, OOM_BYTES:sub(1, -2)))\n"
                           "for _, b in ipairs(OOM_BATCHES) do\n"
                           "  local enc, n = cbor.encode_rows(OOM_ROWS, b.first, 1000, 4000)\n"
                           "  assert(n == b.n and enc.bytes == b.bytes)\n"
                           "end\n"
                           "local enc = cbor.encode_rows(OOM_ROWS, 1, 10, 100000)\n"
                           "assert(cbor.encode({ rows = enc }) == OOM_WRAPPED)\n"
                           "assert(select(2, cbor.encode_rows(OOM_ROWS, 300, 1, 5)) == 0)\n"
                           "assert(not pcall(cbor.encode_rows, { 1, print }, 1, 2, 100))\n";

static const char CHECK[] = "local cbor = require('surrealdb.cbor')\n"
                            "assert(cbor.decode(cbor.encode({ a = { 1, 2 } })).a[2] == 2)\n"
                            "assert(cbor.encode(OOM_VALUE) == OOM_BYTES)\n"
                            "local b = OOM_BATCHES[2]\n"
                            "assert(cbor.encode_rows(OOM_ROWS, b.first, 1000, 4000).bytes == b.bytes)\n";

int main(void)
{
    lua_State *L = lua_newstate(limited_alloc, NULL);
    if (L == NULL) {
        return 1;
    }
    luaL_openlibs(L);
    if (luaL_dostring(L, SETUP) != LUA_OK) {
        fprintf(stderr, "cbor_oom: setup failed: %s\n", lua_tostring(L, -1));
        return 1;
    }
    long k, failures = 0;
    for (k = 1; k < 1000000; k++) {
        if (luaL_loadstring(L, WORK) != LUA_OK) {
            fprintf(stderr, "cbor_oom: %s\n", lua_tostring(L, -1));
            return 1;
        }
        budget = k;
        int rc = lua_pcall(L, 0, 0, 0);
        budget = -1;
        if (rc == LUA_OK) {
            break; /* the budget no longer runs out: every allocation point was tried */
        }
        /* A memory error, raised by Lua or reported by the codec (an EncodeError or DecodeError
         * that says so); anything else is a bug. */
        const char *msg = lua_tostring(L, -1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "message");
            msg = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        if (rc != LUA_ERRMEM && (msg == NULL || strstr(msg, "memory") == NULL)) {
            fprintf(stderr, "cbor_oom: allocation %ld: error %d: %s\n", k, rc,
                    msg ? msg : "(no message)");
            return 1;
        }
        failures++;
        lua_pop(L, 1);
        if (luaL_dostring(L, CHECK) != LUA_OK) {
            fprintf(stderr, "cbor_oom: broken after allocation %ld failed: %s\n", k,
                    lua_tostring(L, -1));
            return 1;
        }
    }
    printf("%ld allocation points tried, %ld memory errors\n", k, failures);
    lua_close(L);
    return 0;
}
