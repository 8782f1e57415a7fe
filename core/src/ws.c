/* WebSocket client connections (RFC 6455) for ws:// and wss://.
 *
 * libcurl opens the connection with CURLOPT_CONNECT_ONLY, so name resolution, proxies (through a
 * CONNECT tunnel), TLS and certificate checks stay libcurl's. Each connection has a private CURLM:
 * a connect-only connection sits idle in its multi's connection cache, and in the loop's shared
 * cache it could be pruned as "dead" (it has unread data) or as too old, and removing the easy
 * handle from its multi closes it. Once connected, the socket (CURLINFO_ACTIVESOCKET) is watched
 * with our own uv_poll, and bytes move with curl_easy_send/curl_easy_recv; the upgrade request,
 * its checks and the framing (ws_frame.c) are ours.
 *
 * Lifetime: the connection's memory is freed when it is closed (state CLOSED), its Lua userdata is
 * gone, and every uv handle it owns went through its close callback, whichever comes last. */
/* memmem, getrandom, and uv.h's POSIX needs under -std=c11 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <lauxlib.h>

#include "sdb_core.h"
#include "sdb_transport.h"
#include "sdb_utf8.h"

/* The server's handshake response must fit in this. */
#define MAX_HANDSHAKE ((size_t)64 << 10)
/* At least this much room is offered to each curl_easy_recv. */
#define RECV_CHUNK ((size_t)64 << 10)
/* A drained receive buffer larger than this is freed. */
#define KEEP_RECEIVE_BUFFER ((size_t)1 << 20)

typedef enum { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_CLOSING, WS_CLOSED } ws_state;
static const char *const state_names[] = {"connecting", "connecting", "open", "closing", "closed"};

/* One queued write: a whole frame (or the upgrade request). A retried curl_easy_send after
 * CURLE_AGAIN gets the same pointer and length, which TLS libraries require. */
typedef struct ws_chunk {
    struct ws_chunk *next;
    size_t len;
    size_t off;
    unsigned char data[];
} ws_chunk;

struct sdb_ws {
    sdb_ws *prev, *next; /* in loop->conns */
    sdb_loop *loop;      /* NULL once closed */
    lua_Integer id;
    ws_state state;
    int linked;
    int lua_alive;
    int handles; /* poll and timer not yet through their close callbacks */
    int poll_open;
    int poll_events;
    int timer_open;
    int added; /* the easy handle is in the private multi */
    int close_sent;
    int close_received;
    int finish_after_flush;
    sdb_multi m;
    CURL *easy;
    uv_poll_t poll;
    uv_timer_t timer; /* the open deadline, then the close-handshake deadline */
    long connect_timeout_ms;
    long close_timeout_ms;
    char accept[29]; /* the Sec-WebSocket-Accept value the server must send */
    char *protocols; /* the subprotocols offered, "a, b", or NULL */
    sdb_ws_reader reader;
    ws_chunk *out_head, *out_tail;
    size_t out_bytes;
    sdb_event *close_ev; /* allocated up front: a connection can always report its end */
    unsigned char rnd[64];
    size_t rnd_pos;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct ws_ud {
    sdb_ws *ws;
    lua_Integer id;
} ws_ud;

/* ---- lifetime ---- */

static void ws_maybe_free(sdb_ws *ws)
{
    if (ws->state != WS_CLOSED || ws->lua_alive || ws->handles > 0 || ws->m.open_handles > 0) {
        return;
    }
    free(ws->protocols);
    sdb_event_free(ws->close_ev);
    free(ws);
    sdb_live_add(SDB_LIVE_CONNECTION, -1);
}

static void ws_handle_closed(uv_handle_t *handle)
{
    sdb_ws *ws = handle->data;
    ws->handles--;
    ws_maybe_free(ws);
}

static void ws_driver_handle_closed(sdb_multi *m)
{
    ws_maybe_free(m->owner);
}

static void ws_unlink(sdb_ws *ws)
{
    if (!ws->linked) {
        return;
    }
    ws->linked = 0;
    if (ws->prev) {
        ws->prev->next = ws->next;
    } else {
        ws->loop->conns = ws->next;
    }
    if (ws->next) {
        ws->next->prev = ws->prev;
    }
    ws->prev = ws->next = NULL;
}

/* Releases everything but the memory of `ws` itself (freed by ws_maybe_free). Idempotent. */
static void ws_teardown(sdb_ws *ws)
{
    if (ws->state == WS_CLOSED) {
        return;
    }
    ws->state = WS_CLOSED;
    /* Our poll handle goes first: uv_close stops it at once, before curl closes the socket. */
    if (ws->poll_open) {
        ws->poll_open = 0;
        uv_close((uv_handle_t *)&ws->poll, ws_handle_closed);
    }
    if (ws->timer_open) {
        ws->timer_open = 0;
        uv_close((uv_handle_t *)&ws->timer, ws_handle_closed);
    }
    while (ws->out_head) {
        ws_chunk *c = ws->out_head;
        ws->out_head = c->next;
        free(c);
    }
    ws->out_tail = NULL;
    ws->out_bytes = 0;
    sdb_ws_reader_free(&ws->reader);
    if (ws->easy) {
        if (ws->added && ws->m.multi) {
            curl_multi_remove_handle(ws->m.multi, ws->easy);
        }
        curl_easy_cleanup(ws->easy);
        ws->easy = NULL;
    }
    sdb_multi_close(&ws->m);
    ws_unlink(ws);
    ws->loop = NULL;
}

/* Closes the connection and reports it with its close event. */
static void ws_finish(sdb_ws *ws)
{
    sdb_loop *loop = ws->loop;
    ws_teardown(ws);
    if (loop && !loop->closed && ws->close_ev) {
        sdb_loop_push_event(loop, ws->close_ev);
        ws->close_ev = NULL;
    }
}

/* Fails the connection: close code 1006 (abnormal closure) and an error of `kind`. */
static void ws_fail(sdb_ws *ws, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ws_fail(sdb_ws *ws, const char *kind, const char *fmt, ...)
{
    if (ws->state == WS_CLOSED) {
        return;
    }
    sdb_event *ev = ws->close_ev;
    if (ev) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ev->error_message, sizeof ev->error_message, fmt, ap);
        va_end(ap);
        ev->error_kind = kind;
        ev->status = 1006;
        ev->data.len = 0;
    }
    ws_finish(ws);
}

