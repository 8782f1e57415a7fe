// The RPC layer between clients and the embedded engine: request validation, session mapping,
// transaction and live-query ownership, response framing. It never decodes payloads: parameters
// and results are spliced as raw CBOR.
//
// Sessions. The engine has one flat namespace of sessions shared by everything. Every client-visible
// session is mapped to a fresh random engine session: a WebSocket connection gets a default engine
// session on open; a client's `attach` with session id X creates another engine session that only
// this connection reaches through X; HTTP requests without a session run in a fresh engine session
// each. A client can never name an engine session itself, so it cannot reach another connection's
// sessions, and two connections may attach the same X independently (as on the real server, where
// sessions belong to a connection).

import { randomUUID } from "node:crypto";
import {
  CborError,
  KEY_ERROR,
  KEY_ID,
  KEY_RESULT,
  KEY_SESSION,
  NONE,
  encHead,
  encText,
  encode,
  kindAt,
  readArray,
  readMap,
  readText,
  readUuid,
  uuidValue,
} from "./cbor.mjs";

export const METHODS = new Set([
  "ping", "info", "use", "signup", "signin", "authenticate", "refresh", "invalidate", "revoke",
  "reset", "kill", "live", "let", "set", "unset", "select", "insert", "create", "upsert", "update",
  "merge", "patch", "delete", "version", "query", "relate", "run", "insert_relation", "attach",
  "sessions", "detach", "begin", "commit", "cancel",
]);

// ---------------------------------------------------------------------------------------------
// Errors, shaped as SurrealDB 3.x sends them: {code, message, kind, details?, cause}

function rpcError(code, message, kind, details) {
  const e = { code, message, kind };
  if (details !== undefined) e.details = details;
  e.cause = NONE;
  return e;
}
export const errors = {
  parse: () => rpcError(-32700, "Parse error", "Validation", { kind: "Parse" }),
  invalidRequest: (message = "Invalid request") => rpcError(-32600, message, "Validation", { kind: "InvalidRequest" }),
  invalidParams: (message) => rpcError(-32603, message, "Validation", { kind: "InvalidParams" }),
  methodNotFound: (name) => rpcError(-32601, "Method not found", "NotFound", { kind: "Method", details: { name } }),
  sessionNotFound: (id) => rpcError(-32000, `Session not found: ${id}`, "NotFound", { kind: "Session", details: { id } }),
  sessionExists: (id) => rpcError(-32000, `Session already exists: ${id}`, "AlreadyExists", { kind: "Session", details: { id } }),
  lqNotSupported: () => rpcError(-32604, "Live query not supported", "Configuration", { kind: "LiveQueryNotSupported" }),
  internal: (message) => rpcError(-32000, message, "Internal"),
  auth: () => rpcError(-32002, "There was a problem with authentication", "NotAllowed", { kind: "Auth", details: { kind: "InvalidAuth" } }),
};

// ---------------------------------------------------------------------------------------------
// Helpers

