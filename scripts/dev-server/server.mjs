// HTTP and WebSocket front of the dev server: GET /health, GET /version, POST /rpc, GET /rpc
// (WebSocket, subprotocol cbor), GET/POST /export and POST /import. The RPC layer is in
// rpc.mjs, export and import in backup.mjs.

import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocketServer, WebSocket } from "ws";
import { backupRoutes } from "./backup.mjs";
import { encode } from "./cbor.mjs";
import { Client, errors } from "./rpc.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PING_INTERVAL_MS = 5000; // the real server pings every 5 s (WEBSOCKET_PING_FREQUENCY)

function mediaType(value) {
  return String(value ?? "").split(";")[0].trim().toLowerCase();
}

function header(req, ...names) {
  for (const n of names) {
    const v = req.headers[n];
    if (typeof v === "string") return v;
  }
  return null;
}

/** Authorization header: {basic: {user, pass}} | {bearer} | {} (malformed values are ignored, as axum does). */
function parseAuthorization(value) {
  if (!value) return {};
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(value);
  if (!m) return {};
  const scheme = m[1].toLowerCase();
  if (scheme === "bearer") return { bearer: m[2] };
  if (scheme === "basic") {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(m[2])) return {};
    const text = Buffer.from(m[2], "base64").toString("utf8");
    const i = text.indexOf(":");
    if (i < 0) return {};
    return { basic: { user: text.slice(0, i), pass: text.slice(i + 1) } };
  }
  return {};
}

/** The namespace, database and credentials of an HTTP request (never logged). */
function requestAuth(req) {
  const a = parseAuthorization(req.headers.authorization);
  return {
    ns: header(req, "surreal-ns", "ns"),
    db: header(req, "surreal-db", "db"),
    authNs: header(req, "surreal-auth-ns"),
    authDb: header(req, "surreal-auth-db"),
    basic: a.basic ?? null,
    bearer: a.bearer ?? null,
  };
}