static const char *curl_message(sdb_ws *ws, CURLcode rc)
{
    return ws->errbuf[0] ? ws->errbuf : curl_easy_strerror(rc);
}

/* ---- writing ---- */

static int fill_random(unsigned char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Masking keys come from a small pool refilled from the kernel, not one syscall per frame. */
static int ws_random(sdb_ws *ws, unsigned char *out, size_t n)
{
    if (ws->rnd_pos + n > sizeof ws->rnd) {
        if (fill_random(ws->rnd, sizeof ws->rnd) != 0) {
            return -1;
        }
        ws->rnd_pos = 0;
    }
    memcpy(out, ws->rnd + ws->rnd_pos, n);
    ws->rnd_pos += n;
    return 0;
}

static void ws_enqueue(sdb_ws *ws, ws_chunk *c)
{
    c->next = NULL;
    c->off = 0;
    if (ws->out_tail) {
        ws->out_tail->next = c;
    } else {
        ws->out_head = c;
    }
    ws->out_tail = c;
    ws->out_bytes += c->len;
}

/* Queues one masked frame; 0, or -1 when out of memory or without randomness. */
static int ws_queue_frame(sdb_ws *ws, int opcode, const void *payload, size_t len)
{
    unsigned char mask[4];
    if (ws_random(ws, mask, 4) != 0) {
        return -1;
    }
    unsigned char header[SDB_WS_MAX_HEADER];
    size_t header_len = sdb_ws_frame_header(header, 1, opcode, len, mask);
    if (len > SIZE_MAX - sizeof(ws_chunk) - header_len) {
        return -1;
    }
    ws_chunk *c = malloc(sizeof *c + header_len + len);
    if (c == NULL) {
        return -1;
    }
    c->len = header_len + len;
    memcpy(c->data, header, header_len);
    sdb_ws_mask(c->data + header_len, payload, len, mask, 0);
    ws_enqueue(ws, c);
    return 0;
}

static int ws_queue_close(sdb_ws *ws, int code, const char *reason, size_t len)
{
    unsigned char payload[125];
    size_t n = 0;
    if (code != 1005) {
        payload[0] = (unsigned char)(code >> 8);
        payload[1] = (unsigned char)code;
        n = len > 123 ? 123 : len;
        memcpy(payload + 2, reason, n);
        n += 2;
    }
    return ws_queue_frame(ws, SDB_WS_OP_CLOSE, payload, n);
}

/* Writes what the socket takes now; the rest waits for UV_WRITABLE. */
static void ws_flush(sdb_ws *ws)
{
    while (ws->out_head &&
           (ws->state == WS_HANDSHAKE || ws->state == WS_OPEN || ws->state == WS_CLOSING)) {
        ws_chunk *c = ws->out_head;
        size_t sent = 0;
        ws->errbuf[0] = '\0';
        CURLcode rc = curl_easy_send(ws->easy, c->data + c->off, c->len - c->off, &sent);
        if (rc == CURLE_AGAIN) {
            break;
        }
        if (rc != CURLE_OK) {
            ws_fail(ws, "reset", "sending failed: %s", curl_message(ws, rc));
            return;
        }
        c->off += sent;
        ws->out_bytes -= sent;
        if (c->off < c->len) {
            if (sent == 0) {
                break;
            }
            continue;
        }
        ws->out_head = c->next;
        if (ws->out_head == NULL) {
            ws->out_tail = NULL;
        }
        free(c);
    }
    if (ws->state != WS_CLOSED && ws->out_head == NULL && ws->finish_after_flush) {
        ws_finish(ws);
    }
}

static void ws_on_poll(uv_poll_t *handle, int status, int events);

/* Watches for writability only while something waits to be written: no busy wakeups. */
static void ws_update_poll(sdb_ws *ws)
{
    if (!ws->poll_open || ws->state == WS_CLOSED) {
        return;
    }
    int events = UV_READABLE | (ws->out_head ? UV_WRITABLE : 0);
    if (events != ws->poll_events) {
        if (uv_poll_start(&ws->poll, events, ws_on_poll) != 0) {
            ws_fail(ws, "internal", "cannot watch the connection's socket");
            return;
        }
        ws->poll_events = events;
    }
}

/* ---- timers ---- */

static void ws_timer_start(sdb_ws *ws, long ms, uv_timer_cb cb)
{
    if (ws->timer_open && ms > 0) {
        uv_update_time(&ws->loop->uv);
        uv_timer_start(&ws->timer, cb, (uint64_t)ms, 0);
    }
}

static void ws_on_open_timeout(uv_timer_t *timer)
{
    sdb_ws *ws = timer->data;
    if (ws->state == WS_CONNECTING || ws->state == WS_HANDSHAKE) {
        ws_fail(ws, "timeout", "the WebSocket connection did not open within %ld ms",
                ws->connect_timeout_ms);
    }
}

static void ws_on_close_timeout(uv_timer_t *timer)
{
    sdb_ws *ws = timer->data;
    if (ws->state != WS_CLOSING) {
        return;
    }
    if (ws->close_received) {
        ws_finish(ws); /* the server closed; only our echo of its close frame was stuck */
    } else {
        ws_fail(ws, "timeout", "the server did not answer the close handshake within %ld ms",
                ws->close_timeout_ms);
    }
}

/* ---- reading ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) {
        return 0;
    }
    for (size_t i = 0; i < alen; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

/* Whether the comma-separated list (s, n) holds `token` (case-insensitively when `ci`). */
static int list_has(const char *s, size_t n, const char *token, size_t token_len, int ci)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < n && s[i] != ',') {
            i++;
        }
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
            end--;
        }
        if (end > start && end - start == token_len) {
            if (ci ? ieq(s + start, end - start, token)
                   : memcmp(s + start, token, token_len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* The server's answer to the upgrade request; 1 when the connection is open, 0 when more bytes
 * are needed or it failed (then the state is CLOSED). */
static int ws_handshake(sdb_ws *ws)
{
    sdb_ws_reader *r = &ws->reader;
    const char *start = (const char *)r->in.data + r->pos;
    size_t avail = r->in.len - r->pos;
    const char *end = memmem(start, avail, "\r\n\r\n", 4);
    if (end == NULL) {
        if (avail > MAX_HANDSHAKE) {
            ws_fail(ws, "handshake", "the server's handshake response is larger than 64 KiB");
        }
        return 0;
    }
    size_t head_len = (size_t)(end - start) + 4;
    const char *p = start;
    const char *eol = memchr(p, '\n', head_len);
    size_t line = (size_t)(eol - p);
    if (line < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '0' || p[9] > '9' ||
        p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') {
        ws_fail(ws, "handshake", "the server did not answer the upgrade request with HTTP/1.1");
        return 0;
    }
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status != 101) {
        ws_fail(ws, "handshake",
                "the server answered HTTP %d instead of switching to the WebSocket protocol",
                status);
        return 0;
    }
    int upgrade = 0, connection = 0, accept = 0, extensions = 0, protocol_count = 0;
    const char *protocol = NULL;
    size_t protocol_len = 0;
    for (p = eol + 1; p < end;) {
        eol = memchr(p, '\n', (size_t)(end + 2 - p));
        const char *line_end = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon) {
            const char *v = colon + 1, *ve = line_end;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            size_t name_len = (size_t)(colon - p), vlen = (size_t)(ve - v);
            if (ieq(p, name_len, "upgrade")) {
                upgrade = ieq(v, vlen, "websocket");
            } else if (ieq(p, name_len, "connection")) {
                connection |= list_has(v, vlen, "upgrade", 7, 1);
            } else if (ieq(p, name_len, "sec-websocket-accept")) {
                accept = vlen == 28 && memcmp(v, ws->accept, 28) == 0;
            } else if (ieq(p, name_len, "sec-websocket-protocol")) {
                protocol = v;
                protocol_len = vlen;
                protocol_count++;
            } else if (ieq(p, name_len, "sec-websocket-extensions")) {
                extensions = 1;
            }
        }
        p = eol + 1;
    }
    const char *problem = NULL;
    if (!upgrade) {
        problem = "the server's handshake response lacks \"Upgrade: websocket\"";
    } else if (!connection) {
        problem = "the server's handshake response lacks \"Connection: Upgrade\"";
    } else if (!accept) {
        problem = "the server's Sec-WebSocket-Accept does not match the key sent";
    } else if (extensions) {
        problem = "the server chose a WebSocket extension, but none was offered";
    } else if (ws->protocols && protocol == NULL) {
        problem = "the server accepted none of the subprotocols offered";
    } else if (ws->protocols &&
               (protocol_count > 1 ||
                !list_has(ws->protocols, strlen(ws->protocols), protocol, protocol_len, 0))) {
        problem = "the server chose a subprotocol that was not offered";
    } else if (!ws->protocols && protocol) {
        problem = "the server chose a subprotocol, but none was offered";
    }
    if (problem) {
        ws_fail(ws, "handshake", "%s", problem);
        return 0;
    }
    sdb_event *ev = sdb_event_new(SDB_EV_WS_OPEN, ws->id);
    if (ev == NULL || sdb_bytes_append(&ev->data, protocol, protocol ? protocol_len : 0) != 0) {
        sdb_event_free(ev);
        ws_fail(ws, "internal", "out of memory");
        return 0;
    }
    r->pos += head_len;
    ws->state = WS_OPEN;
    if (ws->timer_open) {
        uv_timer_stop(&ws->timer);
    }
    sdb_loop_push_event(ws->loop, ev);
    return 1;
}

/* A protocol violation by the server: say why in a close frame (best effort), then drop it. */
static void ws_protocol_error(sdb_ws *ws, int code, const char *message)
{
    if (!ws->close_sent && ws_queue_close(ws, code, message, strlen(message)) == 0) {
        ws->close_sent = 1;
        ws_flush(ws);
        if (ws->state == WS_CLOSED) {
            return;
        }
    }
    sdb_event *ev = ws->close_ev;
    if (ev) {
        ev->status = code;
        ev->data.len = 0;
        sdb_event_set_error(ev,
                            code == 1009   ? "too_large"
                            : code == 1011 ? "internal"
                                           : "protocol",
                            "%s", message);
    }
    ws_finish(ws);
}

static void ws_process(sdb_ws *ws)
{
    while (ws->state == WS_OPEN || (ws->state == WS_CLOSING && !ws->close_received)) {
        sdb_ws_item item;
        int code = 0;
        const char *error = NULL;
        int rc = sdb_ws_reader_next(&ws->reader, &item, &code, &error);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            ws_protocol_error(ws, code, error);
            return;
        }
        switch (item.kind) {
        case SDB_WS_ITEM_MESSAGE:
        case SDB_WS_ITEM_PONG: {
            sdb_event *ev = sdb_event_new(
                item.kind == SDB_WS_ITEM_MESSAGE ? SDB_EV_WS_MESSAGE : SDB_EV_WS_PONG, ws->id);
            if (ev == NULL || sdb_bytes_append(&ev->data, item.data, item.len) != 0) {
                sdb_event_free(ev);
                ws_protocol_error(ws, 1011, "out of memory while receiving a message");
                return;
            }
            ev->text = item.text;
            sdb_loop_push_event(ws->loop, ev);
            break;
        }
        case SDB_WS_ITEM_PING:
            /* Once our close frame is out, no other frame may follow it. */
            if (!ws->close_sent && ws_queue_frame(ws, SDB_WS_OP_PONG, item.data, item.len) != 0) {
                ws_fail(ws, "internal", "out of memory");
                return;
            }
            break;
        case SDB_WS_ITEM_CLOSE:
            ws->close_received = 1;
            ws->close_ev->status = item.code;
            ws->close_ev->data.len = 0;
            /* The reason is at most 123 bytes; without memory it is left out, not fatal. */
            (void)sdb_bytes_append(&ws->close_ev->data, item.data, item.len);
            if (!ws->close_sent) {
                /* Echo the code, as RFC 6455 5.5.1 asks. */
                if (ws_queue_close(ws, item.code, "", 0) != 0) {
                    ws_finish(ws);
                    return;
                }
                ws->close_sent = 1;
                ws->state = WS_CLOSING;
                ws_timer_start(ws, ws->close_timeout_ms, ws_on_close_timeout);
            }
            ws->finish_after_flush = 1;
            ws_flush(ws);
            return;
        }
    }
}

