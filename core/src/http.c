/* HTTP requests through the loop's libcurl multi handle. One CURLM per loop means one connection
 * cache: keep-alive connections (and HTTP/2 streams) are reused across requests. Each request
 * owns its completion event from the start, so finishing it never needs memory that might not be
 * there; every curl error reaches the request it belongs to as an error event. */
/* uv.h and the POSIX APIs it pulls in need their feature macros under -std=c11 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "sdb_core.h"
#include "sdb_transport.h"

/* Headers of one response larger than this fail the request (curl itself caps a single line). */
#define MAX_RESPONSE_HEADERS ((size_t)1 << 20)

struct sdb_http_req {
    sdb_http_req *prev, *next;
    sdb_loop *loop;
    lua_Integer id;
    CURL *easy;
    int added; /* in the multi handle */
    struct curl_slist *headers;
    char *body;
    size_t max_response;
    int too_large;
    int oom;
    int attempts;       /* how often curl was about to send the request */
    int resend_stopped; /* curl wanted to send it again after its connection died: stopped */
    sdb_event *ev;      /* the completion event: its buffers collect the response */
    char errbuf[CURL_ERROR_SIZE];
};

/* Called by curl right before it sends the request, on every attempt. When a reused keep-alive
 * connection dies before the first byte of the answer, curl silently sends the request again on a
 * fresh connection, though the server may have run it already. Whether a call may run twice is the
 * client's rule (see Client:call), so a second attempt is stopped here and reported as a lost
 * answer. */
static int on_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    sdb_http_req *req = userp;
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    if (req->attempts++ > 0) {
        req->resend_stopped = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    sdb_http_req *req = userp;
    size_t n = size * nmemb;
    if (n > req->max_response - req->ev->data.len) {
        req->too_large = 1;
        return 0; /* curl stops the transfer with CURLE_WRITE_ERROR */
    }
    if (sdb_bytes_append(&req->ev->data, data, n) != 0) {
        req->oom = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    sdb_http_req *req = userp;
    size_t n = size * nmemb;
    /* A new status line starts a new response (after 100 Continue or a 1xx): keep the last one. */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        req->ev->headers.len = 0;
    }
    if (req->ev->headers.len + n > MAX_RESPONSE_HEADERS) {
        req->too_large = 1;
        return 0;
    }
    if (sdb_bytes_append(&req->ev->headers, data, n) != 0) {
        req->oom = 1;
        return 0;
    }
    return n;
}

static void req_unlink(sdb_http_req *req)
{
    sdb_loop *loop = req->loop;
    if (req->prev) {
        req->prev->next = req->next;
    } else if (loop->reqs == req) {
        loop->reqs = req->next;
    }
    if (req->next) {
        req->next->prev = req->prev;
    }
    req->prev = req->next = NULL;
}

/* Frees the request and everything it owns (its event too, unless it was taken). */
static void req_free(sdb_http_req *req)
{
    req_unlink(req);
    if (req->easy) {
        if (req->added && req->loop->http.multi) {
            curl_multi_remove_handle(req->loop->http.multi, req->easy);
        }
        curl_easy_cleanup(req->easy);
    }
    curl_slist_free_all(req->headers);
    free(req->body);
    sdb_event_free(req->ev);
    free(req);
    sdb_live_add(SDB_LIVE_REQUEST, -1);
}

void sdb_http_done(sdb_loop *loop, CURL *easy, CURLcode result)
{
    sdb_http_req *req = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
    if (req == NULL) {
        return;
    }
    sdb_event *ev = req->ev;
    req->ev = NULL;
    if (result == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        ev->status = status;
    } else {
        if (req->too_large || result == CURLE_FILESIZE_EXCEEDED) {
            sdb_event_set_error(ev, "too_large",
                                "the response is larger than max_response (%zu bytes)",
                                req->max_response);
        } else if (req->resend_stopped) {
            sdb_event_set_error(ev, "reset", "the connection closed before the answer came");
        } else if (req->oom) {
            sdb_event_set_error(ev, "internal", "out of memory while receiving the response");
        } else {
            sdb_event_set_error(ev, sdb_curl_error_kind(result), "%s",
                                req->errbuf[0] ? req->errbuf : curl_easy_strerror(result));
        }
        /* A partial response is of no use to anyone. */
        sdb_bytes_free(&ev->data);
        sdb_bytes_free(&ev->headers);
    }
    req_free(req);
    sdb_loop_push_event(loop, ev);
}

void sdb_http_fail_all(sdb_loop *loop, CURLMcode code)
{
    while (loop->reqs) {
        sdb_http_req *req = loop->reqs;
        sdb_event *ev = req->ev;
        req->ev = NULL;
        sdb_bytes_free(&ev->data);
        sdb_bytes_free(&ev->headers);
        sdb_event_set_error(ev, "internal", "libcurl's multi interface failed: %s",
                            curl_multi_strerror(code));
        req_free(req);
        sdb_loop_push_event(loop, ev);
    }
}

