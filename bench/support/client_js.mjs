// The JS side of bench/client.lua: the same work with the official JS SDK (`surrealdb` npm 2.0.8).
//
//   node bench/support/client_js.mjs WS_URL NAMESPACE DATABASE CREATES SELECTS CONCURRENCY
//
// Connects one `Surreal` over WebSocket (WS_URL ends in /rpc), `use`s NAMESPACE/DATABASE (a fresh
// database: bench/client.lua names it), defines the table `item`, then
//   1. selects the record `probe:1` by id SELECTS times, one after another, timing each call;
//   2. creates CREATES records `{ n, name, ok }` in `item` (random ids) from CONCURRENCY concurrent
//      promises that each take the next number until none is left.
// Prints `key<TAB>value` lines: select_p50_us, select_p99_us, select_mean_us, creates, create_seconds,
// creates_per_s, partial_creates and partial_creates_per_s (the rate until the first min(CREATES, 20000)
// creates had completed), create_cpu_us (this process's CPU time per create, user + system).
// Every failure exits non-zero with its message.
//
// The package comes from the project's scripts/node_modules (scripts/setup installs it);
// SURREALDB_JS_SDK may name another copy of its dist/surrealdb.mjs.
import { createRequire } from "node:module";

const sdkUrl = process.env.SURREALDB_JS_SDK
  ? new URL(`file://${process.env.SURREALDB_JS_SDK}`)
  : new URL("../../scripts/node_modules/surrealdb/dist/surrealdb.mjs", import.meta.url);
const { Surreal, RecordId, Table } = await import(sdkUrl.href);
// Node 20 has no global WebSocket: the SDK takes the `ws` package's (the dev server's dependency).
const WebSocketImpl =
  globalThis.WebSocket ?? createRequire(new URL("../../scripts/package.json", import.meta.url))("ws");

const [url, namespace, database, createsArg, selectsArg, concurrencyArg] = process.argv.slice(2);
if (!url || !namespace || !database) {
  process.stderr.write("usage: node client_js.mjs WS_URL NAMESPACE DATABASE CREATES SELECTS CONCURRENCY\n");
  process.exit(2);
}
const CREATES = Number(createsArg ?? 100000);
const SELECTS = Number(selectsArg ?? 2000);
const CONCURRENCY = Number(concurrencyArg ?? 64);
const WARMUP = Math.min(200, SELECTS);

const now = () => Number(process.hrtime.bigint()) / 1e3; // microseconds
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

const db = new Surreal({ websocketImpl: WebSocketImpl });
await db.connect(url);
await db.use({ namespace, database });
await db.query("DEFINE TABLE item SCHEMALESS; CREATE probe:1 CONTENT { n: 1, name: 'probe', ok: true }");

// 1. Round-trip latency of select by record id, one call at a time.
const probe = new RecordId("probe", 1);
for (let i = 0; i < WARMUP; i++) await db.select(probe);
const times = [];
for (let i = 0; i < SELECTS; i++) {
  const t0 = now();
  const record = await db.select(probe);
  times.push(now() - t0);
  if (record?.name !== "probe") throw new Error(`select returned ${JSON.stringify(record)}`);
}
times.sort((a, b) => a - b);
const mean = times.reduce((a, b) => a + b, 0) / times.length;

// 2. Throughput of small creates from CONCURRENCY concurrent promises on the one connection.
const table = new Table("item");
const PARTIAL = Math.min(CREATES, 20000); // also timed: when this many creates have completed
let next = 0;
let done = 0;
let partialSeconds;
async function worker() {
  while (next < CREATES) {
    next += 1;
    const n = next;
    // CREATE on a table answers with an array of the one record created.
    const [created] = await db.create(table).content({ n, name: `item ${n}`, ok: n % 2 === 0 });
    if (created?.n !== n) throw new Error(`create returned ${JSON.stringify(created)}`);
    done += 1;
    if (done === PARTIAL) partialSeconds = (now() - t0) / 1e6;
  }
}
const cpu0 = process.cpuUsage();
const t0 = now();
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const seconds = (now() - t0) / 1e6;
const cpu = process.cpuUsage(cpu0);
const [counted] = await db.query("RETURN count(SELECT id FROM item)");
if (Number(counted) !== CREATES) throw new Error(`${counted} records in item, expected ${CREATES}`);
await db.close();

const out = {
  select_p50_us: percentile(times, 50).toFixed(1),
  select_p99_us: percentile(times, 99).toFixed(1),
  select_mean_us: mean.toFixed(1),
  creates: CREATES,
  create_seconds: seconds.toFixed(3),
  creates_per_s: (CREATES / seconds).toFixed(0),
  partial_creates: PARTIAL,
  partial_creates_per_s: (PARTIAL / partialSeconds).toFixed(0),
  create_cpu_us: ((cpu.user + cpu.system) / CREATES).toFixed(2),
};
process.stdout.write(Object.entries(out).map(([k, v]) => `${k}\t${v}`).join("\n") + "\n");