static void ws_eof(sdb_ws *ws)
{
    if (ws->state == WS_HANDSHAKE) {
        ws_fail(ws, "handshake", "the server closed the connection during the handshake");
    } else if (ws->close_received) {
        ws_finish(ws);
    } else {
        ws_fail(ws, "reset", "the server closed the connection without a close frame");
    }
}

static void ws_read(sdb_ws *ws)
{
    sdb_ws_reader *r = &ws->reader;
    while (ws->state == WS_HANDSHAKE || ws->state == WS_OPEN || ws->state == WS_CLOSING) {
        size_t avail = r->in.len - r->pos;
        size_t want = RECV_CHUNK;
        /* A large frame announces its length: make room for all of it in one growth. */
        if (r->want > avail && r->want - avail > want) {
            want = r->want - avail;
        }
        if (sdb_ws_reader_space(r, want) != 0) {
            ws_protocol_error(ws, 1011, "out of memory while receiving a message");
            return;
        }
        size_t n = 0;
        ws->errbuf[0] = '\0';
        CURLcode rc = curl_easy_recv(ws->easy, r->in.data + r->in.len, r->in.cap - r->in.len, &n);
        if (rc == CURLE_AGAIN) {
            break;
        }
        if (rc != CURLE_OK) {
            ws_fail(ws, "reset", "receiving failed: %s", curl_message(ws, rc));
            return;
        }
        if (n == 0) {
            ws_eof(ws);
            return;
        }
        r->in.len += n;
        if (ws->state == WS_HANDSHAKE && !ws_handshake(ws)) {
            continue;
        }
        ws_process(ws);
        /* After a large message, give its buffer back rather than keep it for the connection's
         * life (the events hold copies: nothing points into it any more). */
        if (r->pos == r->in.len && r->in.cap > KEEP_RECEIVE_BUFFER) {
            sdb_bytes_free(&r->in);
            r->pos = 0;
        }
    }
    ws_flush(ws); /* pongs queued while reading */
}

