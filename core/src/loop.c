/* The core's event loop: a private libuv loop per loop object (never the host's default loop, so
 * the module lives beside luv or Neovim), the glue that lets libuv drive libcurl's multi interface
 * (curl's socket and timer hooks start uv_poll and uv_timer handles, which call back into
 * curl_multi_socket_action), and the queue of events loop:poll() hands to Lua.
 *
 * C never calls Lua from a libuv or libcurl callback: callbacks only queue event records. */
/* uv.h and the POSIX APIs it pulls in need their feature macros under -std=c11 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "sdb_core.h"
#include "sdb_transport.h"

/* By default a poll returns at most this many events, so one burst cannot build an unbounded
 * table; the rest are returned by the next poll, which does not wait while events are queued. */
#define MAX_EVENTS_PER_POLL 4096

/* ---- byte buffers ---- */

int sdb_bytes_reserve(sdb_bytes *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return 0;
    }
    if (extra > SIZE_MAX - b->len) {
        return -1;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    unsigned char *data = realloc(b->data, cap);
    if (data == NULL) {
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

int sdb_bytes_append(sdb_bytes *b, const void *p, size_t n)
{
    if (sdb_bytes_reserve(b, n) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
    return 0;
}

void sdb_bytes_consume(sdb_bytes *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void sdb_bytes_free(sdb_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- live object counts ---- */

/* Atomic: several Lua states in several threads may each load the module. */
static atomic_long live[4];

void sdb_live_add(sdb_live_kind kind, int delta)
{
    atomic_fetch_add(&live[kind], delta);
}

/*** Counts of the transport's live C objects in this process (all loops): for leak checks.
 * @function transport_stats
 * @treturn table `{ loops =, requests =, connections =, events = }`
 * @usage collectgarbage(); print(core.transport_stats().connections)
 */
static int transport_stats(lua_State *L)
{
    static const char *const names[] = {"loops", "requests", "connections", "events"};
    lua_createtable(L, 0, 4);
    for (int i = 0; i < 4; i++) {
        lua_pushinteger(L, (lua_Integer)atomic_load(&live[i]));
        lua_setfield(L, -2, names[i]);
    }
    return 1;
}

/* ---- events ---- */

sdb_event *sdb_event_new(sdb_event_type type, lua_Integer id)
{
    sdb_event *ev = calloc(1, sizeof *ev);
    if (ev) {
        ev->type = type;
        ev->id = id;
        sdb_live_add(SDB_LIVE_EVENT, 1);
    }
    return ev;
}

void sdb_event_free(sdb_event *ev)
{
    if (ev != NULL) {
        sdb_bytes_free(&ev->data);
        sdb_bytes_free(&ev->headers);
        free(ev);
        sdb_live_add(SDB_LIVE_EVENT, -1);
    }
}

void sdb_loop_push_event(sdb_loop *loop, sdb_event *ev)
{
    ev->next = NULL;
    if (loop->tail) {
        loop->tail->next = ev;
    } else {
        loop->head = ev;
    }
    loop->tail = ev;
    /* The event may come from a timer callback (a curl timeout, a transfer finished within a
     * timer-driven socket_action): without this, uv_run would go on to block for I/O for the rest
     * of the poll's timeout although an event is ready. uv_stop makes it not block this turn. */
    if (loop->running) {
        uv_stop(&loop->uv);
    }
}

void sdb_event_set_error(sdb_event *ev, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->error_message, sizeof ev->error_message, fmt, ap);
    va_end(ap);
    ev->error_kind = kind;
}

int sdb_raise(lua_State *L, const char *kind, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    return lua_error(L);
}

/* ---- options ---- */

long sdb_opt_ms(lua_State *L, int idx, const char *field, long def)
{
    long ms = def;
    lua_getfield(L, idx, field);
    if (!lua_isnil(L, -1)) {
        int isnum = 0;
        lua_Number seconds = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !(seconds >= 0)) {
            luaL_error(L, "bad option '%s' (a number of seconds >= 0 expected, got %s)", field,
                       isnum ? "a negative number" : luaL_typename(L, -1));
        }
        /* Round up: a timeout of 0.0001 s must not become "no timeout" (0). */
        lua_Number v = ceil(seconds * 1000.0);
        ms = v > 1e9 ? 1000000000L : (long)v;
    }
    lua_pop(L, 1);
    return ms;
}

size_t sdb_opt_bytes(lua_State *L, int idx, const char *field, size_t def, lua_Integer min)
{
    size_t bytes = def;
    lua_getfield(L, idx, field);
    if (!lua_isnil(L, -1)) {
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < min) {
            luaL_error(L, "bad option '%s' (a byte count >= %I expected)", field, min);
        }
        bytes = (size_t)v;
    }
    lua_pop(L, 1);
    return bytes;
}

int sdb_starts_with_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + ('a' - 'A'));
        }
        if (c != *prefix) {
            return 0;
        }
    }
    return 1;
}

