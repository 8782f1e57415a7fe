// Self-check of surreal-dev-server: starts it on port 0 and exercises every behaviour over HTTP and
// WebSocket with the `ws` client and the official JS codec (surrealdb's CborCodec). Exits non-zero
// on any failure. Also prints overhead figures (pings per second, a 20,000-row SELECT).
//
//   node scripts/dev-server/smoke.mjs [--quick]     (--quick skips the measurements)

import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { CborCodec, DateTime, Decimal, Duration, RecordId, Surreal, Table, Uuid } from "surrealdb";
import WebSocket from "ws";

const here = dirname(fileURLToPath(import.meta.url));
const launcher = join(here, "..", "surreal-dev-server");
const codec = CborCodec.DEFAULT;
const quick = process.argv.includes("--quick");

let failures = 0;
let passes = 0;
function check(cond, what, extra) {
  if (cond) {
    passes++;
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}${extra !== undefined ? `: ${typeof extra === "string" ? extra : JSON.stringify(extra, replacer)}` : ""}`);
  }
}
function replacer(_k, v) {
  if (v && typeof v === "object" && typeof v.toString === "function" && (v instanceof Uuid || v instanceof RecordId || v instanceof Table)) return v.toString();
  if (typeof v === "bigint") return v.toString();
  return v;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (v) => JSON.stringify(v, replacer);

// -------------------------------------------------------------------------------------------------
// Server process

function startServer(args = [], { expectFail = false } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [launcher, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let done = false;
    const timer = setTimeout(() => {
      if (!done) {
        done = true;
        proc.kill("SIGKILL");
        reject(new Error(`server did not start: ${stderr}`));
      }
    }, 30000);
    proc.stdout.on("data", (d) => {
      stdout += d;
      const m = /^listening on (http:\/\/[^\s]+)\n/m.exec(stdout);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        const url = new URL(m[1]);
        resolve({ proc, url: m[1], port: Number(url.port), stdout: () => stdout, stderr: () => stderr, exit: exitPromise });
      }
    });
    proc.stderr.on("data", (d) => {
      stderr += d;
    });
    const exitPromise = new Promise((r) => proc.on("exit", (code, signal) => r({ code, signal, stdout, stderr })));
    exitPromise.then((x) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        if (expectFail) resolve({ exited: x, stdout: x.stdout, stderr: x.stderr });
        else reject(new Error(`server exited early (${x.code}): ${x.stderr}`));
      }
    });
  });
}

async function stopServer(s, signal = "SIGTERM") {
  s.proc.kill(signal);
  const t = setTimeout(() => s.proc.kill("SIGKILL"), 10000);
  const x = await s.exit;
  clearTimeout(t);
  return x;
}

// -------------------------------------------------------------------------------------------------
// HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function httpRequest(port, { method = "GET", path = "/", headers = {}, body = null, timeoutMs = 60000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`)));
    if (body) req.end(body);
    else req.end();
  });
}

async function httpRpc(port, request, headers = {}) {
  const body = Buffer.isBuffer(request) ? request : Buffer.from(codec.encode(request));
  const res = await httpRequest(port, {
    method: "POST",
    path: "/rpc",
    headers: { "content-type": "application/cbor", accept: "application/cbor", ...headers },
    body,
  });
  let decoded = null;
  if (res.headers["content-type"] === "application/cbor" && res.body.length) decoded = codec.decode(res.body);
  return { ...res, decoded };
}

// -------------------------------------------------------------------------------------------------
// WebSocket

class Ws {
  static open(port, { protocols = ["cbor"], headers } = {}) {
    return new Promise((resolve, reject) => {
      const sock = new WebSocket(`ws://127.0.0.1:${port}/rpc`, protocols, { headers, perMessageDeflate: false });
      const w = new Ws(sock);
      sock.once("open", () => resolve(w));
      sock.once("error", reject);
      sock.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
  }
  constructor(sock) {
    this.sock = sock;
    this.nextId = 1;
    this.pending = new Map();
    this.notifications = [];
    this.order = [];
    this.raw = [];
    this.closed = new Promise((r) => sock.on("close", (code) => r(code)));
    sock.on("message", (data) => {
      this.arrival = performance.now();
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
      this.raw.push(buf);
      const msg = codec.decode(buf);
      this.decodeMs = performance.now() - this.arrival;
      if (msg.id === undefined || msg.id === null) {
        if (msg.result && msg.result.action) {
          this.notifications.push(msg);
          return;
        }
        // A protocol error without a readable id.
        const p = this.pending.get("noid");
        if (p) {
          this.pending.delete("noid");
          p(msg);
        }
        return;
      }
      this.order.push(msg.id);
      const p = this.pending.get(msg.id);
      if (p) {
        this.pending.delete(msg.id);
        p(msg);
      }
    });
  }
  /** Sends a request; resolves to the whole response {id, result | error, session?}. */
  send(method, params, extra = {}) {
    const id = this.nextId++;
    const req = { id, method, ...extra };
    if (params !== undefined) req.params = params;
    return this.sendRaw(Buffer.from(codec.encode(req)), id);
  }
  sendRaw(bytes, id = "noid", timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`timeout waiting for response ${id}`));
      }, timeoutMs);
      this.pending.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.sock.send(bytes, { binary: true });
    });
  }
  async call(method, params, extra) {
    const r = await this.send(method, params, extra);
    if (r.error) throw Object.assign(new Error(`${method}: ${r.error.message}`), { rpc: r.error });
    return r.result;
  }
  close() {
    this.sock.close();
    return this.closed;
  }
}

function okStatements(result) {
  return Array.isArray(result) && result.every((s) => s.status === "OK");
}

// -------------------------------------------------------------------------------------------------