static void ws_on_poll(uv_poll_t *handle, int status, int events)
{
    sdb_ws *ws = handle->data;
    if (ws->state == WS_CLOSED) {
        return;
    }
    if (status < 0) {
        ws_fail(ws, "reset", "the connection's socket failed: %s", uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        ws_flush(ws);
    }
    if ((events & UV_READABLE) && ws->state != WS_CLOSED) {
        ws_read(ws);
    }
    ws_update_poll(ws);
}

/* The connect-only transfer finished: TCP (and TLS) is up, or it failed. */
static void ws_connected(sdb_multi *m, CURL *easy, CURLcode result)
{
    sdb_ws *ws = m->owner;
    if (ws->state != WS_CONNECTING) {
        return;
    }
    if (result != CURLE_OK) {
        ws_fail(ws, sdb_curl_error_kind(result), "%s", curl_message(ws, result));
        return;
    }
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD) {
        ws_fail(ws, "internal", "libcurl connected but gave no socket");
        return;
    }
    /* curl no longer drives this socket: its poll handles go, and ours takes over. */
    m->detached = 1;
    uv_timer_stop(&m->timer);
    sdb_multi_release_sockets(m);
    if (uv_poll_init_socket(&ws->loop->uv, &ws->poll, fd) != 0) {
        ws_fail(ws, "internal", "cannot watch the connection's socket");
        return;
    }
    ws->poll.data = ws;
    ws->poll_open = 1;
    ws->handles++;
    ws->state = WS_HANDSHAKE;
    ws_flush(ws); /* the upgrade request */
    ws_update_poll(ws);
}

