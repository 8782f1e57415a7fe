/*
 * Memory errors in the middle of surrealdb.cbor: a Lua host whose allocator fails at the k-th
 * allocation, for k = 1, 2, ... until a run no longer reaches the failure. Every run must end in a
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
    "";

static const char WORK[] = "local cbor = require('surrealdb.cbor')\n"
                           "assert(cbor.encode(OOM_VALUE) == OOM_BYTES)\n"
                           "assert(#cbor.encode(string.rep('y', 100000)) == 100005)\n"
                           "local v = cbor.decode(OOM_BYTES)\n"
                           "assert(v.list[3] == 's')\n"
                           "for _, b in ipairs(OOM_EXTRA) do cbor.decode(b) end\n"
                           "assert(not pcall(cbor.encode, { OOM_VALUE, print }))\n"
                           "assert(not pcall(cbor.decode, OOM_BYTES:sub(1, -2)))\n";

static const char CHECK[] = "local cbor = require('surrealdb.cbor')\n"
                            "assert(cbor.decode(cbor.encode({ a = { 1, 2 } })).a[2] == 2)\n"
                            "assert(cbor.encode(OOM_VALUE) == OOM_BYTES)\n";

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
