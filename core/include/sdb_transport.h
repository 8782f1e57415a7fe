/*
 * The transport of surrealdb.core: a private libuv loop per loop object, HTTP through libcurl's
 * multi interface driven by that loop, and RFC 6455 WebSocket connections whose bytes libcurl moves
 * (CONNECT_ONLY + curl_easy_send/recv) while the framing is ours.
 *
 * Nothing here calls into Lua from a libuv or libcurl callback: callbacks queue event records on
 * the loop, and loop:poll() turns them into Lua tables. Every uv handle lives inside memory that is
 * freed only from its close callback (or after uv_run has drained the close callbacks).
 */
#ifndef SDB_TRANSPORT_H
#define SDB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <lua.h>
#include <uv.h>

#define SDB_LOOP_MT "surrealdb.core.loop"
#define SDB_WS_MT "surrealdb.core.ws"
#define SDB_WS_READER_MT "surrealdb.core.ws_reader"

/* Default limits: the largest HTTP response body and WebSocket message we accept (the size of a
 * WebSocket message SurrealDB itself accepts), and the connect timeout when none is given. */
#define SDB_DEFAULT_MAX_RESPONSE ((size_t)128 << 20)
#define SDB_DEFAULT_MAX_MESSAGE ((size_t)128 << 20)
#define SDB_DEFAULT_CONNECT_TIMEOUT_MS 30000L
#define SDB_DEFAULT_CLOSE_TIMEOUT_MS 5000L

/* ---- growable byte buffer (malloc based: it outlives any Lua call) ---- */

typedef struct sdb_bytes {
    unsigned char *data;
    size_t len;
    size_t cap;
} sdb_bytes;

/* Makes room for `extra` more bytes; 0 on success, -1 when out of memory (b is left intact). */
int sdb_bytes_reserve(sdb_bytes *b, size_t extra);
int sdb_bytes_append(sdb_bytes *b, const void *p, size_t n);
/* Drops the first n bytes. */
void sdb_bytes_consume(sdb_bytes *b, size_t n);
void sdb_bytes_free(sdb_bytes *b);

/* ---- events: what C reports to Lua ---- */

typedef enum {
    SDB_EV_HTTP,
    SDB_EV_WS_OPEN,
    SDB_EV_WS_MESSAGE,
    SDB_EV_WS_PONG,
    SDB_EV_WS_CLOSE,
} sdb_event_type;

typedef struct sdb_event {
    struct sdb_event *next;
    sdb_event_type type;
    lua_Integer id;         /* request id (http) or connection id (ws_*) */
    long status;            /* HTTP status, or WebSocket close code (0: none) */
    int text;               /* ws_message: the message was a text message */
    sdb_bytes data;         /* body, message, pong payload, close reason or chosen protocol */
    sdb_bytes headers;      /* http: the raw header block of the final response */
    const char *error_kind; /* static string; NULL when the event reports no error */
    char error_message[CURL_ERROR_SIZE + 64];
} sdb_event;

/* ---- libcurl multi driven by the loop (multi-uv.c's pattern) ---- */

typedef struct sdb_multi sdb_multi;
typedef struct sdb_loop sdb_loop;

typedef struct sdb_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    sdb_multi *m;
    struct sdb_sock *prev, *next;
} sdb_sock;

struct sdb_multi {
    sdb_loop *loop;
    CURLM *multi;
    uv_timer_t timer; /* curl's timeout */
    sdb_sock *socks;  /* poll handles of the sockets curl asked us to watch */
    /* Called for each finished transfer (CURLMSG_DONE). */
    void (*on_done)(sdb_multi *m, CURL *easy, CURLcode result);
    /* Called when curl_multi_socket_action itself fails: the transfers cannot be trusted. */
    void (*on_error)(sdb_multi *m, CURLMcode code);
    /* Called after each of this driver's uv handles has closed (may be NULL). */
    void (*on_handle_closed)(sdb_multi *m);
    void *owner;
    int open_handles; /* uv handles of this driver not yet through their close callback */
    int timer_open;
    int detached; /* curl's hooks are ignored: the connect-only transfer handed its socket over */
    int closing;  /* curl_multi_cleanup is running or ran */
};

/* Initialises the driver (its timer and its CURLM); 0 on success. On failure nothing is left
 * open except, when the timer was initialised, that timer (closed by sdb_multi_close). */