static void ws_multi_error(sdb_multi *m, CURLMcode code)
{
    ws_fail(m->owner, "internal", "libcurl's multi interface failed: %s",
            curl_multi_strerror(code));
}

void sdb_ws_abort_all(sdb_loop *loop)
{
    while (loop->conns) {
        ws_teardown(loop->conns);
    }
}

size_t sdb_ws_count(sdb_loop *loop)
{
    size_t n = 0;
    for (sdb_ws *ws = loop->conns; ws; ws = ws->next) {
        n++;
    }
    return n;
}

/* ---- Lua API ---- */

static int token_ok(const char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c)) {
            return 0;
        }
    }
    return 1;
}

/* Replaces the `protocols` option at `idx` (a string "a, b", an array of strings, or nil) by its
 * checked string form. */
static void read_protocols(lua_State *L, int idx)
{
    if (lua_isnil(L, idx)) {
        return;
    }
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n, count = 0, i = 0;
        const char *s = lua_tolstring(L, idx, &n);
        while (i < n) {
            while (i < n && (s[i] == ' ' || s[i] == '\t')) {
                i++;
            }
            size_t start = i;
            while (i < n && s[i] != ',') {
                i++;
            }
            size_t end = i;
            while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
                end--;
            }
            if (!token_ok(s + start, end - start)) {
                luaL_error(L, "bad option 'protocols' (invalid subprotocol list '%s')", s);
            }
            count++;
            i++; /* the comma */
        }
        if (count == 0) {
            luaL_error(L, "bad option 'protocols' (empty subprotocol list)");
        }
        return;
    }
    if (!lua_istable(L, idx)) {
        luaL_error(L, "bad option 'protocols' (string or array of strings expected, got %s)",
                   luaL_typename(L, idx));
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Integer count = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= count; i++) {
        lua_rawgeti(L, idx, i);
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (lua_type(L, -1) != LUA_TSTRING || !token_ok(s, n)) {
            luaL_error(L, "bad option 'protocols' (invalid subprotocol name at %d)", (int)i);
        }
        lua_pop(L, 1);
        if (i > 1) {
            luaL_addstring(&b, ", ");
        }
        luaL_addlstring(&b, s, n);
    }
    luaL_pushresult(&b);
    lua_replace(L, idx);
    if (count == 0) {
        lua_pushnil(L);
        lua_replace(L, idx);
    }
}

static int put(sdb_bytes *b, const char *s)
{
    return sdb_bytes_append(b, s, strlen(s));
}

