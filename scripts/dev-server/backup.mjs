// SurrealDB's SQL export and import HTTP endpoints, as SurrealDB 3.0.2's server has them
// (surrealdb/server/src/ntw/export.rs, import.rs, error.rs, output.rs):
//
//   GET  /export   the selected database as SurrealQL text (default export options)
//   POST /export   the same, with export options in a JSON or CBOR body
//   POST /import   runs a SurrealQL body; answers 200 with the statements that failed
//
// Namespace and database come from the surreal-ns / surreal-db headers (or a token's own), auth
// from Authorization as on POST /rpc: anonymous requests have full rights, wrong credentials
// get 401.
//
// Export runs in the engine's default session. The engine's `export` has no session argument:
// it exports the namespace and database selected in its default session (the session of
// requests without a `session` field). Nothing else in this server changes that session's state
// (clients always run in sessions of their own, see rpc.mjs), so an export selects its
// namespace and database there with `use`, exports, and resets them; exports are serialised
// among themselves, so two never share that state. They must also never overlap for a second
// reason: the engine (3.0.2) deadlocks a session when `use` (which takes the session's write lock)
// arrives while a `query` on the same session is between its two nested read locks (rpc/protocol.rs
// `query` then `run_query`; tokio's RwLock queues later readers behind a waiting writer). So every
// `use` and `query` on the default session happens inside `exclusive`, one after the other; the
// other requests that reach that session (ping, version, unknown methods) take no such lock.
//
// Import does not use the engine's `import` (which also runs in the default session, and throws
// the statements' results away): it runs the body through `query` in a session of its own,
// signed in with the request's credentials — which is what the engine's import does
// (Datastore::import is Datastore::execute) — and keeps the statements' results.

import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { decodeJson, encHead, encText, encode, kindAt, readArray, readMap, readText, skip, uuidValue } from "./cbor.mjs";

const JSON_TYPE = "application/json";
const CBOR_TYPE = "application/cbor";
const OCTETS_TYPE = "application/octet-stream";
const TEXT_TYPE = "text/plain";
const FLATBUFFERS_TYPE = "application/vnd.surrealdb.flatbuffers";
const PLAIN_UTF8 = "text/plain; charset=utf-8";
// axum's default body limit for a buffered body (POST /export's options).
const EXPORT_OPTIONS_LIMIT = 2 * 1024 * 1024;

const newSessionId = () => Buffer.from(randomUUID().replace(/-/g, ""), "hex");

