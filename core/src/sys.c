/* Operating-system services the Lua layer needs: a real-time clock with nanoseconds,
 * cryptographically strong random bytes (for UUID generation), and a Ctrl-C (SIGINT) watch that
 * lets a long operation stop cleanly between two steps instead of being cut in the middle. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
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

/* Fills `out` with `n` bytes of the kernel's CSPRNG; returns 0 or an errno value. */
static int fill_random(unsigned char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        got += (size_t)r;
    }
    return 0;
}

/* core.random_bytes(n) -> a string of n bytes from the kernel's CSPRNG (n <= 65536). */
static int sys_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 65536, 1, "must be between 0 and 65536");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, (size_t)n);
    int err = fill_random((unsigned char *)out, (size_t)n);
    if (err != 0) {
        return luaL_error(L, "getrandom failed: %s", strerror(err));
    }
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* Version 7 UUIDs (RFC 9562, section 6.2, method 1): 48 bits of Unix milliseconds, a 12-bit counter
 * that starts at a random value below 2048 each millisecond and counts up within it (borrowing the
 * next millisecond when it runs out or the clock steps back), then 62 random bits. The state is per
 * thread, so the UUIDs of one Lua state are strictly increasing. Random bytes come from a pool
 * refilled 4 KiB at a time: one system call per 400 UUIDs instead of one each. */
static _Thread_local struct {
    int64_t last_ms;
    unsigned seq;
    size_t pool_pos;
    unsigned char pool[4096];
} v7_state = {.last_ms = -1, .pool_pos = 4096};

static int take_random(unsigned char *out, size_t n)
{
    if (v7_state.pool_pos + n > sizeof(v7_state.pool)) {
        int err = fill_random(v7_state.pool, sizeof(v7_state.pool));
        if (err != 0) {
            return err;
        }
        v7_state.pool_pos = 0;
    }
    memcpy(out, v7_state.pool + v7_state.pool_pos, n);
    v7_state.pool_pos += n;
    return 0;
}

/* core.uuid_v7() -> a new version 7 UUID in its canonical lowercase text form. */
static int sys_uuid_v7(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return luaL_error(L, "clock_gettime failed: %s", strerror(errno));
    }
    unsigned char rnd[10];
    int err = take_random(rnd, sizeof(rnd));
    if (err != 0) {
        return luaL_error(L, "getrandom failed: %s", strerror(err));
    }
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    unsigned seq;
    if (ms > v7_state.last_ms) {
        seq = ((unsigned)rnd[0] << 8 | rnd[1]) & 0x7ff;
    } else {
        ms = v7_state.last_ms;
        seq = v7_state.seq + 1;
        if (seq > 0xfff) {
            ms++;
            seq = ((unsigned)rnd[0] << 8 | rnd[1]) & 0x7ff;
        }
    }
    v7_state.last_ms = ms;
    v7_state.seq = seq;
    unsigned char b[16];
    for (int i = 0; i < 6; i++) {
        b[i] = (unsigned char)((uint64_t)ms >> (8 * (5 - i)));
    }
    b[6] = (unsigned char)(0x70 | (seq >> 8));
    b[7] = (unsigned char)(seq & 0xff);
    b[8] = (unsigned char)(0x80 | (rnd[2] & 0x3f));
    memcpy(b + 9, rnd + 3, 7);
    static const char hex[] = "0123456789abcdef";
    char text[36];
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text[pos++] = '-';
        }
        text[pos++] = hex[b[i] >> 4];
        text[pos++] = hex[b[i] & 15];
    }
    lua_pushlstring(L, text, sizeof(text));
    return 1;
}

/* The SIGINT watch. While at least one watch is on, a first SIGINT only counts; a second one
 * restores the handler that was there before and raises the signal again, so a user who presses
 * Ctrl-C twice still stops the process. The count and the handler are process-wide. */
static volatile sig_atomic_t interrupt_count;
static struct sigaction previous_sigint;
static int interrupt_watchers;
static int interrupt_ignored; /* SIGINT was ignored (a background job): leave it so */

static void on_sigint(int signal_number)
{
    if (interrupt_count > 0) {
        sigaction(SIGINT, &previous_sigint, NULL);
        raise(signal_number);
        return;
    }
    interrupt_count = 1;
}

/* core.interrupt_watch(on) -> nothing. Watches are counted: SIGINT gets its previous handler back
 * when the last one is turned off. A process that ignores SIGINT keeps ignoring it. */
static int sys_interrupt_watch(lua_State *L)
{
    int on = lua_toboolean(L, 1);
    if (on) {
        if (interrupt_watchers++ > 0) {
            return 0;
        }
        interrupt_count = 0;
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_handler = on_sigint;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        if (sigaction(SIGINT, &action, &previous_sigint) != 0) {
            interrupt_watchers--;
            return luaL_error(L, "sigaction failed: %s", strerror(errno));
        }
        interrupt_ignored = previous_sigint.sa_handler == SIG_IGN;
        if (interrupt_ignored) {
            sigaction(SIGINT, &previous_sigint, NULL);
        }
    } else if (interrupt_watchers > 0 && --interrupt_watchers == 0) {
        if (!interrupt_ignored) {
            sigaction(SIGINT, &previous_sigint, NULL);
        }
        interrupt_count = 0;
    }
    return 0;
}

/* core.interrupted() -> how many SIGINTs arrived since the watch began (0 or 1). */
static int sys_interrupted(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)interrupt_count);
    return 1;
}

void sdb_sys_register(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"clock_realtime", sys_clock_realtime},
        {"clock_monotonic", sys_clock_monotonic},
        {"random_bytes", sys_random_bytes},
        {"uuid_v7", sys_uuid_v7},
        {"interrupt_watch", sys_interrupt_watch},
        {"interrupted", sys_interrupted},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
