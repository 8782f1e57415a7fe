// The rows of bench/bulk.lua, and its JS side: the same rows inserted with the official JS SDK
// (`surrealdb` npm 2.0.8).
//
//   node bench/support/bulk_js.mjs WS_URL NAMESPACE DATABASE TABLE ROWS BATCH PARALLEL [OUTPUT]
//
// Connects one `Surreal` over WebSocket (WS_URL ends in /rpc), `use`s NAMESPACE/DATABASE (a fresh
// database: bench/bulk.lua names it), defines TABLE (SCHEMALESS), then inserts ROWS rows (`makeRow`,
// made batch by batch as they are sent, never all at once) with the SDK's `insert(table, rows)`, one
// call per batch of BATCH rows, PARALLEL calls in flight. OUTPUT `none` (the default) adds the SDK's
// `.output("none")`, so the server runs `INSERT INTO $table $rows RETURN NONE` as ours does; `records`
// leaves the SDK's default, which returns every inserted record.
// Prints `key<TAB>value` lines: rows, seconds, rows_per_s, cpu_us_per_row (this process's CPU time,
// user + system, per row), server_cpu_us_per_row (the server's, when bench/bulk.lua could name its
// process), rss_peak_kb, counted (the rows the table holds afterwards).
// Every failure exits non-zero with its message.
//
// `makeRow` and the helpers below are exported for bench/support/bulk_engine.mjs; bench/bulk.lua builds
// the same rows in Lua.
// The package comes from the project's scripts/node_modules (scripts/setup installs it);
// SURREALDB_JS_SDK may name another copy of its dist/surrealdb.mjs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const CITIES = ["Lisbon", "Osaka", "Lagos", "Lima", "Oslo", "Perth", "Quito", "Seoul"];
const TAGS = ["red", "green", "blue", "amber", "violet", "teal", "coral", "olive"];

/** Row number i (from 1): 8 fields, the same as make_row in bench/bulk.lua. */
export function makeRow(i) {
  return {
    name: `user ${i}`,
    age: 18 + (i % 60),
    email: `user${i}@example.com`,
    score: (i % 1000) + 0.5, // never a whole number, so a float on both sides
    active: i % 3 !== 0,
    city: CITIES[i % 8],
    tags: [TAGS[i % 8], TAGS[(i * 3 + 1) % 8]],
    n: i,
  };
}

/** Rows first..last (from 1). */
export function makeRows(first, last) {
  const rows = new Array(last - first + 1);
  for (let i = first; i <= last; i++) rows[i - first] = makeRow(i);
  return rows;
}

/**
 * The server's CPU seconds so far, when bench/bulk.lua named its /proc/PID/stat (BULK_SERVER_STAT,
 * with BULK_CLK_TCK), else null: utime and stime, the 12th and 13th fields after the command name.
 */
export function serverCpuSeconds() {
  const { BULK_SERVER_STAT: path, BULK_CLK_TCK: ticks } = process.env;
  if (!path || !(Number(ticks) > 0)) return null;
  let stat;
  try {
    stat = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / Number(ticks);
}

/** The server's CPU time per row between two serverCpuSeconds() readings, as text, or null. */
export function serverCpuPerRow(before, after, rows) {
  return before === null || after === null ? null : (((after - before) / rows) * 1e6).toFixed(2);
}

/** This process's peak resident set (VmHWM), in kB. */
export function peakRssKb() {
  const m = /VmHWM:\s*(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : 0;
}

async function main() {
  const [url, namespace, database, table, rowsArg, batchArg, parallelArg, output = "none"] = process.argv.slice(2);
  const ROWS = Number(rowsArg);
  const BATCH = Number(batchArg);
  const PARALLEL = Number(parallelArg);
  if (!url || !table || !(ROWS > 0) || !(BATCH > 0) || !(PARALLEL > 0) || !["none", "records"].includes(output)) {
    process.stderr.write("usage: node bulk_js.mjs WS_URL NAMESPACE DATABASE TABLE ROWS BATCH PARALLEL [none|records]\n");
    process.exit(2);
  }
  const sdkUrl = process.env.SURREALDB_JS_SDK
    ? new URL(`file://${process.env.SURREALDB_JS_SDK}`)
    : new URL("../../scripts/node_modules/surrealdb/dist/surrealdb.mjs", import.meta.url);
  const { Surreal, Table } = await import(sdkUrl.href);
  // Node 20 has no global WebSocket: the SDK takes the `ws` package's (the dev server's dependency).
  const WebSocketImpl =
    globalThis.WebSocket ?? createRequire(new URL("../../scripts/package.json", import.meta.url))("ws");

  const db = new Surreal({ websocketImpl: WebSocketImpl });
  await db.connect(url);
  await db.use({ namespace, database });
  await db.query(`DEFINE TABLE ${table} SCHEMALESS`);

  const target = new Table(table);
  let next = 1;
  async function worker() {
    while (next <= ROWS) {
      const first = next;
      const last = Math.min(ROWS, first + BATCH - 1);
      next = last + 1;
      const rows = makeRows(first, last);
      const call = db.insert(target, rows);
      const result = await (output === "none" ? call.output("none") : call);
      if (output === "records" && result.length !== rows.length) {
        throw new Error(`insert returned ${result.length} records for ${rows.length} rows`);
      }
    }
  }
  const server0 = serverCpuSeconds();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const server1 = serverCpuSeconds();
  const [counted] = await db.query(`SELECT count() FROM ${table} GROUP ALL`);
  await db.close();

  const out = {
    rows: ROWS,
    seconds: seconds.toFixed(3),
    rows_per_s: (ROWS / seconds).toFixed(0),
    cpu_us_per_row: ((cpu.user + cpu.system) / ROWS).toFixed(2),
    server_cpu_us_per_row: serverCpuPerRow(server0, server1, ROWS),
    rss_peak_kb: peakRssKb(),
    counted: Number(counted?.[0]?.count ?? 0),
  };
  printFigures(out);
}

/** Prints figures as `key<TAB>value` lines (null ones left out), as bench/bulk.lua reads them. */
export function printFigures(out) {
  const lines = Object.entries(out).filter(([, v]) => v !== null && v !== undefined);
  process.stdout.write(lines.map(([k, v]) => `${k}\t${v}`).join("\n") + "\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`bulk_js: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