async function testHttp(s) {
  const health = await httpRequest(s.port, { path: "/health" });
  check(health.status === 200 && health.body.length === 0, "GET /health → 200, empty body", health.status);
  const version = await httpRequest(s.port, { path: "/version" });
  check(version.status === 200 && /^surrealdb-3\.\d+\.\d+/.test(version.body.toString()), `GET /version → 200 ${version.body}`);
  const nf = await httpRequest(s.port, { path: "/nope" });
  check(nf.status === 404, "GET /nope → 404", nf.status);

  const hdr = { "surreal-ns": "smoke", "surreal-db": "http" };
  const created = await httpRpc(s.port, { id: 7, method: "query", params: ["CREATE person:one SET name = $n; SELECT * FROM person", { n: "Ada" }] }, hdr);
  const rows = created.decoded?.result?.[1]?.result;
  check(
    created.status === 200 && created.decoded.id === 7 && okStatements(created.decoded.result) && rows?.length === 1 && rows[0].name === "Ada" && rows[0].id instanceof RecordId,
    "HTTP query with surreal-ns/surreal-db creates and selects a record",
    created.decoded,
  );
  const selected = await httpRpc(s.port, { id: "s1", method: "select", params: [new RecordId("person", "one")] }, { ns: "smoke", db: "http" });
  check(selected.decoded?.id === "s1" && selected.decoded?.result?.name === "Ada", "HTTP select with the older NS/DB headers sees it (a new session each request)", selected.decoded);
  const noNs = await httpRpc(s.port, { id: 8, method: "query", params: ["SELECT * FROM person"] });
  check(noNs.decoded?.result?.[0]?.status === "ERR", "HTTP without ns/db headers: the statement fails (HTTP is stateless)", noNs.decoded);
  const ping = await httpRpc(s.port, { id: 9, method: "ping" });
  check(ping.status === 200 && ping.decoded.id === 9 && ping.decoded.result === undefined && "result" in ping.decoded, "HTTP ping → {id, result: NONE}", ping.decoded);
  const unknown = await httpRpc(s.port, { id: 10, method: "frobnicate" });
  check(unknown.status === 200 && unknown.decoded?.error?.code === -32601 && unknown.decoded.id === 10, "HTTP unknown method → 200 with error -32601", unknown.decoded);
  const live = await httpRpc(s.port, { id: 11, method: "live", params: ["person"] }, hdr);
  check(live.decoded?.error?.code === -32604, "HTTP live → error (no live queries over HTTP)", live.decoded);
  const begin = await httpRpc(s.port, { id: 12, method: "begin" }, hdr);
  check(begin.decoded?.error?.code === -32601, "HTTP begin → method not found (as the real server)", begin.decoded);
  const badType = await httpRequest(s.port, { method: "POST", path: "/rpc", headers: { "content-type": "application/json" }, body: '{"method":"ping"}' });
  check(badType.status === 415, "POST /rpc with Content-Type application/json → 415", badType.status);
  const badAccept = await httpRequest(s.port, { method: "POST", path: "/rpc", headers: { "content-type": "application/cbor", accept: "application/json" }, body: Buffer.from(codec.encode({ method: "ping" })) });
  check(badAccept.status === 415, "POST /rpc with Accept application/json → 415", badAccept.status);
  const listAccept = await httpRequest(s.port, { method: "POST", path: "/rpc", headers: { "content-type": "application/cbor; charset=binary", accept: "application/cbor, */*;q=0.1" }, body: Buffer.from(codec.encode({ id: 1, method: "ping" })) });
  check(listAccept.status === 200, "POST /rpc with a list in Accept and a parameter in Content-Type → 200", listAccept.status);
  const big = Buffer.alloc(5 * 1024 * 1024, 0x61);
  const tooBig = await httpRequest(s.port, { method: "POST", path: "/rpc", headers: { "content-type": "application/cbor" }, body: big });
  const tooBigBody = tooBig.headers["content-type"] === "application/cbor" ? codec.decode(tooBig.body) : null;
  check(tooBig.status === 413 && tooBigBody?.error?.code === -32600, "POST /rpc of 5 MiB → 413 with a CBOR error body", { status: tooBig.status, tooBigBody });
  const garbage = await httpRpc(s.port, Buffer.from([0xa1, 0x62, 0x69]));
  check(garbage.status === 400 && garbage.decoded?.error?.code === -32700, "HTTP malformed CBOR → 400 with error -32700", { status: garbage.status, body: garbage.decoded });
  const notMap = await httpRpc(s.port, Buffer.from(codec.encode([1, 2])));
  check(notMap.decoded?.error?.code === -32700, "HTTP request that is not a map → -32700", notMap.decoded);
  const noMethod = await httpRpc(s.port, Buffer.from(codec.encode({ id: 5 })));
  check(noMethod.decoded?.error?.code === -32600 && noMethod.decoded.id === 5, "HTTP request without method → -32600 with its id", noMethod.decoded);
  // Sessions attached over HTTP persist between requests (as in the real 3.x server).
  const sid = new Uuid(crypto.randomUUID());
  const att = await httpRpc(s.port, { id: 1, method: "attach", session: sid });
  const use = await httpRpc(s.port, { id: 2, method: "use", params: ["smoke", "http"], session: sid });
  const sel = await httpRpc(s.port, { id: 3, method: "query", params: ["SELECT VALUE name FROM person"], session: sid });
  const det = await httpRpc(s.port, { id: 4, method: "detach", session: sid });
  const gone = await httpRpc(s.port, { id: 5, method: "query", params: ["RETURN 1"], session: sid });
  check(
    !att.decoded.error && use.decoded.result?.namespace === "smoke" && sel.decoded.result?.[0]?.result?.[0] === "Ada" && !det.decoded.error && gone.decoded.error?.code === -32000,
    "HTTP attach/use/query/detach with a session field; the session is gone after detach",
    [att.decoded, use.decoded, sel.decoded, det.decoded, gone.decoded],
  );
}

