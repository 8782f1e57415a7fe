// The ceiling of bench/bulk.lua: the same batches executed by the SurrealDB engine in this process,
// with no client and no server in between; or, to measure the dev server's own share, the same
// requests sent over one bare WebSocket to the dev server.
//
//   node bench/support/bulk_engine.mjs engine ROWS BATCH PARALLEL TABLE SQL TABLE_VAR ROWS_VAR
//   node bench/support/bulk_engine.mjs ws ROWS BATCH PARALLEL TABLE SQL TABLE_VAR ROWS_VAR WS_URL NAMESPACE DATABASE
//
// SQL is the statement db:bulk() sends for a batch (bench/bulk.lua passes the text it saw go out),
// with $TABLE_VAR bound to the table TABLE (a Table value, CBOR tag 7) and $ROWS_VAR to the batch's rows.
// Both modes first encode every request (the rows of bulk_js.mjs's makeRow, BATCH rows per request)
// with the dev server's own CBOR writer, then send them PARALLEL deep and time only that:
//   engine  opens @surrealdb/node on mem:// the way the dev server does (scripts/dev-server/engine.mjs),
//           attaches one session through the dev server's Hub (scripts/dev-server/rpc.mjs), uses
//           namespace `bench`, database `ceiling`, and runs each request as the dev server runs one
//           (Hub.run: the engine's execute on the request's CBOR bytes);
//   ws      sends each request over one WebSocket (subprotocol cbor) to WS_URL (ends in /rpc), in
//           NAMESPACE/DATABASE (a fresh database: bench/bulk.lua names it and removes it afterwards).
// Either defines TABLE (SCHEMALESS) first. Prints `key<TAB>value` lines: rows, batches, seconds,
// rows_per_s, cpu_us_per_row (this process's CPU time per row, user + system; in engine mode that
// includes the engine's threads), server_cpu_us_per_row (ws mode, when bench/bulk.lua could name the
// server's process), encode_seconds (not timed), rss_peak_kb, counted.
// Every failure exits non-zero with its message.
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { Raw, Tagged, decodeJson, encode, uuidValue } from "../../scripts/dev-server/cbor.mjs";
import { executor, openEngine } from "../../scripts/dev-server/engine.mjs";
import { Hub } from "../../scripts/dev-server/rpc.mjs";
import { makeRows, peakRssKb, printFigures, serverCpuPerRow, serverCpuSeconds } from "./bulk_js.mjs";

const TAG_TABLE = 7; // SurrealDB's CBOR tag of a table name

const USAGE =
  "usage: node bulk_engine.mjs engine ROWS BATCH PARALLEL TABLE SQL TABLE_VAR ROWS_VAR\n" +
  "       node bulk_engine.mjs ws ROWS BATCH PARALLEL TABLE SQL TABLE_VAR ROWS_VAR WS_URL NAMESPACE DATABASE\n";

const [mode, rowsArg, batchArg, parallelArg, table, sql, tableVar, rowsVar, url, namespace, database] =
  process.argv.slice(2);
const ROWS = Number(rowsArg);
const BATCH = Number(batchArg);
const PARALLEL = Number(parallelArg);
if (!["engine", "ws"].includes(mode) || !(ROWS > 0) || !(BATCH > 0) || !(PARALLEL > 0) || !table || !sql ||
  !tableVar || !rowsVar || (mode === "ws" && !(url && namespace && database))) {
  process.stderr.write(USAGE);
  process.exit(2);
}

/** The statement results of a `query` answer, or throws the first failed one. */
function statements(value, what) {
  if (!Array.isArray(value)) throw new Error(`${what}: the answer is not a list of statement results`);
  for (const s of value) {
    if (s?.status !== "OK") throw new Error(`${what}: ${JSON.stringify(s?.result ?? s)}`);
  }
  return value;
}

/** A connection: `request(fields)` encodes one request; `send(request)` runs it and resolves to its result. */
async function openEngineConnection() {
  const { engine } = await openEngine("mem://", undefined);
  const hub = new Hub({ engine, execute: executor(engine) });
  const session = Buffer.from(randomUUID().replace(/-/g, ""), "hex");
  const send = async ({ bytes }) => {
    const r = await hub.run(bytes);
    const value = decodeJson(r.value).value;
    if (r.isError) throw new Error(`engine error: ${JSON.stringify(value)}`);
    return value;
  };
  const request = (fields) => ({ bytes: encode({ ...fields, session: uuidValue(session) }) });
  await send({ bytes: encode({ method: "attach", session: uuidValue(session) }) });
  await send(request({ method: "use", params: ["bench", "ceiling"] }));
  return { request, send, close: async () => {} };
}

async function openWsConnection() {
  const WebSocket = createRequire(new URL("../../scripts/package.json", import.meta.url))("ws");
  const ws = new WebSocket(url, "cbor", { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const pending = new Map();
  let nextId = 0;
  ws.on("message", (data) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const answer = decodeJson(buf).value;
    const waiter = pending.get(answer.id);
    if (!waiter) return;
    pending.delete(answer.id);
    if (answer.error) waiter.reject(new Error(`server error: ${JSON.stringify(answer.error)}`));
    else waiter.resolve(answer.result);
  });
  ws.on("close", () => {
    for (const waiter of pending.values()) waiter.reject(new Error("the WebSocket closed"));
    pending.clear();
  });
  // Ids are numbered as requests are encoded; an answer finds its request by it.
  const request = (fields) => {
    const id = ++nextId;
    return { id, bytes: encode({ id, ...fields }) };
  };
  const send = ({ id, bytes }) =>
    new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      ws.send(bytes, { binary: true });
    });
  await send(request({ method: "use", params: [namespace, database] }));
  return { request, send, close: async () => ws.close() };
}

const conn = mode === "engine" ? await openEngineConnection() : await openWsConnection();
const query = async (text, vars) =>
  statements(await conn.send(conn.request({ method: "query", params: vars ? [text, vars] : [text] })), text);
await query(`DEFINE TABLE ${table} SCHEMALESS`);

// Every request, encoded before the clock starts.
const encode0 = process.hrtime.bigint();
const requests = [];
const target = new Tagged(TAG_TABLE, table);
for (let first = 1; first <= ROWS; first += BATCH) {
  const rows = encode(makeRows(first, Math.min(ROWS, first + BATCH - 1)));
  requests.push(conn.request({ method: "query", params: [sql, { [tableVar]: target, [rowsVar]: new Raw(rows) }] }));
}
const encodeSeconds = Number(process.hrtime.bigint() - encode0) / 1e9;

let next = 0;
async function worker() {
  while (next < requests.length) {
    const request = requests[next];
    requests[next++] = null; // sent: let it go
    statements(await conn.send(request), sql);
  }
}
const batches = requests.length;
const server0 = mode === "ws" ? serverCpuSeconds() : null;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: PARALLEL }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const server1 = mode === "ws" ? serverCpuSeconds() : null;
const [counted] = await query(`SELECT count() FROM ${table} GROUP ALL`);
await conn.close();

const out = {
  rows: ROWS,
  batches,
  seconds: seconds.toFixed(3),
  rows_per_s: (ROWS / seconds).toFixed(0),
  cpu_us_per_row: ((cpu.user + cpu.system) / ROWS).toFixed(2),
  server_cpu_us_per_row: serverCpuPerRow(server0, server1, ROWS),
  encode_seconds: encodeSeconds.toFixed(3),
  rss_peak_kb: peakRssKb(),
  counted: Number(counted.result?.[0]?.count ?? 0),
};
printFigures(out);
process.exit(0);