void sdb_http_abort_all(sdb_loop *loop)
{
    while (loop->reqs) {
        req_free(loop->reqs);
    }
}

size_t sdb_http_count(sdb_loop *loop)
{
    size_t n = 0;
    for (sdb_http_req *req = loop->reqs; req; req = req->next) {
        n++;
    }
    return n;
}

static int header_text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

/* Checks the `headers` option (a table of string names to string values, or nil) and returns the
 * size of the longest "Name: value" line, so the lines can be built later without any Lua call
 * that could raise. */
size_t sdb_check_headers(lua_State *L, int idx)
{
    size_t longest = 0;
    if (lua_isnil(L, idx)) {
        return 0;
    }
    if (!lua_istable(L, idx)) {
        luaL_error(L, "bad option 'headers' (table expected, got %s)", luaL_typename(L, idx));
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            luaL_error(L, "bad option 'headers' (string names and string values expected)");
        }
        size_t nl, vl;
        const char *name = lua_tolstring(L, -2, &nl);
        const char *value = lua_tolstring(L, -1, &vl);
        if (nl == 0 || memchr(name, ':', nl) || memchr(name, ' ', nl) ||
            !header_text_ok(name, nl) || !header_text_ok(value, vl)) {
            luaL_error(L, "bad option 'headers' (invalid header %s)", name);
        }
        if (nl + vl + 3 > longest) {
            longest = nl + vl + 3;
        }
        lua_pop(L, 1);
    }
    return longest;
}

/*** Start an HTTP request; its answer comes later as an event `{type="http", id=...}`.
 * @function loop:http_request
 * @tparam table options `url` (http:// or https://), `method` ("GET", "POST", "PUT", "PATCH",
 * "DELETE" or "HEAD"; default POST with a body, GET without), `headers` (name = value),
 * `body` (string), `timeout` (seconds for the whole request; none by default), `connect_timeout`
 * (seconds, default 30), `max_response` (bytes, default 128 MiB), `tls` ({ ca_file =, ca_path =,
 * insecure = })
 * @treturn integer the request id
 * @usage local id = loop:http_request{ url = base .. "/rpc", body = bytes, timeout = 5,
 *   headers = { ["Content-Type"] = "application/cbor" } }
 */