async function testAuth() {
  const s = await startServer(["--bind", "127.0.0.1:0", "--user", "root", "--pass", "p'a\"ss\\w⟩rd"]);
  try {
    const basic = (u, p) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`, "surreal-ns": "smoke", "surreal-db": "auth" });
    const good = await httpRpc(s.port, { id: 1, method: "query", params: ["CREATE thing:1; INFO FOR ROOT"] }, basic("root", "p'a\"ss\\w⟩rd"));
    const users = good.decoded?.result?.[1]?.result?.users;
    check(good.status === 200 && okStatements(good.decoded?.result) && users && "root" in users, "HTTP Basic with the --user/--pass root user works (user defined at start)", good.decoded);
    const bad = await httpRpc(s.port, { id: 2, method: "query", params: ["RETURN 1"] }, basic("root", "wrong"));
    check(bad.status === 401 && bad.decoded?.error?.code === -32002, "HTTP Basic with a wrong password → 401", { status: bad.status, body: bad.decoded });
    const badPing = await httpRpc(s.port, { id: 3, method: "ping" }, basic("nobody", "x"));
    check(badPing.status === 401, "HTTP Basic with an unknown user → 401 even for ping", badPing.status);
    const w = await Ws.open(s.port);
    const wrong = await w.send("signin", [{ user: "root", pass: "nope" }]);
    check(wrong.error?.code === -32002, "WS signin with a wrong password → -32002", wrong);
    const token = await w.call("signin", [{ user: "root", pass: "p'a\"ss\\w⟩rd" }]);
    check(typeof token === "string" || typeof token?.access === "string", "WS signin as root returns a token", token);
    const jwt = typeof token === "string" ? token : token.access;
    const bearer = await httpRpc(s.port, { id: 4, method: "query", params: ["SELECT * FROM thing"] }, { authorization: `Bearer ${jwt}`, "surreal-ns": "smoke", "surreal-db": "auth" });
    check(bearer.status === 200 && bearer.decoded?.result?.[0]?.result?.length === 1, "HTTP Bearer with that token works", bearer.decoded);
    const badBearer = await httpRpc(s.port, { id: 5, method: "ping" }, { authorization: "Bearer not.a.token" });
    check(badBearer.status === 401, "HTTP Bearer with a bad token → 401", badBearer.status);

    // Export and import take the same credentials.
    const hdr = { "surreal-ns": "smoke", "surreal-db": "auth" };
    const rootEx = await exportSql(s.port, { ...hdr, authorization: basicAuth("root", "p'a\"ss\\w⟩rd") });
    check(rootEx.status === 200 && /INSERT \[ \{ id: thing:1 \} \]/.test(rootEx.text), "GET /export with the root user's Basic credentials → 200", rootEx.text.slice(-200));
    const wrongEx = await exportSql(s.port, { ...hdr, authorization: basicAuth("root", "wrong") });
    check(wrongEx.status === 401 && wrongEx.text === "There was a problem with authentication", "GET /export with a wrong password → 401 (text body, as the real server's auth layer)", { status: wrongEx.status, text: wrongEx.text });
    const wrongIm = await importSql(s.port, { ...hdr, authorization: basicAuth("root", "wrong") }, "CREATE thing:2");
    const badTokIm = await importSql(s.port, { ...hdr, authorization: "Bearer not.a.token" }, "CREATE thing:2");
    const thing2 = await httpRpc(s.port, { id: 6, method: "query", params: ["SELECT * FROM thing:2"] }, hdr);
    check(wrongIm.status === 401 && badTokIm.status === 401 && thing2.decoded?.result?.[0]?.result?.length === 0, "POST /import with wrong credentials or a bad token → 401, nothing imported", [wrongIm.status, badTokIm.status]);
    const tokIm = await importSql(s.port, { ...hdr, authorization: `Bearer ${jwt}` }, "CREATE thing:3");
    check(tokIm.status === 200 && tokIm.json?.length === 0, "POST /import with the root token → 200, []", { status: tokIm.status, json: tokIm.json });
    const setup = await httpRpc(
      s.port,
      {
        id: 7,
        method: "query",
        params: [
          "DEFINE USER dbu ON DATABASE PASSWORD 'pw' ROLES EDITOR; DEFINE TABLE open PERMISSIONS FULL; " +
            "DEFINE ACCESS acc ON DATABASE TYPE RECORD SIGNUP (CREATE user SET name = $name) SIGNIN (SELECT * FROM user WHERE name = $name) DURATION FOR TOKEN 1h",
        ],
      },
      { ...hdr, authorization: basicAuth("root", "p'a\"ss\\w⟩rd") },
    );
    check(okStatements(setup.decoded?.result), "database user and record access defined", setup.decoded);
    const dbBasic = await exportSql(s.port, { ...hdr, authorization: basicAuth("dbu", "pw"), "surreal-auth-ns": "smoke", "surreal-auth-db": "auth" });
    check(dbBasic.status === 200 && /thing:3/.test(dbBasic.text), "GET /export as a database user (Basic with surreal-auth-ns/db) → 200", dbBasic.status);
    const dbTok = await w.call("signin", [{ user: "dbu", pass: "pw", ns: "smoke", db: "auth" }]);
    const dbJwt = typeof dbTok === "string" ? dbTok : dbTok.access;
    const tokNoHdr = await exportSql(s.port, { authorization: `Bearer ${dbJwt}` });
    check(tokNoHdr.status === 200 && /thing:3/.test(tokNoHdr.text), "GET /export with a database user's token and no surreal-ns/db → its own database", { status: tokNoHdr.status, text: tokNoHdr.text.slice(0, 200) });
    const rec = await Ws.open(s.port);
    const recTok = await rec.call("signup", [{ ns: "smoke", db: "auth", ac: "acc", name: "rec" }]);
    const recJwt = typeof recTok === "string" ? recTok : recTok.access;
    await rec.close();
    const recEx = await exportSql(s.port, { ...hdr, authorization: `Bearer ${recJwt}` });
    const recIm = await importSql(s.port, { ...hdr, authorization: `Bearer ${recJwt}` }, "CREATE open:1");
    const open1 = await httpRpc(s.port, { id: 8, method: "query", params: ["SELECT * FROM open"] }, hdr);
    check(
      recEx.status === 403 && JSON.parse(recEx.text).details === "Forbidden" && recIm.status === 403 && open1.decoded?.result?.[0]?.result?.length === 0,
      "GET /export and POST /import as a record user → 403 (as the real server), nothing imported",
      { ex: recEx.status, im: recIm.status, text: recEx.text },
    );
    await w.close();
  } finally {
    const x = await stopServer(s, "SIGINT");
    check(x.code === 0, "SIGINT → exit 0", x);
  }
}

async function testWs(s) {
  const a = await Ws.open(s.port);
  check(a.sock.protocol === "cbor", "WS subprotocol cbor accepted", a.sock.protocol);
  const mixed = await Ws.open(s.port, { protocols: ["json", "cbor"] });
  check(mixed.sock.protocol === "cbor", "WS offered json and cbor: the server chooses cbor", mixed.sock.protocol);
  await mixed.close();
  let rejected = null;
  try {
    const j = await Ws.open(s.port, { protocols: ["json"] });
    await j.close();
  } catch (err) {
    rejected = err.status;
  }
  check(rejected === 400, "WS offered only json → rejected with 400", rejected);

  const used = await a.call("use", ["smoke", "ws"]);
  check(used?.namespace === "smoke" && used?.database === "ws", "WS use → {namespace, database}", used);
  const created = await a.call("create", [new RecordId("person", "ws1"), { name: "Grace" }]);
  check(created?.name === "Grace", "WS create", created);
  const sel = await a.call("select", [new RecordId("person", "ws1")]);
  check(sel?.name === "Grace" && sel.id instanceof RecordId, "WS select sees the record", sel);
  const q = await a.call("query", ["SELECT * FROM person WHERE name = $n", { n: "Grace" }]);
  check(okStatements(q) && q[0].result.length === 1, "WS query with variables", q);
  const ver = await a.call("version");
  check(/^surrealdb-3\./.test(ver), `WS version → ${ver}`);

  // Isolation: use on one connection does not change the other.
  const b = await Ws.open(s.port);
  const bNs = await b.call("query", ["RETURN [session::ns(), session::db()]"]);
  check(bNs[0].result[0] === undefined || bNs[0].result[0] === null, "WS connection B has no namespace while A has one", bNs);
  await b.call("use", ["other", "db2"]);
  const aNs = await a.call("query", ["RETURN session::ns()"]);
  check(aNs[0].result === "smoke", "WS use on B leaves A's namespace alone", aNs);
  await a.call("let", ["x", 42]);
  const bx = await b.call("query", ["RETURN $x"]);
  check(bx[0].result === undefined, "WS let on A is not visible on B", bx);
  const ax = await a.call("query", ["RETURN $x"]);
  check(ax[0].result === 42, "WS let on A is visible on A", ax);

  // Concurrency: a slow request does not hold back a fast one.
  a.order.length = 0;
  const slow = a.send("query", ["SLEEP 400ms; RETURN 'slow'"]);
  const fast = a.send("ping");
  const [rs, rf] = await Promise.all([slow, fast]);
  check(a.order[0] === rf.id && a.order[1] === rs.id && rs.result[1].result === "slow", "WS concurrent requests answered out of order (ping before an earlier SLEEP)", a.order);

  // Many in flight at once, each answered with its own id.
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => a.send("query", ["RETURN $i", { i }])));
  check(many.every((r, i) => r.result[0].result === i), "WS 200 concurrent requests each answered with their own id");

  // Protocol errors keep the connection working.
  const bad = await a.sendRaw(Buffer.from([0xa2, 0x62, 0x69, 0x64]));
  check(bad.error?.code === -32700 && bad.id === undefined, "WS malformed CBOR → -32700", bad);
  check((await a.send("ping")).result === undefined, "WS connection still works after malformed CBOR");
  const notMap = await a.sendRaw(Buffer.from(codec.encode("hello")));
  check(notMap.error?.code === -32700, "WS request that is not a map → -32700 (as the real server)", notMap);
  const noMethod = await a.sendRaw(Buffer.from(codec.encode({ id: 999, params: [] })), 999);
  check(noMethod.error?.code === -32600 && noMethod.id === 999, "WS request without method → -32600 with its id", noMethod);
  const badId = await a.sendRaw(Buffer.from(codec.encode({ id: [1], method: "ping" })));
  check(badId.error?.code === -32600, "WS request with an id that is an array → -32600", badId);
  const unknown = await a.send("frobnicate", []);
  check(unknown.error?.code === -32601 && unknown.error?.message === "Method not found", "WS unknown method → -32601", unknown);
  const badUtf8 = await a.sendRaw(Buffer.concat([Buffer.from([0xa3, 0x62, 0x69, 0x64, 0x19, 0x03, 0xe8, 0x66]), Buffer.from("method"), Buffer.from([0x65]), Buffer.from("query"), Buffer.from([0x66]), Buffer.from("params"), Buffer.from([0x81, 0x62, 0xff, 0xfe])]), 1000);
  check(badUtf8.error && badUtf8.id === 1000, "WS invalid UTF-8 inside params → an error response with its id", badUtf8);
  check((await a.send("ping")).error === undefined, "WS connection still works after all protocol errors");

  // Multi-session: attach / use / sessions / detach, and no reaching another connection's sessions.
  const sid = new Uuid(crypto.randomUUID());
  await a.call("attach", undefined, { session: sid });
  const inSess = await a.send("use", ["smoke", "sess"], { session: sid });
  check(inSess.result?.database === "sess" && inSess.session instanceof Uuid && inSess.session.toString() === sid.toString(), "WS attach + use in a session; the response carries the session", inSess);
  const defNs = await a.call("query", ["RETURN session::db()"]);
  check(defNs[0].result === "ws", "WS the default session keeps its own database", defNs);
  const list = await a.call("sessions");
  check(list.length === 1 && list[0].toString() === sid.toString(), "WS sessions lists this connection's sessions only", list);
  const stolen = await b.send("query", ["RETURN 1"], { session: sid });
  check(stolen.error?.code === -32000 && /Session not found/.test(stolen.error.message), "WS another connection cannot use that session id", stolen);
  const bList = await b.call("sessions");
  check(bList.length === 0, "WS sessions on the other connection is empty", bList);
  await b.call("attach", undefined, { session: sid });
  const bSess = await b.call("query", ["RETURN session::db()"], { session: sid });
  check(bSess[0].result === undefined, "WS the same session id attached on another connection is a separate session", bSess);
  const again = await a.send("attach", undefined, { session: sid });
  check(again.error?.code === -32000 && again.error.kind === "AlreadyExists", "WS attaching an existing session → AlreadyExists", again);
  await a.call("detach", undefined, { session: sid });
  const after = await a.send("query", ["RETURN 1"], { session: sid });
  check(after.error?.code === -32000, "WS the session is gone after detach", after);

  // Transactions belong to their connection.
  await a.call("query", ["DEFINE TABLE IF NOT EXISTS acct"]);
  const txn = await a.call("begin");
  check(txn instanceof Uuid, "WS begin returns a transaction id", txn);
  await a.call("query", ["CREATE acct:1 SET n = 1"], { txn });
  const steal = await b.send("query", ["RETURN 1"], { txn });
  check(steal.error?.code === -32603 && /Transaction not found/.test(steal.error.message), "WS another connection cannot use that transaction", steal);
  const stealCommit = await b.send("commit", [txn]);
  check(stealCommit.error?.code === -32603, "WS another connection cannot commit it", stealCommit);
  const before = await a.call("query", ["SELECT * FROM acct"]);
  check(before[0].result.length === 0, "WS uncommitted writes are not visible", before);
  await a.call("commit", [txn]);
  const committed = await a.call("query", ["SELECT * FROM acct"]);
  check(committed[0].result.length === 1, "WS commit makes them visible", committed);

  await b.close();
  await a.close();
}

async function testLive(s) {
  const a = await Ws.open(s.port);
  const b = await Ws.open(s.port);
  const c = await Ws.open(s.port);
  for (const w of [a, b, c]) await w.call("use", ["smoke", "live"]);
  await b.call("query", ["DEFINE TABLE IF NOT EXISTS pet"]);
  const lid = await a.call("live", ["pet"]);
  check(lid instanceof Uuid, "WS live → a live query id", lid);
  const clid = await c.call("query", ["LIVE SELECT * FROM pet WHERE name = 'nobody'"]);
  check(clid[0].result instanceof Uuid, "WS LIVE SELECT through query on C", clid);
  await b.call("create", [new Table("pet"), { name: "Rex" }]);
  for (let i = 0; i < 50 && a.notifications.length === 0; i++) await sleep(20);
  await sleep(200);
  const n = a.notifications[0];
  check(
    a.notifications.length === 1 && n.result.action === "CREATE" && n.result.id.toString() === lid.toString() && n.result.result.name === "Rex",
    "WS live query on A gets the CREATE made from B",
    a.notifications,
  );
  check(b.notifications.length === 0 && c.notifications.length === 0, "WS B and C get no notification", [b.notifications, c.notifications]);

  // A live query in an attached session carries that session.
  const sid = new Uuid(crypto.randomUUID());
  await a.call("attach", undefined, { session: sid });
  await a.call("use", ["smoke", "live"], { session: sid });
  const slid = await a.call("live", ["pet"], { session: sid });
  a.notifications.length = 0;
  await b.call("create", [new Table("pet"), { name: "Tom" }]);
  for (let i = 0; i < 50 && a.notifications.length < 2; i++) await sleep(20);
  const inSess = a.notifications.find((x) => x.result.id.toString() === slid.toString());
  check(inSess && inSess.session?.toString() === sid.toString(), "WS notification of a live query started in an attached session carries that session", a.notifications);

  // kill stops it; closing a connection kills its live queries.
  await a.call("kill", [lid]);
  const lives = async () => Object.keys((await b.call("query", ["INFO FOR TABLE pet"]))[0].result.lives);
  check((await lives()).length === 2, "INFO FOR TABLE shows the remaining live queries (A's session one and C's)", await lives());
  await a.call("detach", undefined, { session: sid });
  await sleep(100);
  check((await lives()).length === 1, "detach kills the session's live queries", await lives());
  await c.close();
  await sleep(300);
  check((await lives()).length === 0, "closing connection C kills its live query", await lives());
  a.notifications.length = 0;
  await b.call("create", [new Table("pet"), { name: "Felix" }]);
  await sleep(300);
  check(a.notifications.length === 0, "WS no notification after kill", a.notifications);
  await a.close();
  await b.close();
}

// -------------------------------------------------------------------------------------------------
// SQL export and import (GET/POST /export, POST /import)

const basicAuth = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

function exportSql(port, headers, { method = "GET", body = null } = {}) {
  return httpRequest(port, { method, path: "/export", headers, body }).then((r) => ({ ...r, text: r.body.toString("utf8") }));
}

async function importSql(port, headers, sql) {
  const r = await httpRequest(port, { method: "POST", path: "/import", headers: { "content-type": "text/plain", ...headers }, body: Buffer.from(sql) });
  let json = null;
  if (String(r.headers["content-type"]).startsWith("application/json")) json = JSON.parse(r.body.toString("utf8"));
  return { ...r, json };
}

/** Everything in a database that an export/import round trip must keep, as CBOR bytes. */
async function snapshot(port, headers) {
  const r = await httpRpc(
    port,
    {
      id: 1,
      method: "query",
      params: [
        "SELECT * FROM person ORDER BY id; SELECT * FROM thing ORDER BY id; SELECT * FROM knows ORDER BY id; " +
          "RETURN fn::greet('x'); RETURN $limit; (INFO FOR DB).tables.keys(); (INFO FOR TABLE person).indexes.keys()",
      ],
    },
    headers,
  );
  const res = r.decoded?.result;
  if (!okStatements(res)) throw new Error(`snapshot failed: ${show(r.decoded)}`);
  return { values: res.map((x) => x.result), bytes: Buffer.from(codec.encode(res.map((x) => x.result))) };
}

async function testBackup(s) {
  const A = { "surreal-ns": "smoke", "surreal-db": "exportA" };
  const B = { "surreal-ns": "smoke", "surreal-db": "importB" };
  const born = new DateTime("1815-12-10T08:30:00.123456789Z");
  const setup = await httpRpc(
    s.port,
    {
      id: 1,
      method: "query",
      params: [
        "DEFINE TABLE person SCHEMAFULL; DEFINE FIELD name ON person TYPE string; DEFINE FIELD born ON person TYPE datetime; " +
          "DEFINE FIELD balance ON person TYPE decimal; DEFINE FIELD tags ON person TYPE array<string>; DEFINE INDEX person_name ON person FIELDS name; " +
          "DEFINE FUNCTION fn::greet($n: string) { RETURN 'hello ' + $n }; DEFINE PARAM $limit VALUE 10; " +
          "CREATE person:⟨ada lovelace⟩ CONTENT { name: 'Ada', born: $born, balance: $bal, tags: ['math', 'ünïcode ✓'] }; " +
          "CREATE person:1 CONTENT { name: 'One', born: d'2024-02-29T23:59:59Z', balance: 0.1dec + 0.2dec, tags: [] }; " +
          "CREATE thing:[1, 'a'] SET wait = $dur, meta = { n: NONE, z: NULL, big: 9007199254740993, f: 1.25 }, at = time::now(); " +
          "CREATE thing:{ k: 'v', n: 2 } SET u = $uuid; CREATE thing:⟨00000000-0000-0000-0000-000000000001⟩ SET s = \"it's \\\"quoted\\\"\"; " +
          "RELATE person:⟨ada lovelace⟩->knows->person:1 SET since = $born;",
        { born, bal: new Decimal("12345678901234567890.123456789"), dur: new Duration("1w2d3h4m5s6ms7us8ns"), uuid: new Uuid("0190f3a4-1b2c-7d3e-8f40-123456789abc") },
      ],
    },
    A,
  );
  check(okStatements(setup.decoded?.result), "backup: records and definitions created through /rpc in ns/db A", setup.decoded);
  const before = await snapshot(s.port, A);
  const ada = before.values[0].find((p) => p.name === "Ada");
  check(
    ada && ada.born instanceof DateTime && ada.born.toISOString() === "1815-12-10T08:30:00.123456789Z" && ada.balance instanceof Decimal && ada.balance.toString() === "12345678901234567890.123456789",
    "backup: A holds a nanosecond datetime and a 29-digit decimal",
    ada,
  );

  // Export.
  const ex = await exportSql(s.port, A);
  check(
    ex.status === 200 && ex.headers["content-type"] === undefined && /^OPTION IMPORT;$/m.test(ex.text) && /DEFINE TABLE person /.test(ex.text) && /INSERT /.test(ex.text) && /DEFINE FUNCTION fn::greet/.test(ex.text),
    "GET /export with surreal-ns/surreal-db → 200, SurrealQL text, no Content-Type (as the real server)",
    { status: ex.status, headers: ex.headers, text: ex.text.slice(0, 300) },
  );
  const again = await exportSql(s.port, A);
  check(again.text === ex.text, "GET /export twice gives the same text");
  const noRecords = await exportSql(s.port, { ...A, "content-type": "application/json" }, { method: "POST", body: JSON.stringify({ records: false }) });
  check(noRecords.status === 200 && /DEFINE TABLE person /.test(noRecords.text) && !/INSERT /.test(noRecords.text), "POST /export with JSON options {records: false} → definitions only", noRecords.text.slice(0, 200));
  const onlyPerson = await exportSql(s.port, { ...A, "content-type": "application/cbor" }, { method: "POST", body: Buffer.from(codec.encode({ tables: ["person"], functions: false, params: false })) });
  check(
    onlyPerson.status === 200 && /DEFINE TABLE person /.test(onlyPerson.text) && !/DEFINE TABLE thing /.test(onlyPerson.text) && !/fn::greet/.test(onlyPerson.text),
    "POST /export with CBOR options {tables: [person], functions: false, params: false} → only those",
    onlyPerson.text.slice(0, 200),
  );

  // Import into B and read everything back.
  const im = await importSql(s.port, B, ex.text);
  check(
    im.status === 200 && im.headers["content-type"] === "application/json" && Array.isArray(im.json) && im.json.length >= 1 && im.json.every((e) => e.status === "OK"),
    "POST /import of that text into ns/db B → 200, JSON list without failed statements",
    { status: im.status, json: im.json },
  );
  const after = await snapshot(s.port, B);
  check(after.bytes.equals(before.bytes), "backup: B reads back identical to A (record ids, datetimes, decimals, durations, UUIDs, relations, function, param, index)", { before: before.values, after: after.values });
  const octets = await httpRequest(s.port, { method: "POST", path: "/import", headers: { "surreal-ns": "smoke", "surreal-db": "importC", "content-type": "application/octet-stream", accept: "application/octet-stream" }, body: Buffer.from(ex.text) });
  const c = await snapshot(s.port, { "surreal-ns": "smoke", "surreal-db": "importC" });
  check(octets.status === 200 && octets.body.length === 0 && c.bytes.equals(before.bytes), "POST /import as application/octet-stream with Accept application/octet-stream → 200, empty body, data identical", { status: octets.status, body: octets.body.toString() });

  // Official JS SDK over HTTP: export() and import() against these endpoints.
  const sdk = new Surreal();
  try {
    await sdk.connect(`http://127.0.0.1:${s.port}/rpc`, { namespace: "smoke", database: "exportA" });
    const sdkText = await sdk.export();
    await sdk.use({ namespace: "smoke", database: "importSdk" });
    await sdk.import(sdkText);
    const d = await snapshot(s.port, { "surreal-ns": "smoke", "surreal-db": "importSdk" });
    check(sdkText === ex.text && d.bytes.equals(before.bytes), "official JS SDK export() and import() over HTTP round-trip identically");
  } catch (err) {
    check(false, "official JS SDK export() and import() over HTTP", err?.stack ?? String(err));
  } finally {
    await sdk.close().catch(() => {});
  }

  // Re-importing reports the failed statements (records already exist), still with 200.
  const dup = await importSql(s.port, B, ex.text);
  check(dup.status === 200 && dup.json.some((e) => e.status === "ERR" && /already exists/.test(e.result)), "POST /import again → 200 with ERR entries (records already exist)", dup.json?.slice(0, 3));

  // Bad SQL: the real server answers 200 with the failed statement; nothing of the body runs here.
  const bad = await importSql(s.port, B, "CREATE marker:1; CREATE marker:2 SET ;");
  const badEntry = bad.json?.find((e) => e.status === "ERR");
  check(bad.status === 200 && bad.json?.length === 1 && badEntry?.kind === "Internal" && /^Parse error/.test(badEntry.result) && badEntry.time === "0ns", "POST /import of bad SQL → 200 with one ERR entry, kind Internal, \"Parse error: ...\"", bad.json);
  const markers = async () => {
    const r = await httpRpc(s.port, { id: 1, method: "query", params: ["SELECT VALUE id FROM marker"] }, B);
    const st = r.decoded?.result?.[0];
    return st?.status === "OK" ? st.result.map(String) : []; // 3.x: a table that does not exist is an error
  };
  check((await markers()).length === 0, "bad SQL: no statement of that import ran", await markers());
  const badCbor = await httpRequest(s.port, { method: "POST", path: "/import", headers: { ...B, accept: "application/cbor" }, body: Buffer.from("SELECT FROM;") });
  const badCborBody = badCbor.headers["content-type"] === "application/cbor" ? codec.decode(badCbor.body) : null;
  check(badCbor.status === 200 && badCborBody?.[0]?.status === "ERR", "POST /import with Accept application/cbor → CBOR list with the ERR entry", badCborBody);
  const failing = await importSql(s.port, B, "CREATE person:2 SET name = 1; CREATE marker:3;");
  const ran = await markers();
  check(
    failing.status === 200 && failing.json?.length === 1 && failing.json[0].status === "ERR" && /coerce/.test(failing.json[0].result) && ran.length === 1 && ran[0] === "marker:3",
    "POST /import with a statement failing at run time → 200, only that statement listed; the others ran",
    { json: failing.json, ran },
  );
  const textAccept = await httpRequest(s.port, { method: "POST", path: "/import", headers: { ...B, accept: "text/plain" }, body: Buffer.from("RETURN 1") });
  check(textAccept.status === 415 && JSON.parse(textAccept.body).code === 415, "POST /import with Accept text/plain → 415 (as the real server)", textAccept.status);
  const badAccept = await httpRequest(s.port, { method: "POST", path: "/import", headers: { ...B, accept: "text/html" }, body: Buffer.from("RETURN 1") });
  check(badAccept.status === 400 && /invalid HTTP header \(accept\)/.test(badAccept.body.toString()), "POST /import with an unreadable Accept → 400", badAccept.body.toString());

  // Missing namespace/database.
  const noNs = await exportSql(s.port, {});
  const noNsBody = noNs.headers["content-type"] === "application/json" ? JSON.parse(noNs.text) : null;
  check(noNs.status === 400 && noNsBody?.code === 400 && noNsBody.information === "Specify a namespace to use", "GET /export without surreal-ns → 400, JSON {code, details, description, information: \"Specify a namespace to use\"}", noNs.text);
  const noDb = await exportSql(s.port, { "surreal-ns": "smoke" });
  check(noDb.status === 400 && JSON.parse(noDb.text).information === "Specify a database to use", "GET /export without surreal-db → 400 \"Specify a database to use\"", noDb.text);
  const missing = await exportSql(s.port, { "surreal-ns": "smoke-missing-ns", "surreal-db": "nothing" });
  const rootInfo = await httpRpc(s.port, { id: 1, method: "query", params: ["INFO FOR ROOT"] });
  check(
    missing.status === 200 && missing.body.length === 0 && rootInfo.decoded?.result?.[0]?.result?.namespaces && !("smoke-missing-ns" in rootInfo.decoded.result[0].result.namespaces),
    "GET /export of a database that does not exist → 200, empty body, and it is not created",
    { status: missing.status, body: missing.text },
  );
  const importNoNs = await importSql(s.port, {}, "CREATE x:1");
  check(importNoNs.status === 200 && importNoNs.json?.[0]?.status === "ERR" && /namespace/.test(importNoNs.json[0].result), "POST /import without surreal-ns → 200 with ERR \"Specify a namespace to use\"", importNoNs.json);
  const noType = await exportSql(s.port, A, { method: "POST", body: "{}" });
  check(noType.status === 400 && /content-type/.test(noType.text), "POST /export without Content-Type → 400", noType.text);
  const textType = await exportSql(s.port, { ...A, "content-type": "text/plain" }, { method: "POST", body: "{}" });
  check(textType.status === 400 && JSON.parse(textType.text).information === "unsupported body format", "POST /export with Content-Type text/plain → 400 unsupported body format", textType.text);
  const badJson = await exportSql(s.port, { ...A, "content-type": "application/json" }, { method: "POST", body: "{nope" });
  check(badJson.status === 400 && JSON.parse(badJson.text).code === 400, "POST /export with malformed JSON → 400", badJson.text);
  const getImport = await httpRequest(s.port, { path: "/import" });
  check(getImport.status === 405 && getImport.headers.allow === "POST", "GET /import → 405, Allow: POST", getImport.status);
  const putExport = await httpRequest(s.port, { method: "PUT", path: "/export" });
  check(putExport.status === 405, "PUT /export → 405", putExport.status);

  // Concurrency: exports run in the engine's default session; nobody else may notice.
  await httpRpc(s.port, { id: 1, method: "query", params: ["CREATE only_in_e:1 SET v = 'E'"] }, { "surreal-ns": "smoke", "surreal-db": "exportE" });
  const exE = (await exportSql(s.port, { "surreal-ns": "smoke", "surreal-db": "exportE" })).text;
  const w1 = await Ws.open(s.port);
  const w2 = await Ws.open(s.port);
  const w3 = await Ws.open(s.port); // never selects a namespace
  await w1.call("use", ["smoke", "conc1"]);
  await w2.call("use", ["other", "conc2"]);
  const sid = new Uuid(crypto.randomUUID());
  await w1.call("attach", undefined, { session: sid });
  await w1.call("use", ["smoke", "conc3"], { session: sid });
  const sessionsOk = [];
  let stop = false;
  const loops = [
    [w1, {}, "smoke", "conc1"],
    [w2, {}, "other", "conc2"],
    [w1, { session: sid }, "smoke", "conc3"],
    [w3, {}, undefined, undefined],
  ].map(async ([w, extra, ns, db]) => {
    let n = 0;
    while (!stop) {
      const r = await w.call("query", ["RETURN [session::ns(), session::db()]; CREATE tick SET n = $n RETURN NONE", { n }], extra);
      const [gotNs, gotDb] = r[0].result;
      sessionsOk.push((gotNs ?? undefined) === ns && (gotDb ?? undefined) === db && (ns === undefined ? r[1].status === "ERR" : r[1].status === "OK"));
      n++;
    }
    return n;
  });
  const httpLoop = (async () => {
    let n = 0;
    while (!stop) {
      const r = await httpRpc(s.port, { id: n, method: "query", params: ["RETURN [session::ns(), session::db()]"] }, { "surreal-ns": "smoke", "surreal-db": "concHttp" });
      sessionsOk.push(r.decoded?.result?.[0]?.result?.[1] === "concHttp");
      const p = await httpRpc(s.port, { id: n, method: "ping" });
      sessionsOk.push(p.status === 200 && !p.decoded.error);
      n++;
    }
    return n;
  })();
  let exports;
  let imports;
  try {
    exports = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        i % 3 === 2 ? exportSql(s.port, { "surreal-ns": "smoke", "surreal-db": "exportE" }).then((r) => r.text === exE) : exportSql(s.port, A).then((r) => r.status === 200 && r.text === ex.text),
      ),
    );
    imports = await Promise.all(
      ["concImp1", "concImp2"].map((db) => importSql(s.port, { "surreal-ns": "smoke", "surreal-db": db }, ex.text).then(async (r) => r.status === 200 && (await snapshot(s.port, { "surreal-ns": "smoke", "surreal-db": db })).bytes.equals(before.bytes))),
    );
  } finally {
    stop = true;
  }
  const counts = await Promise.all([...loops, httpLoop]);
  check(exports.every(Boolean), "24 concurrent exports of A and E each return their own database's text", exports);
  check(imports.every(Boolean), "2 concurrent imports into different databases both round-trip identically", imports);
  check(
    sessionsOk.length > 0 && sessionsOk.every(Boolean) && counts.every((n) => n > 0),
    `queries on 4 other sessions and HTTP /rpc during the exports keep their own namespace/database (${sessionsOk.length} checked)`,
    { bad: sessionsOk.filter((x) => !x).length, counts },
  );
  const ticks = await w1.call("query", ["SELECT count() FROM tick GROUP ALL"]);
  check(ticks[0].result[0]?.count === counts[0], "every write of those sessions landed in their own database", { ticks, counts });
  await Promise.all([w1.close(), w2.close(), w3.close()]);
}