void sdb_read_tls(lua_State *L, int idx, sdb_tls_opts *tls)
{
    memset(tls, 0, sizeof *tls);
    if (lua_isnoneornil(L, idx)) {
        return;
    }
    if (!lua_istable(L, idx)) {
        luaL_error(L, "bad option 'tls' (table expected, got %s)", luaL_typename(L, idx));
    }
    static const char *const fields[] = {"ca_file", "ca_path"};
    for (int i = 0; i < 2; i++) {
        lua_getfield(L, idx, fields[i]);
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
            luaL_error(L, "bad option 'tls.%s' (string expected, got %s)", fields[i],
                       luaL_typename(L, -1));
        }
        /* The string stays on the stack (below the caller's later values) until curl copied it. */
        const char *s = lua_tostring(L, -1);
        if (i == 0) {
            tls->ca_file = s;
        } else {
            tls->ca_path = s;
        }
    }
    lua_getfield(L, idx, "insecure");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) {
        luaL_error(L, "bad option 'tls.insecure' (boolean expected, got %s)", luaL_typename(L, -1));
    }
    tls->insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

CURLcode sdb_apply_tls(CURL *easy, const sdb_tls_opts *tls)
{
    CURLcode rc = CURLE_OK;
    if (tls->ca_file) {
        rc = curl_easy_setopt(easy, CURLOPT_CAINFO, tls->ca_file);
    }
    if (rc == CURLE_OK && tls->ca_path) {
        rc = curl_easy_setopt(easy, CURLOPT_CAPATH, tls->ca_path);
    }
    if (rc == CURLE_OK && tls->insecure) {
        rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        if (rc == CURLE_OK) {
            rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    return rc;
}

const char *sdb_curl_error_kind(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return "reset";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "url";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
        return "protocol";
    default:
        return "internal";
    }
}

/* ---- libcurl's multi interface driven by libuv ---- */

static void sock_closed(uv_handle_t *handle)
{
    sdb_sock *s = handle->data;
    sdb_multi *m = s->m;
    free(s);
    m->open_handles--;
    if (m->on_handle_closed) {
        m->on_handle_closed(m);
    }
}

static void sock_close(sdb_multi *m, sdb_sock *s)
{
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        m->socks = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    s->prev = s->next = NULL;
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void multi_report(sdb_multi *m, CURLMcode rc)
{
    if (rc != CURLM_OK && m->multi && m->on_error) {
        m->on_error(m, rc);
    }
    sdb_multi_check(m);
}

static void sock_on_event(uv_poll_t *handle, int status, int events)
{
    sdb_sock *s = handle->data;
    sdb_multi *m = s->m;
    if (m->multi == NULL || m->detached) {
        return;
    }
    int flags = 0;
    if (status < 0) {
        /* curl reads the socket's error itself and fails the transfer that owns it. */
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) {
            flags |= CURL_CSELECT_IN;
        }
        if (events & UV_WRITABLE) {
            flags |= CURL_CSELECT_OUT;
        }
    }
    int running = 0;
    multi_report(m, curl_multi_socket_action(m->multi, s->fd, flags, &running));
}

static void multi_on_timer(uv_timer_t *timer)
{
    sdb_multi *m = timer->data;
    if (m->multi == NULL || m->detached) {
        return;
    }
    int running = 0;
    multi_report(m, curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running));
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called back after timeout_ms (-1: never). */
static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    sdb_multi *m = userp;
    if (m->detached || m->closing) {
        return 0;
    }
    if (timeout_ms < 0) {
        uv_timer_stop(&m->timer);
        return 0;
    }
    /* The loop's clock is only updated by uv_run; between two polls it may be stale. */
    uv_update_time(&m->loop->uv);
    /* A timeout of 0 means "as soon as possible", which a 0 ms timer gives on the next turn of
     * the loop: calling curl_multi_socket_action from inside its own callback is not allowed. */
    return uv_timer_start(&m->timer, multi_on_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: curl says which events it waits for on a socket. */
static int multi_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    sdb_multi *m = userp;
    sdb_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (!m->closing) {
                curl_multi_assign(m->multi, fd, NULL);
            }
            sock_close(m, s);
        }
        return 0;
    }
    if (m->detached || m->closing) {
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            return -1; /* curl fails the transfers on this socket: they get an error event */
        }
        if (uv_poll_init_socket(&m->loop->uv, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->m = m;
        s->poll.data = s;
        s->next = m->socks;
        if (m->socks) {
            m->socks->prev = s;
        }
        m->socks = s;
        m->open_handles++;
        if (curl_multi_assign(m->multi, fd, s) != CURLM_OK) {
            sock_close(m, s);
            return -1;
        }
    }
    int events = 0;
    if (what & CURL_POLL_IN) {
        events |= UV_READABLE;
    }
    if (what & CURL_POLL_OUT) {
        events |= UV_WRITABLE;
    }
    return uv_poll_start(&s->poll, events, sock_on_event) == 0 ? 0 : -1;
}