int sdb_http_request(lua_State *L)
{
    sdb_loop *loop = sdb_check_loop(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);

    /* Every option is read and checked first, while nothing is allocated: the values stay on the
     * stack so their strings remain valid. */
    lua_getfield(L, 2, "url"); /* 3 */
    if (lua_type(L, 3) != LUA_TSTRING) {
        return luaL_error(L, "bad option 'url' (string expected, got %s)", luaL_typename(L, 3));
    }
    const char *url = lua_tostring(L, 3);
    if (!sdb_starts_with_ci(url, "http://") && !sdb_starts_with_ci(url, "https://")) {
        return luaL_error(L, "bad option 'url' (an http:// or https:// URL expected, got %s)", url);
    }
    lua_getfield(L, 2, "body"); /* 4 */
    if (!lua_isnil(L, 4) && lua_type(L, 4) != LUA_TSTRING) {
        return luaL_error(L, "bad option 'body' (string expected, got %s)", luaL_typename(L, 4));
    }
    size_t body_len = 0;
    const char *body = lua_tolstring(L, 4, &body_len);
    lua_getfield(L, 2, "method"); /* 5 */
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", NULL};
    int method = body ? 1 : 0;
    if (!lua_isnil(L, 5)) {
        const char *name = lua_type(L, 5) == LUA_TSTRING ? lua_tostring(L, 5) : "";
        for (method = 0; methods[method] && strcmp(methods[method], name) != 0; method++) {
        }
        if (methods[method] == NULL) {
            return luaL_error(L, "bad option 'method' (GET, POST, PUT, PATCH, DELETE or HEAD "
                                 "expected)");
        }
    }
    lua_getfield(L, 2, "headers"); /* 6 */
    size_t longest = sdb_check_headers(L, 6);
    long timeout_ms = sdb_opt_ms(L, 2, "timeout", 0);
    long connect_ms = sdb_opt_ms(L, 2, "connect_timeout", SDB_DEFAULT_CONNECT_TIMEOUT_MS);
    size_t max_response = sdb_opt_bytes(L, 2, "max_response", SDB_DEFAULT_MAX_RESPONSE, 0);
    lua_getfield(L, 2, "tls"); /* 7 */
    sdb_tls_opts tls;
    sdb_read_tls(L, 7, &tls);

    /* Reading the options may have run Lua code (metamethods, finalizers) that closed the loop:
     * fetch it again. From here until the request is linked into the loop nothing calls Lua in a
     * way that can raise or run code, so every allocation is freed on failure or owned by the
     * loop. */
    loop = sdb_check_loop(L, 1);
    const char *failed = "out of memory";
    char *line = NULL;
    sdb_http_req *req = calloc(1, sizeof *req);
    if (req == NULL) {
        return sdb_raise(L, "internal", "out of memory");
    }
    sdb_live_add(SDB_LIVE_REQUEST, 1);
    req->loop = loop;
    req->max_response = max_response;
    req->ev = sdb_event_new(SDB_EV_HTTP, 0);
    req->easy = curl_easy_init();
    if (req->ev == NULL || req->easy == NULL) {
        goto fail;
    }
    if (body) {
        req->body = malloc(body_len ? body_len : 1);
        if (req->body == NULL) {
            goto fail;
        }
        memcpy(req->body, body, body_len);
    }
    line = malloc(longest + 1);
    if (line == NULL) {
        goto fail;
    }
    if (!lua_isnil(L, 6)) {
        lua_pushnil(L);
        while (lua_next(L, 6) != 0) {
            size_t nl, vl;
            const char *name = lua_tolstring(L, -2, &nl);
            const char *value = lua_tolstring(L, -1, &vl);
            memcpy(line, name, nl);
            line[nl] = ':';
            line[nl + 1] = ' ';
            memcpy(line + nl + 2, value, vl);
            line[nl + 2 + vl] = '\0';
            lua_pop(L, 1);
            /* "Name;" is curl's way of sending a header with an empty value. */
            if (vl == 0) {
                line[nl] = ';';
                line[nl + 1] = '\0';
            }
            struct curl_slist *list = curl_slist_append(req->headers, line);
            if (list == NULL) {
                lua_pop(L, 1);
                goto fail;
            }
            req->headers = list;
        }
    }
    /* No "Expect: 100-continue" round trip before large bodies: the server answers at once. */
    struct curl_slist *list = curl_slist_append(req->headers, "Expect:");
    if (list == NULL) {
        goto fail;
    }
    req->headers = list;
    free(line);
    line = NULL;

    CURL *e = req->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, value)                                                                            \
    do {                                                                                           \
        if (rc == CURLE_OK) {                                                                      \
            rc = curl_easy_setopt(e, opt, value);                                                  \
        }                                                                                          \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PRIVATE, (char *)req);
    SET(CURLOPT_ERRORBUFFER, req->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, req);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, req);
    SET(CURLOPT_HTTPHEADER, req->headers);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_response);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, req);
    switch (method) {
    case 0:
        SET(CURLOPT_HTTPGET, 1L);
        break;
    case 5:
        SET(CURLOPT_NOBODY, 1L);
        break;
    default:
        SET(CURLOPT_POST, 1L);
        if (method != 1) {
            SET(CURLOPT_CUSTOMREQUEST, methods[method]);
        }
        /* Our own copy of the body: curl reads it from there without copying it again. */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
        break;
    }
#undef SET
    if (rc == CURLE_OK) {
        rc = sdb_apply_tls(e, &tls);
    }
    if (rc != CURLE_OK) {
        failed = curl_easy_strerror(rc);
        goto fail;
    }
    req->id = loop->next_id++;
    req->ev->id = req->id;
    req->next = loop->reqs;
    if (loop->reqs) {
        loop->reqs->prev = req;
    }
    loop->reqs = req;
    CURLMcode mrc = curl_multi_add_handle(loop->http.multi, e);
    if (mrc != CURLM_OK) {
        failed = curl_multi_strerror(mrc);
        goto fail;
    }
    req->added = 1;
    lua_pushinteger(L, req->id);
    return 1;

fail:
    free(line);
    req_free(req);
    return sdb_raise(L, "internal", "cannot start the request: %s", failed);
}

/*** Abort an HTTP request: its answer never surfaces, even if it was already queued.
 * @function loop:cancel
 * @tparam integer id a request id from `loop:http_request`
 * @treturn boolean whether a request (or its queued answer) was dropped
 * @usage loop:cancel(id)
 */
int sdb_http_cancel(lua_State *L)
{
    lua_Integer id = luaL_checkinteger(L, 2);
    sdb_loop *loop = sdb_check_loop(L, 1);
    for (sdb_http_req *req = loop->reqs; req; req = req->next) {
        if (req->id == id) {
            req_free(req);
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    for (sdb_event *prev = NULL, *ev = loop->head; ev; prev = ev, ev = ev->next) {
        if (ev->type == SDB_EV_HTTP && ev->id == id) {
            if (prev) {
                prev->next = ev->next;
            } else {
                loop->head = ev->next;
            }
            if (loop->tail == ev) {
                loop->tail = prev;
            }
            sdb_event_free(ev);
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    lua_pushboolean(L, 0);
    return 1;
}