/* Builds the upgrade request for `http_url`; NULL on success, else what went wrong. */
static const char *build_request(sdb_ws *ws, lua_State *L, int headers_idx, const char *http_url,
                                 const char *key, sdb_bytes *out)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    const char *failed = NULL;
    if (u == NULL) {
        return "out of memory";
    }
    if (curl_url_set(u, CURLUPART_URL, http_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        failed = "the URL is not valid";
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK) {
        port = NULL; /* the scheme's default port */
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK) {
        query = NULL;
    }
    int bad = put(out, "GET ") || put(out, path[0] ? path : "/");
    if (query) {
        bad = bad || put(out, "?") || put(out, query);
    }
    bad = bad || put(out, " HTTP/1.1\r\nHost: ") || put(out, host);
    if (port) {
        bad = bad || put(out, ":") || put(out, port);
    }
    bad = bad || put(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ") ||
          put(out, key) || put(out, "\r\nSec-WebSocket-Version: 13\r\n");
    if (ws->protocols) {
        bad = bad || put(out, "Sec-WebSocket-Protocol: ") || put(out, ws->protocols) ||
              put(out, "\r\n");
    }
    if (!lua_isnil(L, headers_idx)) {
        /* Checked by sdb_check_headers already: lua_next over strings cannot raise. */
        lua_pushnil(L);
        while (lua_next(L, headers_idx) != 0) {
            size_t nl, vl;
            const char *name = lua_tolstring(L, -2, &nl);
            const char *value = lua_tolstring(L, -1, &vl);
            bad = bad || sdb_bytes_append(out, name, nl) || put(out, ": ") ||
                  sdb_bytes_append(out, value, vl) || put(out, "\r\n");
            lua_pop(L, 1);
        }
    }
    bad = bad || put(out, "\r\n");
    if (bad) {
        failed = "out of memory";
    }
done:
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return failed;
}

/* The C part of ws_connect, after every option was read: no Lua call in here can raise. */
static const char *ws_start(sdb_ws *ws, lua_State *L, const char *url, int headers_idx,
                            const sdb_tls_opts *tls)
{
    sdb_loop *loop = ws->loop;
    ws->close_ev = sdb_event_new(SDB_EV_WS_CLOSE, ws->id);
    if (ws->close_ev == NULL) {
        return "out of memory";
    }
    if (uv_timer_init(&loop->uv, &ws->timer) != 0) {
        return "cannot create a timer";
    }
    ws->timer.data = ws;
    ws->timer_open = 1;
    ws->handles++;

    unsigned char nonce[16];
    char key[25];
    if (fill_random(nonce, sizeof nonce) != 0) {
        return "no random bytes for the handshake key";
    }
    sdb_base64(nonce, sizeof nonce, key);
    sdb_ws_accept_value(key, 24, ws->accept);

    /* libcurl connects to the http(s) twin of the URL; the upgrade request is ours. */
    int secure = sdb_starts_with_ci(url, "wss://");
    size_t rest = strlen(url) - (secure ? 6 : 5);
    char *http_url = malloc(rest + 9);
    if (http_url == NULL) {
        return "out of memory";
    }
    memcpy(http_url, secure ? "https://" : "http://", secure ? 8 : 7);
    memcpy(http_url + (secure ? 8 : 7), url + (secure ? 6 : 5), rest + 1);

    sdb_bytes request = {0};
    const char *failed = build_request(ws, L, headers_idx, http_url, key, &request);
    if (failed == NULL) {
        ws_chunk *c = malloc(sizeof *c + request.len);
        if (c == NULL) {
            failed = "out of memory";
        } else {
            c->len = request.len;
            memcpy(c->data, request.data, request.len);
            ws_enqueue(ws, c);
        }
    }
    sdb_bytes_free(&request);
    if (failed == NULL) {
        ws->easy = curl_easy_init();
        CURL *e = ws->easy;
        CURLcode rc = e ? CURLE_OK : CURLE_OUT_OF_MEMORY;
#define SET(opt, value)                                                                            \
    do {                                                                                           \
        if (rc == CURLE_OK) {                                                                      \
            rc = curl_easy_setopt(e, opt, value);                                                  \
        }                                                                                          \
    } while (0)
        SET(CURLOPT_URL, http_url);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_CONNECT_ONLY, 1L);
        /* ALPN must not pick HTTP/2: the upgrade is an HTTP/1.1 exchange. */
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        /* Through a proxy, tunnel (CONNECT) so the upgrade request reaches the server itself. */
        SET(CURLOPT_HTTPPROXYTUNNEL, 1L);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_PRIVATE, (char *)ws);
        SET(CURLOPT_ERRORBUFFER, ws->errbuf);
        SET(CURLOPT_CONNECTTIMEOUT_MS, ws->connect_timeout_ms);
#undef SET
        if (rc == CURLE_OK) {
            rc = sdb_apply_tls(e, tls);
        }
        if (rc != CURLE_OK) {
            failed = curl_easy_strerror(rc);
        }
    }
    free(http_url);
    if (failed) {
        return failed;
    }
    ws->m.on_done = ws_connected;
    ws->m.on_error = ws_multi_error;
    ws->m.on_handle_closed = ws_driver_handle_closed;
    ws->m.owner = ws;
    if (sdb_multi_init(&ws->m, loop) != 0) {
        return "curl_multi_init failed";
    }
    CURLMcode mrc = curl_multi_add_handle(ws->m.multi, ws->easy);
    if (mrc != CURLM_OK) {
        return curl_multi_strerror(mrc);
    }
    ws->added = 1;
    ws_timer_start(ws, ws->connect_timeout_ms, ws_on_open_timeout);
    return NULL;
}

/*** Open a WebSocket connection; `ws_open` (or `ws_close` with an error) follows as an event.
 * Every connection ends with exactly one `ws_close` event while its loop is open.
 * @function loop:ws_connect
 * @tparam table options `url` (ws:// or wss://), `protocols` ("cbor", "a, b" or an array),
 * `headers` (name = value, added to the upgrade request), `connect_timeout` (seconds until open,
 * default 30), `close_timeout` (seconds to wait for the server's close frame, default 5),
 * `max_message` (bytes, default 128 MiB), `tls` ({ ca_file =, ca_path =, insecure = })
 * @return the connection
 * @usage local conn = loop:ws_connect{ url = "ws://127.0.0.1:8000/rpc", protocols = "cbor" }
 */