export function startServer({ hub, options, version, log }) {
  const wsByClient = new Map();
  const cborHeaders = { "content-type": "application/cbor" };
  const common = { "surreal-version": version, server: "SurrealDB" };

  function logLine(text) {
    if (options.log) process.stderr.write(`${new Date().toISOString()} ${text}\n`);
  }
  function describe(info, ms) {
    const outcome = info.code != null ? `error ${info.code}` : "ok";
    // Never the params or the engine's message (a decoding error may quote a value).
    return `${info.transport} method=${info.method ?? "?"} session=${info.session ?? "-"} ${ms.toFixed(2)}ms ${outcome}`;
  }

  function sendError(res, status, error, extra = {}) {
    if (res.headersSent || res.destroyed) return;
    const body = encode({ error });
    res.writeHead(status, { ...common, ...cborHeaders, "content-length": body.length, ...extra });
    res.end(body);
  }

  async function rpcPost(req, res, t0) {
    const info = { transport: "http" };
    const finish = (status) => logLine(`${describe(info, performance.now() - t0)} status=${status}`);
    const ct = mediaType(req.headers["content-type"]);
    const accepts = req.headers.accept === undefined ? ["application/cbor"] : String(req.headers.accept).split(",").map(mediaType);
    if (ct !== "application/cbor" || !accepts.some((a) => ["application/cbor", "*/*", "application/*", ""].includes(a))) {
      info.code = -32600;
      req.resume();
      sendError(res, 415, errors.invalidRequest("Unsupported media type: send Content-Type: application/cbor (and Accept: application/cbor)"));
      return finish(415);
    }
    // An oversized body is read and thrown away (up to drainLimit) before the 413, so that a
    // client still writing its body reads the answer instead of a reset; beyond that the answer
    // goes out at once and the connection is closed.
    const drainLimit = Math.max(options.maxBody * 16, 64 * 1024 * 1024);
    const tooLarge = (close) => {
      info.code = -32600;
      sendError(res, 413, errors.invalidRequest(`Request body too large: the limit is ${options.maxBody} bytes`), close ? { connection: "close" } : {});
      finish(413);
    };
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > drainLimit) return tooLarge(true);
    const chunks = [];
    let size = 0;
    let over = false;
    try {
      const result = await new Promise((resolve, reject) => {
        req.on("data", (c) => {
          size += c.length;
          if (size > drainLimit) {
            resolve("abort");
            return;
          }
          if (size > options.maxBody) {
            over = true;
            chunks.length = 0;
            return;
          }
          chunks.push(c);
        });
        req.on("end", () => resolve("end"));
        req.on("error", reject);
        req.on("aborted", () => reject(new Error("client aborted")));
      });
      if (result === "abort") return tooLarge(true);
    } catch {
      return; // the client went away
    }
    if (over) return tooLarge(false);
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    const h = requestAuth(req);
    const { status, parts } = await hub.handleHttp(body, h, info);
    if (res.destroyed) return finish(status);
    let length = 0;
    for (const p of parts) length += p.length;
    res.writeHead(status, { ...common, ...cborHeaders, "content-length": length });
    for (let i = 0; i < parts.length - 1; i++) res.write(parts[i]);
    res.end(parts[parts.length - 1]);
    finish(status);
  }

  const backup = backupRoutes({ hub, options, common, log });

  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    const t0 = performance.now();
    res.on("error", () => {});
    req.on("error", () => {});
    const path = (req.url ?? "/").split("?")[0];
    const done = (status) => logLine(`http ${req.method} ${path} ${(performance.now() - t0).toFixed(2)}ms status=${status}`);
    if (path === "/rpc") {
      if (req.method === "POST") {
        rpcPost(req, res, t0).catch((err) => {
          log(`internal error in POST /rpc: ${err?.stack ?? err}`);
          sendError(res, 500, errors.internal("Internal error"));
        });
        return;
      }
      if (req.method === "OPTIONS") {
        res.writeHead(200, { ...common, "content-length": 0 });
        res.end();
        return done(200);
      }
      if (req.method === "GET") {
        // A GET without an Upgrade header (upgrades arrive through the "upgrade" event).
        res.writeHead(426, { ...common, "content-type": "text/plain", connection: "upgrade", upgrade: "websocket" });
        res.end("Connection header did not include 'upgrade'");
        return done(426);
      }
      res.writeHead(405, { ...common, allow: "GET, POST, OPTIONS", "content-length": 0 });
      res.end();
      return done(405);
    }
    if (path === "/export" || path === "/import") {
      const handle = path === "/export" ? backup.handleExport : backup.handleImport;
      handle(req, res, requestAuth(req)).then(done, (err) => {
        log(`internal error in ${req.method} ${path}: ${err?.stack ?? err}`);
        if (!res.headersSent && !res.destroyed) {
          const body = JSON.stringify({ code: 500, details: "Internal error", information: "The dev server failed to handle this request" });
          res.writeHead(500, { ...common, "content-type": "application/json", "content-length": Buffer.byteLength(body) });
          res.end(body);
        } else {
          res.destroy();
        }
        done(500);
      });
      return;
    }
    if ((path === "/health" || path === "/status") && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, { ...common, "content-length": 0 });
      res.end();
      return done(200);
    }
    if (path === "/version" && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, { ...common, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(version) });
      res.end(req.method === "HEAD" ? undefined : version);
      return done(200);
    }
    res.writeHead(404, { ...common, "content-length": 0 });
    res.end();
    done(404);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  // ---------------------------------------------------------------------------------------------
  // WebSocket

  // ws closes the connection (1009) beyond maxPayload; between --max-message and that hard limit
  // the message is answered with an error and the connection stays usable.
  const hardLimit = Math.max(options.maxMessage * 2, options.maxMessage + 1024 * 1024);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: hardLimit,
    perMessageDeflate: false,
    clientTracking: true,
    handleProtocols: (protocols) => (protocols.has("cbor") ? "cbor" : false),
  });

  function reject(socket, status, text) {
    const body = `${text}\n`;
    try {
      socket.end(
        `HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : status === 404 ? "Not Found" : "Error"}\r\n` +
          `content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    } catch {
      socket.destroy();
    }
  }

  const usedIds = new Set();

  server.on("upgrade", (req, socket, head) => {
    socket.on("error", () => {});
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/rpc" || req.method !== "GET") return reject(socket, 404, "Not found");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!offered.includes("cbor")) {
      return reject(socket, 400, "This server speaks the WebSocket subprotocol cbor only: offer Sec-WebSocket-Protocol: cbor");
    }
    let id = null;
    const sid = header(req, "surreal-id");
    if (sid !== null) {
      if (!UUID_RE.test(sid.trim())) return reject(socket, 400, "The request body contains invalid data");
      id = Buffer.from(sid.trim().replace(/-/g, ""), "hex");
      if (usedIds.has(id.toString("hex"))) return reject(socket, 400, "The request body contains invalid data");
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, id));
  });

  function onConnection(ws, id) {
    const client = new Client(hub, "ws", id ?? undefined);
    const key = client.id.toString("hex");
    usedIds.add(key);
    wsByClient.set(client, ws);
    const t0 = performance.now();
    client.send = (parts) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(parts.length === 1 ? parts[0] : Buffer.concat(parts), { binary: true }, () => {});
    };
    const ready = hub.openClient(client);
    ready.then(
      () => logLine(`ws open conn=${client.idString} ${(performance.now() - t0).toFixed(2)}ms`),
      (err) => {
        log(`could not open an engine session for a WebSocket: ${err?.message ?? err}`);
        ws.close(1011, "engine session unavailable");
      },
    );
    ws.on("message", (data, isBinary) => {
      const t = performance.now();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      const info = { transport: `ws conn=${client.idString.slice(0, 8)}`, binary: isBinary };
      ready
        .then(() => hub.handleWs(client, buf, options.maxMessage, info))
        .then((parts) => {
          if (parts) client.send(parts);
          logLine(describe(info, performance.now() - t));
        })
        .catch((err) => {
          if (client.closed) return;
          log(`internal error on a WebSocket request: ${err?.stack ?? err}`);
        });
    });
    ws.on("error", (err) => logLine(`ws conn=${client.idString} error: ${err.message}`));
    ws.on("close", (code) => {
      wsByClient.delete(client);
      ready
        .catch(() => {})
        .then(() => hub.closeClient(client))
        .catch((err) => log(`closing a WebSocket client: ${err?.stack ?? err}`))
        .finally(() => {
          usedIds.delete(key);
          logLine(`ws close conn=${client.idString} code=${code}`);
        });
    });
  }

  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    }
  }, PING_INTERVAL_MS);
  pinger.unref();

  const listen = () =>
    new Promise((resolve, reject) => {
      const onError = (err) => reject(err);
      server.once("error", onError);
      server.listen({ host: options.bind.host, port: options.bind.port, exclusive: true }, () => {
        server.off("error", onError);
        server.on("error", (err) => log(`server error: ${err.message}`));
        resolve(server.address());
      });
    });

  /** Stops accepting, closes every WebSocket (1001) and cleans up their sessions. */
  async function close(timeoutMs = 3000) {
    clearInterval(pinger);
    server.close();
    for (const ws of wss.clients) ws.close(1001, "server shutting down");
    server.closeIdleConnections?.();
    const deadline = new Promise((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([hub.closeAll(), deadline]);
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections?.();
  }

  return { server, wss, listen, close };
}