static void multi_timer_closed(uv_handle_t *handle)
{
    sdb_multi *m = handle->data;
    m->open_handles--;
    if (m->on_handle_closed) {
        m->on_handle_closed(m);
    }
}

int sdb_multi_init(sdb_multi *m, sdb_loop *loop)
{
    m->loop = loop;
    if (uv_timer_init(&loop->uv, &m->timer) != 0) {
        return -1;
    }
    m->timer.data = m;
    m->timer_open = 1;
    m->open_handles++;
    m->multi = curl_multi_init();
    if (m->multi == NULL) {
        return -1;
    }
    if (curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, multi_socket_cb) != CURLM_OK ||
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
        curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb) != CURLM_OK ||
        curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m) != CURLM_OK) {
        return -1;
    }
    return 0;
}

void sdb_multi_release_sockets(sdb_multi *m)
{
    while (m->socks) {
        sdb_sock *s = m->socks;
        if (m->multi && !m->closing) {
            curl_multi_assign(m->multi, s->fd, NULL);
        }
        sock_close(m, s);
    }
}

void sdb_multi_close(sdb_multi *m)
{
    if (m->multi) {
        /* Cleanup may still call the hooks (to drop sockets): they only close poll handles now. */
        m->closing = 1;
        curl_multi_cleanup(m->multi);
        m->multi = NULL;
    }
    m->closing = 1;
    sdb_multi_release_sockets(m);
    if (m->timer_open) {
        m->timer_open = 0;
        uv_close((uv_handle_t *)&m->timer, multi_timer_closed);
    }
}

void sdb_multi_check(sdb_multi *m)
{
    CURLMsg *msg;
    int left;
    /* on_done may tear the driver down (a WebSocket whose connect failed): stop reading then. */
    while (m->multi && !m->closing && (msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            m->on_done(m, msg->easy_handle, msg->data.result);
        }
    }
}

/* ---- the loop object ---- */

static void loop_on_wake(uv_timer_t *timer)
{
    sdb_loop *loop = timer->data;
    loop->wake_fired = 1;
}

static void http_multi_done(sdb_multi *m, CURL *easy, CURLcode result)
{
    sdb_http_done(m->loop, easy, result);
}

static void http_multi_error(sdb_multi *m, CURLMcode code)
{
    sdb_http_fail_all(m->loop, code);
}

/* Closes everything the loop owns and frees it. Runs the loop until every close callback has
 * fired, so no handle memory outlives it. */
static void loop_shutdown(sdb_loop *loop)
{
    loop->closed = 1;
    sdb_http_abort_all(loop);
    sdb_ws_abort_all(loop);
    sdb_multi_close(&loop->http);
    while (loop->head) {
        sdb_event *ev = loop->head;
        loop->head = ev->next;
        sdb_event_free(ev);
    }
    loop->tail = NULL;
    while (loop->converting) {
        sdb_event *ev = loop->converting;
        loop->converting = ev->next;
        sdb_event_free(ev);
    }
    if (loop->uv_ready) {
        if (loop->wake_open) {
            loop->wake_open = 0;
            uv_close((uv_handle_t *)&loop->wake, NULL);
        }
        /* Until every close callback has run (uv_run returns 0 when nothing is alive). */
        while (uv_run(&loop->uv, UV_RUN_DEFAULT) != 0) {
        }
        uv_loop_close(&loop->uv);
    }
    if (loop->curl_ready) {
        /* curl counts its global inits, so each loop initialises and cleans up its own share and
         * the module needs no unload hook (Lua never tells a C module it is unloaded). OpenSSL
         * 3 frees its global state at process exit: valgrind shows no block lost or reachable
         * from curl or OpenSSL, only the dynamic linker's, so no suppression file is needed. */
        curl_global_cleanup();
    }
    free(loop);
    sdb_live_add(SDB_LIVE_LOOP, -1);
}