int sdb_ws_connect(lua_State *L)
{
    sdb_loop *loop = sdb_check_loop(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "url"); /* 3 */
    if (lua_type(L, 3) != LUA_TSTRING) {
        return luaL_error(L, "bad option 'url' (string expected, got %s)", luaL_typename(L, 3));
    }
    const char *url = lua_tostring(L, 3);
    if (!sdb_starts_with_ci(url, "ws://") && !sdb_starts_with_ci(url, "wss://")) {
        return luaL_error(L, "bad option 'url' (a ws:// or wss:// URL expected, got %s)", url);
    }
    lua_getfield(L, 2, "protocols"); /* 4 */
    read_protocols(L, 4);
    lua_getfield(L, 2, "headers"); /* 5 */
    sdb_check_headers(L, 5);
    long connect_ms = sdb_opt_ms(L, 2, "connect_timeout", SDB_DEFAULT_CONNECT_TIMEOUT_MS);
    long close_ms = sdb_opt_ms(L, 2, "close_timeout", SDB_DEFAULT_CLOSE_TIMEOUT_MS);
    size_t max_message = sdb_opt_bytes(L, 2, "max_message", SDB_DEFAULT_MAX_MESSAGE, 1);
    lua_getfield(L, 2, "tls"); /* 6 */
    sdb_tls_opts tls;
    sdb_read_tls(L, 6, &tls);

    ws_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->ws = NULL;
    u->id = 0;
    luaL_setmetatable(L, SDB_WS_MT);
    int ud = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, ud, 1); /* the connection keeps its loop alive */
    /* Reading the options and allocating the userdata may have run Lua code (metamethods,
     * finalizers) that closed the loop: fetch it again. No Lua call below runs code. */
    loop = sdb_check_loop(L, 1);
    /* From here the userdata owns the connection: on any failure its __gc frees it. */
    sdb_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        return sdb_raise(L, "internal", "out of memory");
    }
    sdb_live_add(SDB_LIVE_CONNECTION, 1);
    u->ws = ws;
    ws->lua_alive = 1;
    ws->state = WS_CONNECTING;
    ws->loop = loop;
    ws->id = u->id = loop->next_id++;
    ws->rnd_pos = sizeof ws->rnd;
    ws->connect_timeout_ms = connect_ms;
    ws->close_timeout_ms = close_ms;
    sdb_ws_reader_init(&ws->reader, max_message);
    ws->next = loop->conns;
    if (loop->conns) {
        loop->conns->prev = ws;
    }
    loop->conns = ws;
    ws->linked = 1;
    if (!lua_isnil(L, 4)) {
        ws->protocols = strdup(lua_tostring(L, 4));
    }
    const char *failed = (!lua_isnil(L, 4) && ws->protocols == NULL)
                             ? "out of memory"
                             : ws_start(ws, L, url, 5, &tls);
    if (failed) {
        ws_teardown(ws);
        return sdb_raise(L, "internal", "cannot open the WebSocket connection: %s", failed);
    }
    lua_pushvalue(L, ud);
    return 1;
}

static sdb_ws *check_ws(lua_State *L, ws_ud **out)
{
    ws_ud *u = luaL_checkudata(L, 1, SDB_WS_MT);
    if (out) {
        *out = u;
    }
    return u->ws;
}

static int raise_not_open(lua_State *L, sdb_ws *ws)
{
    ws_state st = ws ? ws->state : WS_CLOSED;
    return sdb_raise(L, st < WS_OPEN ? "not_open" : "closed", "the WebSocket connection is %s",
                     state_names[st]);
}

/*** Send one message (a binary frame, or a text frame when `text` is true).
 * Writes what the socket takes at once and queues the rest.
 * @function conn:send
 * @tparam string data
 * @tparam[opt=false] boolean text send a text frame (data must be UTF-8)
 * @treturn integer bytes still queued on this connection (for backpressure)
 * @usage conn:send(cbor.encode({ id = 1, method = "ping" }))
 */
static int ws_send(lua_State *L)
{
    sdb_ws *ws = check_ws(L, NULL);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int text = lua_toboolean(L, 3);
    if (ws == NULL || ws->state != WS_OPEN) {
        return raise_not_open(L, ws);
    }
    luaL_argcheck(L, !text || sdb_utf8_check((const unsigned char *)data, len) == len, 2,
                  "a text message must be UTF-8");
    if (ws_queue_frame(ws, text ? SDB_WS_OP_TEXT : SDB_WS_OP_BINARY, data, len) != 0) {
        return sdb_raise(L, "internal", "out of memory");
    }
    ws_flush(ws);
    ws_update_poll(ws);
    /* A write error closed the connection: its ws_close event says why. */
    lua_pushinteger(L, (lua_Integer)(ws->state == WS_CLOSED ? 0 : ws->out_bytes));
    return 1;
}

/*** Send a ping; the server's pong arrives as a `ws_pong` event.
 * @function conn:ping
 * @tparam[opt=""] string data at most 125 bytes
 * @usage conn:ping("1")
 */
static int ws_ping(lua_State *L)
{
    sdb_ws *ws = check_ws(L, NULL);
    size_t len;
    const char *data = luaL_optlstring(L, 2, "", &len);
    luaL_argcheck(L, len <= 125, 2, "a ping carries at most 125 bytes");
    if (ws == NULL || ws->state != WS_OPEN) {
        return raise_not_open(L, ws);
    }
    if (ws_queue_frame(ws, SDB_WS_OP_PING, data, len) != 0) {
        return sdb_raise(L, "internal", "out of memory");
    }
    ws_flush(ws);
    ws_update_poll(ws);
    return 0;
}

