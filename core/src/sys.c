/* Operating-system services the Lua layer needs: a real-time clock with nanoseconds and
 * cryptographically strong random bytes (for UUID generation). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <lauxlib.h>

#include "sdb_core.h"

/* core.clock_realtime() -> seconds, nanoseconds since the Unix epoch. */
static int sys_clock_realtime(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return luaL_error(L, "clock_gettime failed: %s", strerror(errno));
    }
    lua_pushinteger(L, (lua_Integer)ts.tv_sec);
    lua_pushinteger(L, (lua_Integer)ts.tv_nsec);
    return 2;
}

/* core.clock_monotonic() -> seconds as a float, for measuring intervals. */
static int sys_clock_monotonic(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return luaL_error(L, "clock_gettime failed: %s", strerror(errno));
    }
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.random_bytes(n) -> a string of n bytes from the kernel's CSPRNG (n <= 65536). */
static int sys_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 65536, 1, "must be between 0 and 65536");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, (size_t)n);
    size_t got = 0;
    while (got < (size_t)n) {
        ssize_t r = getrandom(out + got, (size_t)n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return luaL_error(L, "getrandom failed: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

void sdb_sys_register(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"clock_realtime", sys_clock_realtime},
        {"clock_monotonic", sys_clock_monotonic},
        {"random_bytes", sys_random_bytes},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