async function testRobustness(s) {
  // Oversized message on a server with a small --max-message.
  const small = await startServer(["--bind", "127.0.0.1:0", "--max-message", "64KiB", "--max-body", "16K", "--max-import", "64K"]);
  try {
    const w = await Ws.open(small.port);
    const big = Buffer.from(codec.encode({ id: 77, method: "query", params: ["RETURN $x", { x: "y".repeat(100 * 1024) }] }));
    const r = await w.sendRaw(big, 77);
    check(r.error?.code === -32600 && r.id === 77, "WS message over --max-message → -32600 with its id", r.error);
    check((await w.send("ping")).error === undefined, "WS connection still works after an oversized message");
    await w.close();
    const body = await httpRpc(small.port, { id: 1, method: "query", params: ["RETURN $x", { x: "y".repeat(20 * 1024) }] });
    check(body.status === 413, "HTTP body over --max-body → 413", body.status);
    const imHdr = { "surreal-ns": "smoke", "surreal-db": "limit" };
    const fits = await importSql(small.port, imHdr, `CREATE big:1 SET s = '${"z".repeat(60 * 1024)}';`);
    check(fits.status === 200 && fits.json?.length === 0, "POST /import under --max-import (60 KiB of 64 KiB) → 200", { status: fits.status, json: fits.json });
    const over = await importSql(small.port, imHdr, `CREATE big:2 SET s = '${"z".repeat(100 * 1024)}';`);
    const big2 = await httpRpc(small.port, { id: 2, method: "query", params: ["SELECT VALUE id FROM big"] }, imHdr);
    check(
      over.status === 413 && over.body.toString() === "length limit exceeded" && big2.decoded?.result?.[0]?.result?.length === 1,
      "POST /import over --max-import → 413 \"length limit exceeded\", nothing imported",
      { status: over.status, body: over.body.toString() },
    );
  } finally {
    await stopServer(small);
  }

  // A client that disconnects mid-request.
  const w1 = await Ws.open(s.port);
  await w1.call("use", ["smoke", "robust"]);
  w1.send("query", ["SLEEP 300ms; CREATE gone SET x = 1"]).catch(() => {});
  // Vanish mid-request: after the request reached the server (terminate() would drop it unsent).
  await sleep(100);
  w1.sock.terminate();
  const req = http.request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/rpc", headers: { "content-type": "application/cbor", "surreal-ns": "smoke", "surreal-db": "robust" } });
  req.on("error", () => {});
  req.end(Buffer.from(codec.encode({ id: 1, method: "query", params: ["SLEEP 300ms"] })));
  setTimeout(() => req.destroy(), 50);
  // A raw TCP client that sends half a request and vanishes.
  const sock = net.connect(s.port, "127.0.0.1", () => sock.end("POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/cbor\r\ncontent-length: 100\r\n\r\nabc"));
  sock.on("error", () => {});
  await sleep(600);
  const w2 = await Ws.open(s.port);
  const still = await w2.call("query", ["USE NS smoke DB robust; SELECT * FROM gone"]);
  check(still[1].result.length === 1, "server survives clients vanishing mid-request (the request still completed)", still);

  // Many connections at once.
  const conns = await Promise.all(Array.from({ length: 50 }, () => Ws.open(s.port)));
  const res = await Promise.all(conns.map((w, i) => w.call("query", ["RETURN $i", { i }])));
  check(res.every((r, i) => r[0].result === i), "50 WebSocket connections at once");
  await Promise.all(conns.map((w) => w.close()));
  await w2.close();

  // Port already taken, and bad options.
  const taken = await startServer(["--bind", `127.0.0.1:${s.port}`], { expectFail: true });
  check(taken.exited && taken.exited.code !== 0 && /address already in use/.test(taken.stderr) && taken.stderr.trim().split("\n").length === 1, "port already taken → non-zero exit with a one-line message", taken.exited);
  const badOpt = await startServer(["--bind", "nonsense"], { expectFail: true });
  check(badOpt.exited && badOpt.exited.code !== 0 && /--bind/.test(badOpt.stderr), "bad option → non-zero exit with a clear message", badOpt.exited);
  const badImport = await startServer(["--max-import", "lots"], { expectFail: true });
  check(badImport.exited && badImport.exited.code !== 0 && /--max-import/.test(badImport.stderr), "bad --max-import → non-zero exit with a clear message", badImport.exited);
  const badPath = await startServer(["--path", "ftp://x"], { expectFail: true });
  check(badPath.exited && badPath.exited.code !== 0 && /--path/.test(badPath.stderr), "bad --path → non-zero exit", badPath.exited);
}