static int close_code_ok(lua_Integer code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

static void ws_begin_close(sdb_ws *ws, int code, const char *reason, size_t len)
{
    if (ws->state == WS_CONNECTING || ws->state == WS_HANDSHAKE) {
        ws->close_ev->status = 1006;
        sdb_event_set_error(ws->close_ev, "closed", "the connection was closed before it opened");
        ws_finish(ws);
        return;
    }
    if (ws_queue_close(ws, code, reason, len) != 0) {
        ws_fail(ws, "internal", "out of memory");
        return;
    }
    ws->close_sent = 1;
    ws->state = WS_CLOSING;
    ws_timer_start(ws, ws->close_timeout_ms, ws_on_close_timeout);
    ws_flush(ws);
    ws_update_poll(ws);
}

/*** Start the close handshake: send a close frame and wait (up to `close_timeout`) for the
 * server's; the `ws_close` event reports the end. Before the connection opened, it is dropped at
 * once. Closing a closing or closed connection does nothing.
 * @function conn:close
 * @tparam[opt=1000] integer code 1000-1003, 1007-1011 or 3000-4999
 * @tparam[opt=""] string reason UTF-8, at most 123 bytes
 * @treturn boolean whether this call started closing the connection
 * @usage conn:close(1000, "bye")
 */
static int ws_close(lua_State *L)
{
    sdb_ws *ws = check_ws(L, NULL);
    lua_Integer code = luaL_optinteger(L, 2, 1000);
    size_t len;
    const char *reason = luaL_optlstring(L, 3, "", &len);
    luaL_argcheck(L, close_code_ok(code), 2, "a close code is 1000-1003, 1007-1011 or 3000-4999");
    luaL_argcheck(L, len <= 123, 3, "a close reason is at most 123 bytes");
    luaL_argcheck(L, sdb_utf8_check((const unsigned char *)reason, len) == len, 3,
                  "a close reason must be UTF-8");
    if (ws == NULL || ws->state == WS_CLOSING || ws->state == WS_CLOSED) {
        lua_pushboolean(L, 0);
        return 1;
    }
    ws_begin_close(ws, (int)code, reason, len);
    lua_pushboolean(L, 1);
    return 1;
}

/* __close: a to-be-closed connection closes normally (its arguments are not a code). */
static int ws_tbc_close(lua_State *L)
{
    sdb_ws *ws = check_ws(L, NULL);
    if (ws && ws->state != WS_CLOSING && ws->state != WS_CLOSED) {
        ws_begin_close(ws, 1000, "", 0);
    }
    return 0;
}

/* __gc: nobody can use the connection any more; say goodbye (best effort) and drop it. */
static int ws_gc(lua_State *L)
{
    ws_ud *u;
    sdb_ws *ws = check_ws(L, &u);
    if (ws == NULL) {
        return 0;
    }
    u->ws = NULL;
    ws->lua_alive = 0;
    if (ws->state == WS_OPEN && ws_queue_close(ws, 1001, "", 0) == 0) {
        ws->close_sent = 1;
        ws_flush(ws);
    }
    if (ws->state != WS_CLOSED) {
        ws->close_ev->status = 1006;
        sdb_event_set_error(ws->close_ev, "closed", "the connection object was garbage-collected");
        ws_finish(ws);
    }
    ws_maybe_free(ws);
    return 0;
}

/*** The connection's id: events name it in their `conn` field.
 * @function conn:id
 * @treturn integer
 * @usage handlers[conn:id()] = on_event
 */
static int ws_id(lua_State *L)
{
    ws_ud *u;
    check_ws(L, &u);
    lua_pushinteger(L, u->id);
    return 1;
}

/*** Bytes queued for sending and not yet taken by the socket.
 * @function conn:buffered
 * @treturn integer
 * @usage if conn:buffered() > 16 * 1024 * 1024 then wait_a_bit() end
 */
static int ws_buffered(lua_State *L)
{
    sdb_ws *ws = check_ws(L, NULL);
    lua_pushinteger(L, ws ? (lua_Integer)ws->out_bytes : 0);
    return 1;
}

/*** The connection's state: "connecting", "open", "closing" or "closed".
 * @function conn:state
 * @treturn string
 * @usage assert(conn:state() == "open")
 */
static int ws_state_name(lua_State *L)
{
    sdb_ws *ws = check_ws(L, NULL);
    lua_pushstring(L, state_names[ws ? ws->state : WS_CLOSED]);
    return 1;
}

static int ws_tostring(lua_State *L)
{
    ws_ud *u;
    sdb_ws *ws = check_ws(L, &u);
    lua_pushfstring(L, "%s %d (%s)", SDB_WS_MT, (int)u->id,
                    state_names[ws ? ws->state : WS_CLOSED]);
    return 1;
}

void sdb_ws_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"send", ws_send},         {"ping", ws_ping},        {"close", ws_close}, {"id", ws_id},
        {"buffered", ws_buffered}, {"state", ws_state_name}, {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", ws_gc},
        {"__close", ws_tbc_close},
        {"__tostring", ws_tostring},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, SDB_WS_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