static sdb_loop_ud *check_loop_ud(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, SDB_LOOP_MT);
}

sdb_loop *sdb_check_loop(lua_State *L, int idx)
{
    sdb_loop_ud *u = check_loop_ud(L, idx);
    if (u->loop == NULL) {
        sdb_raise(L, "closed", "the loop is closed");
    }
    return u->loop;
}

/*** Create a loop: a private libuv loop with its own libcurl multi handle.
 * @function loop_new
 * @return the loop (closed by `loop:close()`, a to-be-closed variable, or the garbage collector)
 * @usage local loop <close> = core.loop_new()
 */
static int loop_new(lua_State *L)
{
    sdb_loop_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->loop = NULL;
    luaL_setmetatable(L, SDB_LOOP_MT);
    /* From here the userdata owns the loop: its __gc frees whatever was set up. */
    sdb_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL) {
        return sdb_raise(L, "internal", "out of memory");
    }
    sdb_live_add(SDB_LIVE_LOOP, 1);
    u->loop = loop;
    loop->next_id = 1;
    const char *failed = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        failed = "curl_global_init failed";
    } else {
        loop->curl_ready = 1;
        if (uv_loop_init(&loop->uv) != 0) {
            failed = "uv_loop_init failed";
        } else {
            loop->uv_ready = 1;
            if (uv_timer_init(&loop->uv, &loop->wake) != 0) {
                failed = "uv_timer_init failed";
            } else {
                loop->wake_open = 1;
                loop->wake.data = loop;
                loop->http.on_done = http_multi_done;
                loop->http.on_error = http_multi_error;
                loop->http.owner = loop;
                if (sdb_multi_init(&loop->http, loop) != 0) {
                    failed = "curl_multi_init failed";
                }
            }
        }
    }
    if (failed) {
        u->loop = NULL;
        loop_shutdown(loop);
        return sdb_raise(L, "internal", "%s", failed);
    }
    return 1;
}

/*** Close the loop: abort every request and connection (no events for them), close all handles
 * and free the loop. Idempotent; also `__close` and `__gc`.
 * @function loop:close
 * @usage loop:close()
 */
static int loop_close(lua_State *L)
{
    sdb_loop_ud *u = check_loop_ud(L, 1);
    sdb_loop *loop = u->loop;
    if (loop) {
        u->loop = NULL;
        if (loop->converting) {
            /* Called by a finalizer while poll builds its table: poll finishes, then closes. */
            loop->close_requested = 1;
        } else {
            loop_shutdown(loop);
        }
    }
    return 0;
}

/* Runs the loop until an event is queued or `timeout` seconds passed (0: do not block; negative:
 * no bound, but return when nothing is left that could produce an event). */
static void loop_run(sdb_loop *loop, double timeout)
{
    loop->running = 1;
    if (timeout == 0) {
        uv_run(&loop->uv, UV_RUN_NOWAIT);
        loop->running = 0;
        return;
    }
    if (timeout > 0) {
        double ms = ceil(timeout * 1000.0);
        loop->wake_fired = 0;
        uv_update_time(&loop->uv);
        uv_timer_start(&loop->wake, loop_on_wake, ms > 1e12 ? (uint64_t)1e12 : (uint64_t)ms, 0);
    }
    while (loop->head == NULL && !(timeout > 0 && loop->wake_fired)) {
        if (timeout < 0 && loop->reqs == NULL && loop->conns == NULL) {
            break;
        }
        if (uv_run(&loop->uv, UV_RUN_ONCE) == 0 && timeout < 0) {
            break; /* nothing is active: nothing can come */
        }
    }
    uv_timer_stop(&loop->wake);
    loop->running = 0;
}

/* Pushes the response headers as a table: lower-case names, repeated headers joined by ", ". The
 * block belongs to the queued event, so a Lua error here leaks nothing. */