int sdb_multi_init(sdb_multi *m, sdb_loop *loop);
/* Stops watching curl's sockets: closes their poll handles and forgets them in curl. */
void sdb_multi_release_sockets(sdb_multi *m);
/* curl_multi_cleanup, then closes the uv handles; the memory of `m` must stay valid until
 * open_handles is 0. Safe to call twice. */
void sdb_multi_close(sdb_multi *m);
/* Reads curl's finished transfers and hands them to on_done. */
void sdb_multi_check(sdb_multi *m);

/* ---- the loop ---- */

typedef struct sdb_http_req sdb_http_req;
typedef struct sdb_ws sdb_ws;

struct sdb_loop {
    uv_loop_t uv;
    sdb_multi http;  /* one CURLM for all HTTP requests: its connection cache keeps them alive */
    uv_timer_t wake; /* bounds how long poll waits */
    int wake_open;
    int wake_fired;
    int running; /* inside our uv_run: queuing an event must stop it blocking */
    int closed;
    int uv_ready;   /* uv_loop_init succeeded */
    int curl_ready; /* curl_global_init succeeded */
    sdb_event *head, *tail;
    /* Events poll is turning into Lua tables: off the queue, so a finalizer that runs meanwhile
     * (cancel, close) cannot free one under it. */
    sdb_event *converting;
    int close_requested; /* loop:close() ran while poll was converting: poll closes the loop */
    sdb_http_req *reqs;  /* requests in flight */
    sdb_ws *conns;       /* WebSocket connections not yet torn down */
    lua_Integer next_id;
};

typedef struct sdb_loop_ud {
    sdb_loop *loop;
} sdb_loop_ud;

/* Live C objects of the core in this process, for core.transport_stats(): the specs check that
 * closing and collecting gives every one of them back. */
typedef enum { SDB_LIVE_LOOP, SDB_LIVE_REQUEST, SDB_LIVE_CONNECTION, SDB_LIVE_EVENT } sdb_live_kind;
void sdb_live_add(sdb_live_kind kind, int delta);