const hex = (b) => b.toString("hex");
export const uuidString = (b) => {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const newUuid = () => Buffer.from(randomUUID().replace(/-/g, ""), "hex");
const uuidBytes = (b) => uuidValue(b).bytes;
const ERR_PREFIX = Buffer.from([0xa1, 0x65, 0x65, 0x72, 0x72, 0x6f, 0x72]); // {"error": ...}
const NONE_BYTES = NONE.bytes;
const ID_KINDS = new Set(["uint", "nint", "float", "text", "null", "tag:37", "tag:9", "tag:0", "tag:12", "tag:10", "tag:2", "tag:3"]);

/** One framed response: {id?, session?, result|error}, as the list of buffers to send in order. */
export function frame(idRaw, sessionRaw, isError, value) {
  const n = 1 + (idRaw ? 1 : 0) + (sessionRaw ? 1 : 0);
  const head = [Buffer.from([0xa0 + n])];
  if (idRaw) head.push(KEY_ID, idRaw);
  if (sessionRaw) head.push(KEY_SESSION, sessionRaw);
  head.push(isError ? KEY_ERROR : KEY_RESULT);
  return [Buffer.concat(head), value];
}

/**
 * Validates one request as SurrealDB's Request::from_object does. Returns
 * { req } or { error, idRaw } (idRaw when the id could be read).
 */
export function parseRequest(buf) {
  let map;
  try {
    map = readMap(buf, 0);
  } catch (err) {
    if (err instanceof CborError) return { error: errors.parse(), idRaw: null };
    throw err;
  }
  // A request that is not a map is a parse error on the real server (format.rs: req_ws).
  if (!map) return { error: errors.parse(), idRaw: null };
  if (map.end !== buf.length) return { error: errors.parse(), idRaw: null };
  const req = { buf, entries: map.entries, idRaw: null, method: null, session: null, txn: null, params: null };
  const fields = new Map();
  for (const e of map.entries) {
    if (e.key === null) return { error: errors.parse(), idRaw: null };
    fields.set(e.key, e);
  }
  // id: null, uuid, number, string or datetime; NONE means absent.
  const id = fields.get("id");
  let idError = false;
  if (id) {
    const k = kindAt(buf, id.valStart);
    if (ID_KINDS.has(k)) req.idRaw = buf.subarray(id.valStart, id.end);
    else if (k !== "undefined" && k !== "tag:6") idError = true;
  }
  if (idError) return { error: errors.invalidRequest(), idRaw: null };
  const bad = () => ({ error: errors.invalidRequest(), idRaw: req.idRaw, sessionRaw: req.session ? uuidBytes(req.session) : null });
  const version = fields.get("version");
  if (version) {
    const k = kindAt(buf, version.valStart);
    const raw = buf.subarray(version.valStart, version.end);
    if (!(k === "null" || k === "undefined" || k === "tag:6" || (k === "uint" && (raw[0] === 1 || raw[0] === 2)))) return bad();
  }
  for (const name of ["session", "txn"]) {
    const f = fields.get(name);
    if (!f) continue;
    const k = kindAt(buf, f.valStart);
    if (k === "null" || k === "undefined" || k === "tag:6") continue;
    const u = readUuid(buf, f.valStart);
    if (!u) return bad();
    req[name] = u;
  }
  const method = fields.get("method");
  const name = method ? readText(buf, method.valStart) : null;
  if (name === null) return bad();
  req.method = name;
  const params = fields.get("params");
  if (params && kindAt(buf, params.valStart) === "array") req.params = params;
  return { req };
}

/** The engine request: the client's fields, minus session and txn, plus the engine's own. */
function engineRequest(req, engineSession, txn) {
  const parts = [];
  let n = 0;
  for (const e of req.entries) {
    if (e.key === "session" || e.key === "txn") continue;
    parts.push(req.buf.subarray(e.start, e.end));
    n++;
  }
  if (txn) {
    parts.push(encText("txn"), uuidBytes(txn));
    n++;
  }
  if (engineSession) {
    parts.push(KEY_SESSION, uuidBytes(engineSession));
    n++;
  }
  return Buffer.concat([encHead(5, n), ...parts]);
}

/** Splits an engine answer into {isError, value} without decoding the result. */
function classify(r) {
  if (r.length > ERR_PREFIX.length && r[0] === 0xa1 && r.subarray(0, 7).equals(ERR_PREFIX)) {
    try {
      const m = readMap(r, 7);
      if (m && m.end === r.length && m.entries.some((e) => e.key === "code") && m.entries.some((e) => e.key === "message")) {
        return { isError: true, value: r.subarray(7) };
      }
    } catch {
      /* not an error object */
    }
  }
  return { isError: false, value: r };
}

function errorCode(value) {
  try {
    const m = readMap(value, 0);
    const c = m?.entries.find((e) => e.key === "code");
    if (!c) return null;
    const raw = value.subarray(c.valStart, c.end);
    if (raw[0] >> 5 !== 1) return null;
    const ai = raw[0] & 31;
    const v = ai < 24 ? ai : ai === 24 ? raw[1] : ai === 25 ? raw.readUInt16BE(1) : ai === 26 ? raw.readUInt32BE(1) : null;
    return v === null ? null : -1 - v;
  } catch {
    return null;
  }
}

/** First param as text (the SQL of `query`), or null. */
function firstParamText(req) {
  if (!req.params) return null;
  try {
    const items = readArray(req.buf, req.params.valStart);
    if (!items || items.length === 0) return null;
    return readText(req.buf, items[0].start);
  } catch {
    return null;
  }
}

function firstParamUuid(req) {
  if (!req.params) return null;
  try {
    const items = readArray(req.buf, req.params.valStart);
    if (!items || items.length === 0) return null;
    return readUuid(req.buf, items[0].start, { allowText: false });
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

class Sess {
  constructor(client, clientId) {
    this.client = client;
    this.clientId = clientId; // 16 bytes, or null for a default/ephemeral session
    this.engine = newUuid();
    this.engineHex = hex(this.engine);
    this.lives = new Set();
    this.closed = false;
  }
  get label() {
    return this.clientId ? uuidString(this.clientId) : "default";
  }
}

export class Client {
  /** kind: "ws" (one connection) or "http" (the persistent sessions attached over HTTP). */
  constructor(hub, kind, id = newUuid()) {
    this.hub = hub;
    this.kind = kind;
    this.id = id; // connection id (16 bytes)
    this.idString = uuidString(id);
    this.sessions = new Map(); // hex(client session id) -> Sess
    this.def = null;
    this.txns = new Set();
    this.closed = false;
    this.closing = null; // the promise of closeClient
    this.send = null; // (buffers) => void, for notifications
  }
}

export class Hub {
  constructor({ engine, execute, logError }) {
    this.engine = engine;
    this.execute = execute;
    this.logError = logError || (() => {});
    this.engineSessions = new Map(); // engine session hex -> Sess
    this.lives = new Map(); // live query hex -> Sess
    this.clients = new Set();
    this.http = new Client(this, "http");
    this.janitor = null;
    this.lazyKilled = new Set();
  }

  // -- engine calls ----------------------------------------------------------------------------

  /** Runs an engine request; returns {isError, value}. Never throws. */
  async run(bytes) {
    let r;
    try {
      r = await this.execute(bytes);
    } catch (err) {
      const msg = String(err?.message ?? err);
      if (/invalid request/i.test(msg)) return { isError: true, value: encode(errors.invalidRequest()), thrown: msg };
      if (/panic/i.test(msg)) return { isError: true, value: encode(errors.internal(msg)), thrown: msg };
      // The engine throws when it cannot decode the request's values (bad UTF-8, bad tag contents...).
      return { isError: true, value: encode(errors.parse()), thrown: msg };
    }
    return classify(r);
  }

  /** An internal call: method, params (JS values for encode), engine session (16 bytes) or null. */
  call(method, params, engineSession) {
    const req = { method };
    if (params) req.params = params;
    if (engineSession) req.session = uuidValue(engineSession);
    return this.run(encode(req));
  }

  // -- sessions --------------------------------------------------------------------------------

  async openSession(sess) {
    this.engineSessions.set(sess.engineHex, sess);
    const r = await this.call("attach", null, sess.engine);
    if (r.isError) this.engineSessions.delete(sess.engineHex);
    return r;
  }

  /** Kills the session's live queries and detaches it. Never throws. */
  async closeSession(sess) {
    if (sess.closed) return;
    sess.closed = true;
    try {
      const lives = [...sess.lives];
      sess.lives.clear();
      for (const lid of lives) this.lives.delete(lid);
      await Promise.all(lives.map((lid) => this.kill(lid, sess)));
      const r = await this.call("detach", null, sess.engine);
      if (r.isError) this.logError(`detach of a session failed`);
    } catch (err) {
      this.logError(`closing a session: ${err?.stack ?? err}`);
    } finally {
      this.engineSessions.delete(sess.engineHex);
    }
  }

  /** A session with a namespace selected, for kills whose owner session cannot do them. */
  async janitorSession() {
    if (!this.janitor) {
      this.janitor = (async () => {
        const s = new Sess(null, null);
        await this.call("attach", null, s.engine);
        await this.call("use", ["main", "main"], s.engine);
        return s;
      })();
    }
    return this.janitor;
  }

  async kill(lidHex, sess) {
    const lid = uuidValue(Buffer.from(lidHex, "hex"));
    if (sess) {
      const r = await this.call("kill", [lid], sess.engine);
      if (!r.isError) return;
    }
    const j = await this.janitorSession();
    const r = await this.call("kill", [lid], j.engine);
    if (r.isError) this.logError(`could not kill live query ${uuidString(Buffer.from(lidHex, "hex"))}`);
  }

  trackLive(sess, lidHex) {
    if (this.lives.has(lidHex)) return;
    if (sess.closed || sess.client.closed || sess.client.kind !== "ws") {
      // HTTP has no live queries (as on the real server), and a closed owner gets none either.
      this.kill(lidHex, sess.closed ? null : sess).catch((err) => this.logError(String(err)));
      return;
    }
    this.lives.set(lidHex, sess);
    sess.lives.add(lidHex);
  }

  /** Finds the live query ids in a `query` result: statements with type "live". */
  scanQueryLives(value, sess) {
    try {
      const items = readArray(value, 0);
      if (!items) return;
      for (const it of items) {
        const m = readMap(value, it.start);
        if (!m) continue;
        let isLive = false;
        let result = null;
        for (const e of m.entries) {
          if (e.key === "type") isLive = readText(value, e.valStart) === "live";
          else if (e.key === "result") result = e.valStart;
        }
        if (isLive && result !== null) {
          const u = readUuid(value, result, { allowText: false });
          if (u) this.trackLive(sess, hex(u));
        }
      }
    } catch (err) {
      this.logError(`scanning a query result: ${err}`);
    }
  }

  // -- notifications ---------------------------------------------------------------------------

  onNotification(buf) {
    let m;
    try {
      m = readMap(buf, 0);
    } catch {
      m = null;
    }
    if (!m) return;
    let lid = null;
    let action = null;
    let sessEntry = null;
    for (const e of m.entries) {
      if (e.key === "id") lid = readUuid(buf, e.valStart, { allowText: false });
      else if (e.key === "action") action = readText(buf, e.valStart);
      else if (e.key === "session") sessEntry = e;
    }
    if (!lid) return;
    const lidHex = hex(lid);
    let sess = this.lives.get(lidHex);
    if (!sess) {
      const sid = sessEntry ? readUuid(buf, sessEntry.valStart, { allowText: false }) : null;
      const owner = sid ? this.engineSessions.get(hex(sid)) : undefined;
      if (owner && !owner.closed && owner.client) {
        // A live query we did not see start (for example from a function): learn its owner.
        this.trackLive(owner, lidHex);
        sess = this.lives.get(lidHex);
      } else if (action !== "KILLED" && !(owner && owner.closed) && !this.lazyKilled.has(lidHex)) {
        // Its session is gone: nobody can receive it, so stop it.
        this.lazyKilled.add(lidHex);
        if (this.lazyKilled.size > 10000) this.lazyKilled.clear();
        this.kill(lidHex, null).catch((err) => this.logError(String(err)));
      }
      if (!sess) return;
    }
    const client = sess.client;
    if (sess.closed || client.closed || !client.send) return;
    if (action === "KILLED") {
      this.lives.delete(lidHex);
      sess.lives.delete(lidHex);
    }
    // Rewrite the engine's session id into the one the client knows.
    const parts = [encHead(5, m.entries.length)];
    for (const e of m.entries) {
      if (e === sessEntry && kindAt(buf, e.valStart) === "tag:37") {
        parts.push(buf.subarray(e.start, e.valStart), uuidBytes(sess.clientId ?? client.id));
      } else {
        parts.push(buf.subarray(e.start, e.end));
      }
    }
    const body = Buffer.concat(parts);
    client.send(frame(null, sess.clientId ? uuidBytes(sess.clientId) : null, false, body));
  }

  // -- clients ---------------------------------------------------------------------------------

  /** Opens a WebSocket client: its default session. Resolves to the client, or throws. */
  async openClient(client) {
    client.def = new Sess(client, null);
    this.clients.add(client);
    const r = await this.openSession(client.def);
    if (r.isError) {
      this.clients.delete(client);
      throw new Error("could not attach an engine session");
    }
    return client;
  }

  /** Ends a client: cancels its transactions, kills its live queries, detaches its sessions. */
  closeClient(client) {
    if (!client.closing) client.closing = this.#closeClient(client);
    return client.closing;
  }

  async #closeClient(client) {
    client.closed = true;
    try {
      const txns = [...client.txns];
      client.txns.clear();
      await Promise.all(txns.map((t) => this.call("cancel", [uuidValue(Buffer.from(t, "hex"))], null)));
      const sessions = [...client.sessions.values()];
      client.sessions.clear();
      if (client.def) sessions.push(client.def);
      await Promise.all(sessions.map((s) => this.closeSession(s)));
    } finally {
      this.clients.delete(client);
    }
  }

  // -- requests --------------------------------------------------------------------------------

  /**
   * Runs one validated request for a client. `def` is the session for requests without a
   * `session` field. Returns {isError, value}.
   */
  async dispatch(client, req, def) {
    const m = req.method;
    // Unknown methods, ping and version do not touch a session (as on the real server).
    if (!METHODS.has(m) || m === "ping" || m === "version") return this.run(engineRequest(req, null, null));
    if (m === "sessions") {
      return { isError: false, value: encode([...client.sessions.values()].map((s) => uuidValue(s.clientId))) };
    }
    if (m === "attach" || m === "detach") {
      if (!req.session) return { isError: true, value: encode(errors.invalidParams("Expected a session ID")) };
      const key = hex(req.session);
      if (m === "attach") {
        if (client.sessions.has(key)) return { isError: true, value: encode(errors.sessionExists(uuidString(req.session))) };
        const sess = new Sess(client, req.session);
        client.sessions.set(key, sess);
        const r = await this.openSession(sess);
        if (r.isError) {
          if (client.sessions.get(key) === sess) client.sessions.delete(key);
          return r;
        }
        if (client.closed || client.sessions.get(key) !== sess) await this.closeSession(sess);
        return r;
      }
      const sess = client.sessions.get(key);
      if (sess) {
        client.sessions.delete(key);
        await this.closeSession(sess);
      }
      return { isError: false, value: NONE_BYTES };
    }
    let sess = def;
    if (req.session) {
      sess = client.sessions.get(hex(req.session));
      if (!sess) return { isError: true, value: encode(errors.sessionNotFound(uuidString(req.session))) };
    }
    if (client.kind === "http") {
      if (m === "begin" || m === "commit" || m === "cancel") return { isError: true, value: encode(errors.methodNotFound(m)) };
      if (m === "live") return { isError: true, value: encode(errors.lqNotSupported()) };
    }
    if (req.txn && !client.txns.has(hex(req.txn))) {
      return { isError: true, value: encode(errors.invalidParams("Transaction not found")) };
    }
    let endTxn = null;
    if (m === "commit" || m === "cancel") {
      const t = firstParamUuid(req);
      if (t) {
        endTxn = hex(t);
        if (!client.txns.has(endTxn)) return { isError: true, value: encode(errors.invalidParams("Transaction not found")) };
        client.txns.delete(endTxn);
      }
    }
    const r = await this.run(engineRequest(req, sess ? sess.engine : null, req.txn));
    if (!r.isError && sess) {
      if (m === "begin") {
        const t = readUuid(r.value, 0, { allowText: false });
        if (t) {
          if (client.closed) this.call("cancel", [uuidValue(t)], null).catch(() => {});
          else client.txns.add(hex(t));
        }
      } else if (m === "live") {
        const lid = readUuid(r.value, 0, { allowText: false });
        if (lid) this.trackLive(sess, hex(lid));
      } else if (m === "query") {
        const sql = firstParamText(req);
        if (sql !== null && /live/i.test(sql)) this.scanQueryLives(r.value, sess);
      }
    }
    return r;
  }

  /** A WebSocket message: returns the response buffers, or null when there is nothing to send. */
  async handleWs(client, buf, maxMessage, info) {
    if (buf.length > maxMessage) {
      let idRaw = null;
      const p = parseRequest(buf);
      if (p.req) idRaw = p.req.idRaw;
      else idRaw = p.idRaw;
      info.method = p.req ? p.req.method : "?";
      info.code = -32600;
      return frame(idRaw, null, true, encode(errors.invalidRequest(`Message too large: ${buf.length} bytes, the limit is ${maxMessage} bytes`)));
    }
    const p = parseRequest(buf);
    if (!p.req) {
      info.method = "?";
      info.code = p.error.code;
      return frame(p.idRaw, p.sessionRaw ?? null, true, encode(p.error));
    }
    const req = p.req;
    info.method = req.method;
    info.session = req.session ? uuidString(req.session) : "default";
    const r = await this.dispatch(client, req, client.def);
    if (r.isError) info.code = errorCode(r.value);
    return frame(req.idRaw, req.session ? uuidBytes(req.session) : null, r.isError, r.value);
  }

  /**
   * An HTTP /rpc request. `h` = {ns, db, basic: {user, pass} | null, bearer, authNs, authDb}.
   * Returns {status, parts}.
   */
  async handleHttp(buf, h, info) {
    const p = parseRequest(buf);
    if (!p.req) {
      info.method = "?";
      info.code = p.error.code;
      return { status: 400, parts: frame(p.idRaw, null, true, encode(p.error)) };
    }
    const req = p.req;
    info.method = req.method;
    info.session = req.session ? uuidString(req.session) : "request";
    const m = req.method;
    const needsDefault = !req.session && METHODS.has(m) && !["ping", "version", "sessions", "attach", "detach"].includes(m);
    const hasAuth = !!(h.basic || h.bearer);
    let sess = null;
    try {
      if (needsDefault || hasAuth) {
        sess = new Sess(this.http, null);
        const a = await this.openSession(sess);
        if (a.isError) {
          sess = null;
          info.code = errorCode(a.value);
          return { status: 200, parts: frame(req.idRaw, null, true, a.value) };
        }
        if (h.basic) {
          const creds = { user: h.basic.user, pass: h.basic.pass };
          if (h.authDb && !h.authNs) return this.unauthorized(info);
          if (h.authNs) creds.ns = h.authNs;
          if (h.authNs && h.authDb) creds.db = h.authDb;
          const r = await this.call("signin", [creds], sess.engine);
          if (r.isError) return this.unauthorized(info);
        }
        if (needsDefault && (h.ns !== null || h.db !== null)) {
          const r = await this.call("use", [h.ns, h.db], sess.engine);
          if (r.isError) {
            info.code = errorCode(r.value);
            return { status: 200, parts: frame(req.idRaw, null, true, r.value) };
          }
        }
        if (h.bearer) {
          const r = await this.call("authenticate", [h.bearer], sess.engine);
          if (r.isError) return this.unauthorized(info);
        }
      }
      const r = await this.dispatch(this.http, req, needsDefault ? sess : null);
      if (r.isError) info.code = errorCode(r.value);
      return { status: 200, parts: frame(req.idRaw, req.session ? uuidBytes(req.session) : null, r.isError, r.value) };
    } finally {
      if (sess) this.closeSession(sess).catch((err) => this.logError(String(err)));
    }
  }

  unauthorized(info) {
    info.code = -32002;
    return { status: 401, parts: [encode({ error: errors.auth() })] };
  }

  /** Ends every client and the janitor (shutdown). */
  async closeAll() {
    await Promise.all([...this.clients].map((c) => this.closeClient(c)));
    const httpSessions = [...this.http.sessions.values()];
    this.http.sessions.clear();
    await Promise.all(httpSessions.map((s) => this.closeSession(s)));
  }
}