/** A header value before its first ';', as SurrealDB's typed headers read Content-Type and Accept. */
function headerType(value) {
  return String(value).split(";")[0].trim().toLowerCase();
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function backupRoutes({ hub, options, common, log }) {
  const engine = hub.engine;

  // -- responses -------------------------------------------------------------------------------

  function send(res, status, headers, body) {
    if (res.headersSent || res.destroyed) return status;
    const b = body == null ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
    res.writeHead(status, { ...common, ...headers, "content-length": b.length });
    res.end(b);
    return status;
  }
  /** SurrealDB's HTTP error body (ntw/error.rs ErrorMessage), as JSON. */
  function errorJson(res, status, details, description, information, extra = {}) {
    const body = { code: status, details };
    if (description !== undefined) body.description = description;
    if (information !== undefined) body.information = information;
    return send(res, status, { "content-type": JSON_TYPE, ...extra }, JSON.stringify(body));
  }
  // "dectected" is spelled as the real server spells it.
  const badRequest = (res, information) =>
    errorJson(res, 400, "Request problems dectected", "There is a problem with your request. Refer to the documentation for further information.", information);
  const forbidden = (res) => errorJson(res, 403, "Forbidden", "Not allowed to do this.", "Not enough permissions to perform this action");
  const unsupportedType = (res, information) =>
    errorJson(res, 415, "Unsupported media type", "The request needs to adhere to certain constraints. Refer to the documentation for supported content types.", information);
  // The auth layer's answer: the error's text, no content type.
  const unauthorized = (res) => send(res, 401, {}, "There was a problem with authentication");
  // axum's answer to a missing or unreadable typed header.
  const headerRejection = (res, text) => send(res, 400, { "content-type": PLAIN_UTF8 }, text);
  const methodNotAllowed = (res, allow) => send(res, 405, { allow }, null);

  // -- request bodies --------------------------------------------------------------------------

  /**
   * Reads a body of at most `limit` bytes. Resolves to {body}, {tooLarge, close} or {gone}.
   * A body over the limit is read and thrown away up to `drainLimit` so that a client still
   * writing it reads the answer; beyond that the answer goes out at once and the connection closes.
   */
  function readBody(req, limit, drainLimit) {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > drainLimit) return Promise.resolve({ tooLarge: true, close: true });
    return new Promise((resolve) => {
      const chunks = [];
      let size = 0;
      let over = Number.isFinite(declared) && declared > limit;
      req.on("data", (c) => {
        size += c.length;
        if (size > drainLimit) {
          resolve({ tooLarge: true, close: true });
          return;
        }
        if (over || size > limit) {
          over = true;
          chunks.length = 0;
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => resolve(over ? { tooLarge: true, close: false } : { body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) }));
      req.on("error", () => resolve({ gone: true }));
      req.on("aborted", () => resolve({ gone: true }));
    });
  }

  // -- auth --------------------------------------------------------------------------------------

  async function detach(sess) {
    const r = await hub.call("detach", null, sess);
    if (r.isError) log("detach of an export/import session failed");
  }

  /**
   * Applies the request's credentials as the real server's auth layer does. Returns
   * {sess, ns, db, record}: `sess` is an engine session signed in with them (null for an
   * anonymous request; the caller detaches it), ns/db the namespace and database the request
   * works in (the headers', or a token's own), `record` whether it is a record user.
   * Throws HttpError(401) for wrong credentials.
   */
  async function authorize(h) {
    if (!h.basic && !h.bearer) return { sess: null, ns: h.ns, db: h.db, record: false };
    if (h.basic && h.authDb && !h.authNs) throw new HttpError(401, "database without namespace");
    const sess = newSessionId();
    const a = await hub.call("attach", null, sess);
    if (a.isError) throw new Error("could not attach an engine session");
    try {
      if (h.basic) {
        const creds = { user: h.basic.user, pass: h.basic.pass };
        if (h.authNs) creds.ns = h.authNs;
        if (h.authNs && h.authDb) creds.db = h.authDb;
        const r = await hub.call("signin", [creds], sess);
        if (r.isError) throw new HttpError(401, "signin failed");
      }
      if (h.bearer) {
        const r = await hub.call("authenticate", [h.bearer], sess);
        if (r.isError) throw new HttpError(401, "authenticate failed");
      }
      // (`$session.ns` fails without a namespace for a signed-in user; `$session` does not.)
      const r = await hub.call("query", ["RETURN $session"], sess);
      const row = r.isError ? null : decodeJson(r.value).value?.[0];
      if (!row || row.status !== "OK" || !row.result || typeof row.result !== "object") throw new Error("could not read the session");
      const { ns: sns, db: sdb, rd } = row.result;
      // Basic auth leaves the headers' namespace and database; a token brings its own.
      const ns = h.bearer && sns != null ? sns : h.ns;
      const db = h.bearer && sdb != null ? sdb : h.db;
      return { sess, ns, db, record: rd != null };
    } catch (err) {
      await detach(sess);
      throw err;
    }
  }

  // -- export ------------------------------------------------------------------------------------

  // The engine's default session is shared by every export: one at a time.
  let chain = Promise.resolve();
  function exclusive(fn) {
    const p = chain.then(fn);
    chain = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  /** Runs a query in the default session; returns the first statement's result or throws. */
  async function defaultQuery(sql) {
    const r = await hub.call("query", [sql], null);
    const row = r.isError ? null : decodeJson(r.value).value?.[0];
    if (!row || row.status !== "OK") throw new Error(`${sql} failed in the default session`);
    return row.result;
  }

  /** Whether the database exists, without creating it (as `use` would). In the default session. */
  async function databaseExists(ns, db) {
    const root = await defaultQuery("INFO FOR ROOT");
    if (!root?.namespaces || !Object.hasOwn(root.namespaces, ns)) return false;
    const u = await hub.call("use", [ns, undefined], null);
    if (u.isError) return false;
    const info = await defaultQuery("INFO FOR NS");
    return !!info?.databases && Object.hasOwn(info.databases, db);
  }

  /** The export text of ns/db ("" when the database does not exist). `cfg`: CBOR options or null. */
  function exportSql(ns, db, cfg) {
    return exclusive(async () => {
      try {
        if (!(await databaseExists(ns, db))) return "";
        const u = await hub.call("use", [ns, db], null);
        if (u.isError) throw new HttpError(400, "could not select the namespace and database");
        try {
          return await engine.export(cfg ?? undefined);
        } catch (err) {
          const msg = String(err?.message ?? err);
          // The real server starts the export job and streams what it sends: a database that
          // disappears meanwhile ends the (empty) body, it is no error response.
          if (/does not exist/i.test(msg)) return "";
          throw new HttpError(400, msg);
        }
      } finally {
        const r = await hub.call("use", [null, null], null);
        if (r.isError) log("could not reset the engine's default session after an export");
      }
    });
  }

  /** Export options from a POST body: CBOR bytes for the engine. Throws HttpError. */
  function exportOptions(type, body) {
    let value;
    if (type === JSON_TYPE) {
      try {
        value = JSON.parse(body.toString("utf8"));
      } catch (err) {
        throw new HttpError(400, `Invalid JSON: ${err.message}`);
      }
    } else {
      try {
        if (body.length === 0 || skip(body, 0) !== body.length) throw new Error("trailing bytes");
        value = decodeJson(body).value;
      } catch {
        throw new HttpError(400, "Invalid CBOR: the body is not one well-formed CBOR item");
      }
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new HttpError(400, "Expected an object of export options (users, accesses, params, functions, analyzers, tables, versions, records, sequences)");
    }
    return type === JSON_TYPE ? encode(value) : body;
  }

  /**
   * Answers OPTIONS, a method not in `methods` (405 with `allow`, as the real server words it) and a
   * failed authorization itself: returns
   * `{ status }` of that answer, or else `{ auth }`, the request's authorization.
   */
  async function admit(req, res, h, methods, allow) {
    const m = req.method;
    if (m === "OPTIONS" || !methods.includes(m)) {
      req.resume();
      if (m === "OPTIONS") return { status: send(res, 200, {}, null) };
      return { status: methodNotAllowed(res, allow) };
    }
    try {
      return { auth: await authorize(h) };
    } catch (err) {
      req.resume();
      if (err instanceof HttpError) return { status: unauthorized(res) };
      throw err;
    }
  }

  async function handleExport(req, res, h) {
    const m = req.method;
    const { status, auth } = await admit(req, res, h, ["GET", "HEAD", "POST"], "GET,HEAD,POST,OPTIONS");
    if (status !== undefined) return status;
    try {
      let cfg = null;
      if (m === "POST") {
        const ct = req.headers["content-type"];
        if (ct === undefined) {
          req.resume();
          return headerRejection(res, "Header of type `content-type` was missing");
        }
        const type = headerType(ct);
        if (![JSON_TYPE, CBOR_TYPE, TEXT_TYPE, OCTETS_TYPE, FLATBUFFERS_TYPE].includes(type)) {
          req.resume();
          return headerRejection(res, "invalid HTTP header (content-type)");
        }
        const got = await readBody(req, EXPORT_OPTIONS_LIMIT, EXPORT_OPTIONS_LIMIT * 16);
        if (got.gone) return 499;
        if (got.tooLarge) {
          return send(res, 413, { "content-type": PLAIN_UTF8, ...(got.close ? { connection: "close" } : {}) }, "Failed to buffer the request body: length limit exceeded");
        }
        if (type === FLATBUFFERS_TYPE) return badRequest(res, "unsupported body format (the dev server reads export options as JSON or CBOR only)");
        if (type !== JSON_TYPE && type !== CBOR_TYPE) return badRequest(res, "unsupported body format");
        try {
          cfg = exportOptions(type, got.body);
        } catch (err) {
          if (err instanceof HttpError) return badRequest(res, err.message);
          throw err;
        }
      } else {
        req.resume();
      }
      if (auth.ns === null) return badRequest(res, "Specify a namespace to use");
      if (auth.db === null) return badRequest(res, "Specify a database to use");
      if (auth.record) return forbidden(res);
      let sql;
      try {
        sql = await exportSql(auth.ns, auth.db, cfg);
      } catch (err) {
        if (err instanceof HttpError) return badRequest(res, err.message);
        throw err;
      }
      // The real server streams the text without a Content-Type.
      return send(res, 200, {}, sql);
    } finally {
      if (auth.sess) await detach(auth.sess);
    }
  }

  // -- import ------------------------------------------------------------------------------------

  /** The engine request {method: "query", params: [<body as text>], session}, without copying the text twice. */
  function queryRequest(sql, sess) {
    return Buffer.concat([
      encHead(5, 3),
      encText("method"),
      encText("query"),
      encText("params"),
      encHead(4, 1),
      encHead(3, sql.length),
      sql,
      encText("session"),
      uuidValue(sess).bytes,
    ]);
  }

  /** A failed-statement entry as the real import reports one that never ran (a parse error...). */
  function errorEntry(message, kind, details) {
    const e = {};
    if (details !== undefined) e.details = details;
    e.kind = kind;
    e.result = message;
    e.status = "ERR";
    e.time = "0ns";
    e.type = undefined; // NONE
    return encode(e);
  }

  /**
   * The statements the real import lists (it runs with skip_success_results): the failed ones,
   * and the NONE results of OPTION and BEGIN statements (the only ones that take no time).
   * Returns the raw CBOR entries.
   */
  function reportedEntries(value) {
    const items = readArray(value, 0) ?? [];
    const keep = [];
    for (const it of items) {
      const m = readMap(value, it.start);
      if (!m) continue;
      let status = null;
      let time = null;
      let result = "absent";
      for (const e of m.entries) {
        if (e.key === "status") status = readText(value, e.valStart);
        else if (e.key === "time") time = readText(value, e.valStart);
        else if (e.key === "result") result = kindAt(value, e.valStart);
      }
      const none = result === "absent" || result === "tag:6" || result === "undefined";
      if (status !== "OK" || (time === "0ns" && none)) keep.push(value.subarray(it.start, it.end));
    }
    return keep;
  }

  /** Runs the import; returns the raw CBOR entries to report. */
  async function runImport(sql, auth) {
    if (!isUtf8(sql)) return [errorEntry("Parse error: the import is not valid UTF-8", "Internal")];
    let sess = auth.sess;
    let own = false;
    if (!sess) {
      sess = newSessionId();
      const a = await hub.call("attach", null, sess);
      if (a.isError) throw new Error("could not attach an engine session");
      own = true;
    }
    try {
      // The headers' namespace and database, exactly (a Basic signin may have selected others).
      if (auth.ns !== null || auth.sess) {
        const u = await hub.call("use", [auth.ns, auth.ns === null ? null : auth.db], sess);
        if (u.isError) {
          const e = decodeJson(u.value).value;
          return [errorEntry(String(e?.message ?? "could not select the namespace and database"), e?.kind ?? "Internal", e?.details)];
        }
      }
      const r = await hub.run(queryRequest(sql, sess));
      if (!r.isError) return reportedEntries(r.value);
      // The whole query was refused before any statement ran: report it as one failed
      // statement, as the real import reports a statement it cannot parse.
      const e = decodeJson(r.value).value ?? {};
      const message = String(e.message ?? "The import failed");
      if (/^Parse error/.test(message)) return [errorEntry(message, "Internal")];
      return [errorEntry(message, e.kind ?? "Internal", e.details ?? undefined)];
    } finally {
      if (own) await detach(sess);
    }
  }

  function sortedKeys(o) {
    const out = {};
    for (const k of Object.keys(o).sort()) out[k] = o[k];
    return out;
  }

  async function handleImport(req, res, h) {
    const { status, auth } = await admit(req, res, h, ["POST"], "POST");
    if (status !== undefined) return status;
    try {
      const limit = options.maxImport;
      const got = await readBody(req, limit, limit + 64 * 1024 * 1024);
      if (got.gone) return 499;
      if (got.tooLarge) {
        // tower-http's RequestBodyLimitLayer answer.
        return send(res, 413, { "content-type": PLAIN_UTF8, ...(got.close ? { connection: "close" } : {}) }, "length limit exceeded");
      }
      let accept = "json";
      const av = req.headers.accept;
      if (av !== undefined) {
        const t = headerType(av);
        if (t === "*/*" || t === JSON_TYPE) accept = "json";
        else if (t === CBOR_TYPE) accept = "cbor";
        else if (t === OCTETS_TYPE) accept = "none";
        else if (t === TEXT_TYPE) accept = "unsupported";
        else if (t === FLATBUFFERS_TYPE) return unsupportedType(res, "The dev server answers imports in JSON, CBOR or nothing (application/octet-stream), not flatbuffers");
        else return headerRejection(res, "invalid HTTP header (accept)");
      }
      if (auth.record) return forbidden(res);
      const entries = await runImport(got.body, auth);
      // As on the real server, an unsupported Accept is only refused once the import has run.
      if (accept === "unsupported") return unsupportedType(res);
      if (accept === "none") return send(res, 200, {}, null);
      if (accept === "cbor") return send(res, 200, { "content-type": CBOR_TYPE }, Buffer.concat([encHead(4, entries.length), ...entries]));
      const json = entries.map((e) => sortedKeys(decodeJson(e).value));
      return send(res, 200, { "content-type": JSON_TYPE }, JSON.stringify(json));
    } finally {
      if (auth.sess) await detach(auth.sess);
    }
  }

  return { handleExport, handleImport };
}