static void push_headers(lua_State *L, sdb_bytes *h)
{
    lua_newtable(L);
    char *p = (char *)h->data, *end = p + h->len;
    int first = 1;
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        char *line_end = eol ? eol : end;
        char *next = eol ? eol + 1 : end;
        if (line_end > p && line_end[-1] == '\r') {
            line_end--;
        }
        char *colon = first ? NULL : memchr(p, ':', (size_t)(line_end - p));
        first = 0;
        if (colon && colon > p) {
            for (char *c = p; c < colon; c++) {
                if (*c >= 'A' && *c <= 'Z') {
                    *c = (char)(*c + ('a' - 'A'));
                }
            }
            char *v = colon + 1, *ve = line_end;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            lua_pushlstring(L, p, (size_t)(colon - p));
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            } else {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            }
            lua_rawset(L, -3);
        }
        p = next;
    }
}

static void push_error(lua_State *L, sdb_event *ev)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, ev->error_kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, ev->error_message);
    lua_setfield(L, -2, "message");
    lua_setfield(L, -2, "error");
}

static void push_event(lua_State *L, sdb_event *ev)
{
    static const char *const types[] = {"http", "ws_open", "ws_message", "ws_pong", "ws_close"};
    lua_createtable(L, 0, 5);
    lua_pushstring(L, types[ev->type]);
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, ev->id);
    lua_setfield(L, -2, ev->type == SDB_EV_HTTP ? "id" : "conn");
    switch (ev->type) {
    case SDB_EV_HTTP:
        if (ev->error_kind) {
            push_error(L, ev);
            break;
        }
        lua_pushinteger(L, ev->status);
        lua_setfield(L, -2, "status");
        push_headers(L, &ev->headers);
        lua_setfield(L, -2, "headers");
        lua_pushlstring(L, (const char *)ev->data.data, ev->data.len);
        lua_setfield(L, -2, "body");
        break;
    case SDB_EV_WS_OPEN:
        if (ev->data.len > 0) {
            lua_pushlstring(L, (const char *)ev->data.data, ev->data.len);
            lua_setfield(L, -2, "protocol");
        }
        break;
    case SDB_EV_WS_MESSAGE:
    case SDB_EV_WS_PONG:
        lua_pushlstring(L, (const char *)ev->data.data, ev->data.len);
        lua_setfield(L, -2, "data");
        if (ev->text) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "text");
        }
        break;
    case SDB_EV_WS_CLOSE:
        lua_pushinteger(L, ev->status);
        lua_setfield(L, -2, "code");
        lua_pushlstring(L, (const char *)ev->data.data, ev->data.len);
        lua_setfield(L, -2, "reason");
        if (ev->error_kind) {
            push_error(L, ev);
        }
        break;
    }
}