// -------------------------------------------------------------------------------------------------
// Measurements

async function measure(s) {
  const N = 2000;
  const w = await Ws.open(s.port);
  for (let i = 0; i < 200; i++) await w.send("ping");
  let t = performance.now();
  for (let i = 0; i < N; i++) await w.send("ping");
  const wsPing = performance.now() - t;
  for (let i = 0; i < 200; i++) await httpRpc(s.port, { id: i, method: "ping" });
  t = performance.now();
  for (let i = 0; i < N; i++) await httpRpc(s.port, { id: i, method: "ping" });
  const httpPing = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < N / 4; i++) await httpRpc(s.port, { id: i, method: "query", params: ["RETURN 1"] }, { "surreal-ns": "smoke", "surreal-db": "bench" });
  const httpQuery = performance.now() - t;

  await w.call("use", ["smoke", "bench"]);
  await w.call("query", ["DEFINE TABLE t; FOR $i IN 0..20000 { CREATE t CONTENT { n: $i, name: 'row ' + <string> $i, ok: true, score: $i * 1.5, tag: 'x' } RETURN NONE }"]);
  const runs = [];
  let bytes = 0;
  let rows = 0;
  for (let i = 0; i < 4; i++) {
    w.raw.length = 0;
    t = performance.now();
    const r = await w.call("query", ["SELECT * FROM t"]);
    runs.push({ total: performance.now() - t, arrival: w.arrival - t, decode: w.decodeMs });
    bytes = w.raw[w.raw.length - 1].length;
    rows = r[0].result.length;
  }
  await sleep(100);
  // The server's own time for the same requests, from its --log lines.
  const serverMs = s
    .stderr()
    .split("\n")
    .filter((l) => / method=query /.test(l))
    .slice(-4)
    .map((l) => Number(/ ([\d.]+)ms /.exec(l)?.[1]));
  // Export of those 20,000 rows and import into another database.
  t = performance.now();
  const dump = await exportSql(s.port, { "surreal-ns": "smoke", "surreal-db": "bench" });
  const exportMs = performance.now() - t;
  t = performance.now();
  const loaded = await importSql(s.port, { "surreal-ns": "smoke", "surreal-db": "bench2" }, dump.text);
  const importMs = performance.now() - t;
  const copied = await w.call("query", ["USE DB bench2; SELECT count() FROM t GROUP ALL; USE DB bench"]);
  check(dump.status === 200 && loaded.status === 200 && loaded.json?.every((e) => e.status === "OK") && copied[1].result[0]?.count === 20000, "export of 20,000 rows imported into another database: 20,000 rows", { count: copied[1].result });
  await w.close();
  const warm = runs.slice(1);
  const best = warm.reduce((a, b) => (b.total < a.total ? b : a));
  const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  check(rows === 20000, "SELECT * FROM t returns 20,000 rows over WS", rows);
  console.log("\nmeasurements (loopback, sequential, one client):");
  console.log(`  WS ping:   ${N} in ${wsPing.toFixed(0)} ms = ${Math.round((N / wsPing) * 1000)} requests/s`);
  console.log(`  HTTP ping: ${N} in ${httpPing.toFixed(0)} ms = ${Math.round((N / httpPing) * 1000)} requests/s (keep-alive)`);
  console.log(`  HTTP query RETURN 1 with ns/db headers: ${N / 4} in ${httpQuery.toFixed(0)} ms = ${Math.round((N / 4 / httpQuery) * 1000)} requests/s (attach, use, query, detach each)`);
  console.log(
    `  WS SELECT * FROM t, 20,000 rows (5 fields each), ${bytes} bytes of CBOR, median of 3 after a warm-up:\n` +
      `    ${med(warm.map((x) => x.arrival)).toFixed(0)} ms until the response is in the client, of which ${med(serverMs.slice(1)).toFixed(0)} ms in the server (engine + framing, from --log);\n` +
      `    + ${med(warm.map((x) => x.decode)).toFixed(0)} ms to decode it with the JS CborCodec (best total ${best.total.toFixed(0)} ms)`,
  );
  console.log(`  GET /export of those 20,000 rows: ${dump.body.length} bytes of SurrealQL in ${exportMs.toFixed(0)} ms; POST /import of it into another database: ${importMs.toFixed(0)} ms`);
}