void sdb_loop_push_event(sdb_loop *loop, sdb_event *ev);
/* A zeroed event of `type` for `id`, or NULL when out of memory. */
sdb_event *sdb_event_new(sdb_event_type type, lua_Integer id);
void sdb_event_free(sdb_event *ev);
/* Formats the event's error kind and message. */
void sdb_event_set_error(sdb_event *ev, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raises a Lua error whose value is a table { kind =, message = }. */
int sdb_raise(lua_State *L, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The loop of argument `idx`, raising when it is closed. */
sdb_loop *sdb_check_loop(lua_State *L, int idx);
/* Seconds (a Lua number, optional field of the table at `idx`) as milliseconds; `def` when nil. */
long sdb_opt_ms(lua_State *L, int idx, const char *field, long def);
/* A byte count (an integer >= `min`, optional field of the table at `idx`); `def` when nil. */
size_t sdb_opt_bytes(lua_State *L, int idx, const char *field, size_t def, lua_Integer min);
/* Whether `s` starts with the lower-case ASCII `prefix`, ignoring the case of `s`. */
int sdb_starts_with_ci(const char *s, const char *prefix);
/* The kind of a curl error: "connect", "timeout", "tls", "reset", "too_large", "protocol", ... */
const char *sdb_curl_error_kind(CURLcode code);
/* The `tls` option: { ca_file = path, ca_path = dir, insecure = bool }. */
typedef struct sdb_tls_opts {
    const char *ca_file;
    const char *ca_path;
    int insecure;
} sdb_tls_opts;
/* Reads and checks the `tls` option table at `idx` (nil allowed), raising on a bad field. It pushes
 * two values (the strings, which must stay on the stack until curl copied them). */
void sdb_read_tls(lua_State *L, int idx, sdb_tls_opts *tls);
/* Applies the options to an easy handle (curl copies the strings). Never raises. */
CURLcode sdb_apply_tls(CURL *easy, const sdb_tls_opts *tls);

/* loop.c: adds core.loop_new, core.ws_frame, core.ws_reader, core.sha1, core.ws_accept. */
void sdb_transport_register(lua_State *L);

/* http.c */
/* Checks a `headers` option (string names to string values, no CR/LF, or nil) at `idx`; returns
 * the length of the longest "Name: value" line. */
size_t sdb_check_headers(lua_State *L, int idx);
int sdb_http_request(lua_State *L);
int sdb_http_cancel(lua_State *L);
/* A transfer of the loop's multi finished: queue its event, free the request. */
void sdb_http_done(sdb_loop *loop, CURL *easy, CURLcode result);
/* curl_multi_socket_action failed: every request in flight gets an error event. */
void sdb_http_fail_all(sdb_loop *loop, CURLMcode code);
/* Aborts every request without events (the loop is closing). */
void sdb_http_abort_all(sdb_loop *loop);
size_t sdb_http_count(sdb_loop *loop);

/* ws.c */
int sdb_ws_connect(lua_State *L);
void sdb_ws_register(lua_State *L);
/* Tears down every connection of the loop without events (the loop is closing). */
void sdb_ws_abort_all(sdb_loop *loop);
size_t sdb_ws_count(sdb_loop *loop);

/* ---- RFC 6455 framing (ws_frame.c): pure functions, also exposed to Lua for tests ---- */

enum {
    SDB_WS_OP_CONT = 0x0,
    SDB_WS_OP_TEXT = 0x1,
    SDB_WS_OP_BINARY = 0x2,
    SDB_WS_OP_CLOSE = 0x8,
    SDB_WS_OP_PING = 0x9,
    SDB_WS_OP_PONG = 0xA,
};

/* The largest frame header: 2 bytes, 8 of extended length, 4 of mask. */
#define SDB_WS_MAX_HEADER 14

/* Writes a frame header into out (at least SDB_WS_MAX_HEADER bytes); returns its length. */
size_t sdb_ws_frame_header(unsigned char *out, int fin, int opcode, uint64_t len,
                           const unsigned char *mask);
/* dst[i] = src[i] ^ key[(offset + i) % 4]; dst may equal src. */
void sdb_ws_mask(unsigned char *dst, const unsigned char *src, size_t n, const unsigned char key[4],
                 size_t offset);

typedef enum {
    SDB_WS_ITEM_MESSAGE,
    SDB_WS_ITEM_PING,
    SDB_WS_ITEM_PONG,
    SDB_WS_ITEM_CLOSE,
} sdb_ws_item_kind;

typedef struct sdb_ws_item {
    sdb_ws_item_kind kind;
    int text;                  /* MESSAGE: a text message */
    int code;                  /* CLOSE: the status code, 1005 when the frame had none */
    const unsigned char *data; /* payload (the reason for CLOSE); valid until the next call */
    size_t len;
} sdb_ws_item;

/* The reader: bytes from the server in, whole messages and control frames out. */
typedef struct sdb_ws_reader {
    sdb_bytes in; /* received, not yet parsed bytes start at `pos` */
    size_t pos;
    sdb_bytes msg;  /* the fragments of a message being reassembled */
    int msg_opcode; /* opcode of the message being reassembled, 0 when none */
    size_t max_message;
    size_t want; /* bytes the frame being read needs in total (a hint for the receive size) */
    int failed;  /* a protocol error stops the reader */
} sdb_ws_reader;

void sdb_ws_reader_init(sdb_ws_reader *r, size_t max_message);
void sdb_ws_reader_free(sdb_ws_reader *r);
/* Makes room for at least `n` more bytes at in.data + in.len (compacting first); 0 or -1 (OOM). */
int sdb_ws_reader_space(sdb_ws_reader *r, size_t n);
/* Returns 1 with the next item, 0 when more bytes are needed, or -1 on a protocol violation (then
 * *close_code is the close code to send, *error says what, and the reader stays failed). */
int sdb_ws_reader_next(sdb_ws_reader *r, sdb_ws_item *item, int *close_code, const char **error);
void sdb_ws_frame_register(lua_State *L);

/* ---- SHA-1 and base64 (sha1.c), for Sec-WebSocket-Accept ---- */

void sdb_sha1(const unsigned char *data, size_t len, unsigned char out[20]);
/* Writes base64 of data (with padding) and a NUL; out needs 4 * ((len + 2) / 3) + 1 bytes. */
size_t sdb_base64(const unsigned char *data, size_t len, char *out);
/* The Sec-WebSocket-Accept value of a Sec-WebSocket-Key: base64(sha1(key ++ GUID)), 28 chars. */
void sdb_ws_accept_value(const char *key, size_t key_len, char out[29]);
void sdb_sha1_register(lua_State *L);

#endif