/* Builds the array of events from loop->converting; runs under lua_pcall. */
static int poll_build(lua_State *L)
{
    sdb_loop *loop = lua_touserdata(L, 1);
    lua_newtable(L);
    int n = 0;
    for (sdb_event *ev = loop->converting; ev; ev = ev->next) {
        push_event(L, ev);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/*** Run the loop until at least one event is ready or `timeout` seconds passed; return the events.
 * Events: `{type="http", id=, status=, headers=, body=}` or `{type="http", id=, error={kind=,
 * message=}}`; `{type="ws_open", conn=, protocol=}`; `{type="ws_message", conn=, data=, text=}`;
 * `{type="ws_pong", conn=, data=}`; `{type="ws_close", conn=, code=, reason=, error=}`.
 * @function loop:poll
 * @tparam[opt] number timeout seconds to wait at most; 0 does not block; nil waits until an event
 * comes or nothing is left in flight
 * @tparam[opt=4096] integer max_events return at most this many events (the rest stay queued, and
 * the next poll returns them without waiting)
 * @treturn table an array of events (possibly empty)
 * @usage for _, ev in ipairs(loop:poll(0.1)) do print(ev.type) end
 */
static int loop_poll(lua_State *L)
{
    double timeout = -1;
    if (!lua_isnoneornil(L, 2)) {
        timeout = (double)luaL_checknumber(L, 2);
        luaL_argcheck(L, timeout >= 0, 2, "must not be negative");
    }
    lua_Integer max_events = luaL_optinteger(L, 3, MAX_EVENTS_PER_POLL);
    luaL_argcheck(L, max_events >= 1, 3, "must be at least 1");
    sdb_loop *loop = sdb_check_loop(L, 1);
    if (loop->converting) {
        return sdb_raise(L, "busy", "loop:poll was called while the loop was in loop:poll");
    }
    if (loop->head == NULL) {
        loop_run(loop, timeout);
    }
    /* Building the tables allocates, so the collector may run finalizers: arbitrary Lua code
     * that may cancel requests, close the loop or raise. The batch is therefore taken off the
     * queue first, converted under lua_pcall, and on an error put back in front of the queue:
     * nothing leaks and nothing is lost. */
    sdb_event *last = NULL;
    lua_Integer n = 0;
    for (sdb_event *ev = loop->head; ev && n < max_events; ev = ev->next) {
        last = ev;
        n++;
    }
    if (last) {
        loop->converting = loop->head;
        loop->head = last->next;
        if (loop->head == NULL) {
            loop->tail = NULL;
        }
        last->next = NULL;
    }
    lua_pushcfunction(L, poll_build);
    lua_pushlightuserdata(L, loop);
    int rc = lua_pcall(L, 1, 1, 0);
    sdb_event *batch = loop->converting;
    loop->converting = NULL;
    if (rc == LUA_OK) {
        while (batch) {
            sdb_event *ev = batch;
            batch = ev->next;
            sdb_event_free(ev);
        }
    } else if (batch) {
        last->next = loop->head;
        loop->head = batch;
        if (loop->tail == NULL) {
            loop->tail = last;
        }
    }
    if (loop->close_requested) {
        loop_shutdown(loop);
    }
    if (rc != LUA_OK) {
        return lua_error(L);
    }
    return 1;
}

/*** The number of HTTP requests in flight and of WebSocket connections not yet closed.
 * @function loop:active
 * @treturn integer HTTP requests
 * @treturn integer WebSocket connections
 * @usage local requests, connections = loop:active()
 */
static int loop_active(lua_State *L)
{
    sdb_loop *loop = sdb_check_loop(L, 1);
    lua_pushinteger(L, (lua_Integer)sdb_http_count(loop));
    lua_pushinteger(L, (lua_Integer)sdb_ws_count(loop));
    return 2;
}

/*** The loop's backend file descriptor (an epoll fd on Linux): it becomes readable when one of
 * the loop's sockets has work. A host that runs its own event loop (luv, Neovim) watches it and
 * calls `loop:poll(0)` when it is readable or when `loop:timeout()` elapsed.
 * @function loop:fd
 * @treturn integer
 * @usage uv.new_poll(loop:fd()):start("r", function() handle(loop:poll(0)) end)
 */
static int loop_fd(lua_State *L)
{
    sdb_loop *loop = sdb_check_loop(L, 1);
    lua_pushinteger(L, uv_backend_fd(&loop->uv));
    return 1;
}

/*** Seconds until the loop's next timer is due (curl's timeouts, handshake deadlines), 0 when it
 * has work right now (call `loop:poll(0)`), or nil when no timer is pending. With `loop:fd()`, what
 * a host needs to drive the loop from its own.
 * @function loop:timeout
 * @treturn number|nil
 * @usage local t = loop:timeout(); if t then host_timer:start(math.ceil(t * 1000), 0, tick) end
 */
static int loop_timeout(lua_State *L)
{
    sdb_loop *loop = sdb_check_loop(L, 1);
    if (loop->head) {
        lua_pushnumber(L, 0);
        return 1;
    }
    if (loop->reqs == NULL && loop->conns == NULL) {
        /* libuv says 0 for a loop with no active handle: a host must not spin on an idle loop. */
        lua_pushnil(L);
        return 1;
    }
    uv_update_time(&loop->uv);
    int ms = uv_backend_timeout(&loop->uv);
    if (ms < 0) {
        lua_pushnil(L);
    } else {
        lua_pushnumber(L, ms / 1000.0);
    }
    return 1;
}

static int loop_tostring(lua_State *L)
{
    sdb_loop_ud *u = check_loop_ud(L, 1);
    lua_pushfstring(L, "%s (%s): %p", SDB_LOOP_MT, u->loop ? "open" : "closed", (void *)u);
    return 1;
}

void sdb_transport_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"http_request", sdb_http_request},
        {"cancel", sdb_http_cancel},
        {"ws_connect", sdb_ws_connect},
        {"poll", loop_poll},
        {"active", loop_active},
        {"fd", loop_fd},
        {"timeout", loop_timeout},
        {"close", loop_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", loop_close},
        {"__close", loop_close},
        {"__tostring", loop_tostring},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, SDB_LOOP_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    sdb_ws_register(L);
    sdb_ws_frame_register(L);
    sdb_sha1_register(L);
    lua_pushcfunction(L, loop_new);
    lua_setfield(L, -2, "loop_new");
    lua_pushcfunction(L, transport_stats);
    lua_setfield(L, -2, "transport_stats");
}