// -------------------------------------------------------------------------------------------------

async function main() {
  const s = await startServer(["--bind", "127.0.0.1:0", "--log"]);
  check(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/.test(s.stdout()) && s.port > 0, `prints exactly one line: ${s.stdout().trim()}`);
  try {
    await testHttp(s);
    await testWs(s);
    await testLive(s);
    await testBackup(s);
    await testAuth();
    await testRobustness(s);
    if (!quick) await measure(s);
    check(!/unhandled|uncaught|internal error/i.test(s.stderr()), "no unhandled errors in the server log", s.stderr().split("\n").filter((l) => /unhandled|uncaught|internal error/i.test(l)).join("\n"));
    const logged = s.stderr().split("\n").filter((l) => / method=/.test(l));
    check(logged.length > 0 && logged.every((l) => !/p'a|root:|Bearer|Basic/.test(l)), "--log writes one line per request without credentials", logged.slice(0, 3).join("\n"));
    // SIGTERM with an open WebSocket: exit 0.
    const w = await Ws.open(s.port);
    const closed = w.closed;
    const x = await stopServer(s);
    check(x.code === 0, "SIGTERM → exit 0", x);
    check((await closed) === 1001, "open WebSocket closed with 1001 on shutdown");
  } catch (err) {
    failures++;
    console.log(`FAIL exception: ${err?.stack ?? err}`);
    s.proc.kill("SIGKILL");
  }
  agent.destroy();
  console.log(`\n${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main();
