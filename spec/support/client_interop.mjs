// The JS side of spec/client_interop_spec.lua: records written by one client through the server and
// read back by the other, with the official JS SDK (`surrealdb` npm package) as the other client.
//
//   node spec/support/client_interop.mjs write WS_URL NS DB
//       writes the corpus as the record `js_values:all` and one record per kind of id into `js_ids`
//       (`{ kind }`), with the SDK's `create(...).content(...)`
//   node spec/support/client_interop.mjs read WS_URL NS DB RECORD
//       reads the record RECORD (`table:key`, key a plain identifier) and compares each field with the
//       corpus (a field written as NONE must be absent): one line per field,
//         `name<TAB>ok`, `name<TAB>mismatch<TAB>expected<TAB>actual`,
//         `name<TAB>missing<TAB>expected`, `name<TAB>unexpected<TAB>actual`
//   node spec/support/client_interop.mjs read-ids WS_URL NS DB TABLE
//       reads every record of TABLE and compares its id with the id its `kind` names:
//       `kind<TAB>ok`, `kind<TAB>mismatch<TAB>expected<TAB>actual`, `kind<TAB>missing<TAB>expected`
// Failures of the script itself end with `error<TAB>message` and a non-zero exit.
//
// spec/client_interop_spec.lua builds the same corpus in Lua, under the same names. The SDK and the
// canonical form of its values come from spec/support/js_values.mjs.
import { createRequire } from "node:module";
import { sdk, canon as canonOf } from "./js_values.mjs";

const {
  Surreal, RecordId, RecordIdRange, Uuid, DateTime, Duration, Decimal, Table, Range,
  BoundIncluded, BoundExcluded, FileRef, GeometryPoint, GeometryLine, GeometryPolygon, GeometryMultiPoint,
  GeometryMultiLine, GeometryMultiPolygon, GeometryCollection,
} = sdk;
// Node 20 has no global WebSocket: the SDK takes the `ws` package's (the dev server's dependency).
const WebSocketImpl =
  globalThis.WebSocket ?? createRequire(new URL("../../scripts/package.json", import.meta.url))("ws");

const point = (x, y) => new GeometryPoint([x, y]);
const line = new GeometryLine([point(1.5, 2.5), point(3.5, 4.5)]);
const ring = new GeometryLine([point(0.5, 0.5), point(1.5, 0.5), point(1.5, 1.5), point(0.5, 0.5)]);
const polygon = new GeometryPolygon([ring]);
const uuid7 = "0190d4a4-9b3c-7d2e-8f00-123456789abc";
const uuid4 = "f47ac10b-58cc-4372-a567-0e02b2c3d479";

// The corpus: one field per value; spec/client_interop_spec.lua builds the same values.
// Sets are written in SurrealDB's value order (numbers before strings), the order the engine keeps.
const corpus = {
  int: 42,
  int_zero: 0,
  int_neg: -1000,
  int_2_53_plus_1: 9007199254740993n,
  int_max: 9223372036854775807n,
  int_min: -9223372036854775808n,
  float: 1.5,
  float_neg: -2.25,
  float_tiny: 1e-300,
  float_inf: Infinity,
  float_ninf: -Infinity,
  float_nan: NaN,
  str: "hello",
  str_empty: "",
  str_unicode: "héllo wörld 日本語 🎉",
  str_quotes: "it's \"quoted\" ⟨x⟩ `y`",
  bool_true: true,
  bool_false: false,
  null: null,
  none: undefined,
  array: [1, "two", null, 2.5, true],
  array_empty: [],
  object: { name: "Tobie", age: 33 },
  object_empty: {},
  nested: {
    tags: ["a", "b"],
    deep: { x: { y: [1, { z: null }] } },
    none: undefined,
    when: new DateTime("2024-01-02T03:04:05.123456789Z"),
    refs: [new RecordId("person", 1), new RecordId("person", "two")],
  },
  rid_string: new RecordId("person", "tobie"),
  rid_string_escaped: new RecordId("person", "a b-c ⟨d⟩"),
  rid_int: new RecordId("person", 42),
  rid_array: new RecordId("temp", ["london", 2]),
  rid_object: new RecordId("temp", { city: "london", n: 1 }),
  rid_uuid: new RecordId("person", new Uuid(uuid7)),
  rid_range: new RecordIdRange("person", new BoundIncluded(1), new BoundExcluded(10)),
  table: new Table("person"),
  datetime: new DateTime("2024-01-02T03:04:05.123456789Z"),
  datetime_epoch: new DateTime("1970-01-01T00:00:00Z"),
  datetime_pre_epoch: new DateTime("1969-12-31T23:59:59.5Z"),
  duration: new Duration("1h30m5s1ns"),
  duration_zero: new Duration("0ns"),
  duration_weeks: new Duration("52w"),
  uuid_v7: new Uuid(uuid7),
  uuid_v4: new Uuid(uuid4),
  decimal: new Decimal("3.14159"),
  decimal_neg: new Decimal("-0.000123"),
  decimal_wide: new Decimal("1234567890.0123456789"),
  range: new Range(new BoundIncluded(1), new BoundExcluded(10)),
  range_excl_incl: new Range(new BoundExcluded("a"), new BoundIncluded("m")),
  range_upper_only: new Range(undefined, new BoundIncluded(5)),
  range_unbounded: new Range(undefined, undefined),
  geometry_point: point(1.5, 2.5),
  geometry_line: line,
  geometry_polygon: polygon,
  geometry_multipoint: new GeometryMultiPoint([point(1.5, 2.5), point(3.5, 4.5)]),
  geometry_multiline: new GeometryMultiLine([line, ring]),
  geometry_multipolygon: new GeometryMultiPolygon([polygon, polygon]),
  geometry_collection: new GeometryCollection([point(1.5, 2.5), line, polygon]),
  set: new Set([1, 2, "a", "b"]),
  set_empty: new Set(),
  bytes: Uint8Array.of(0, 1, 2, 255),
  bytes_empty: new Uint8Array(0),
  file: new FileRef("bucket", "/a/b.txt"),
};

// One record id of each kind, by kind; the records in the ids table are `{ kind }`.
const ids = (table) => ({
  string: new RecordId(table, "tobie"),
  string_escaped: new RecordId(table, "a b-c ⟨d⟩"),
  string_numeric: new RecordId(table, "123"),
  int: new RecordId(table, 42),
  int_neg: new RecordId(table, -7),
  array: new RecordId(table, ["london", 2, new DateTime("2024-01-02T03:04:05.123456789Z")]),
  object: new RecordId(table, { city: "london", n: 1 }),
  uuid: new RecordId(table, new Uuid(uuid7)),
});

// A field written as NONE is not stored: expected absent, so it is left out of the canonical form.
const canon = (v) => canonOf(v, { absentNone: true });
const text = (v) => JSON.stringify(canon(v));
const clean = (s) => String(s).replace(/[\t\n]+/g, " ");

async function connect(url, namespace, database) {
  const db = new Surreal({ websocketImpl: WebSocketImpl });
  await db.connect(url);
  await db.use({ namespace, database });
  return db;
}

async function write(db) {
  await db.create(new RecordId("js_values", "all")).content(corpus);
  for (const [kind, id] of Object.entries(ids("js_ids"))) await db.create(id).content({ kind });
  return ["written"];
}

async function read(db, record) {
  const [table, key] = record.split(":");
  const got = await db.select(new RecordId(table, key));
  if (got === undefined || got === null) throw new Error(`the record ${record} does not exist`);
  const out = [];
  for (const [name, value] of Object.entries(corpus)) {
    const present = Object.hasOwn(got, name);
    if (value === undefined) {
      out.push(present ? `${name}\tunexpected\t${clean(text(got[name]))}` : `${name}\tok`);
    } else if (!present) {
      out.push(`${name}\tmissing\t${clean(text(value))}`);
    } else {
      const expected = text(value);
      const actual = text(got[name]);
      out.push(expected === actual ? `${name}\tok` : `${name}\tmismatch\t${clean(expected)}\t${clean(actual)}`);
    }
  }
  for (const name of Object.keys(got)) {
    if (name !== "id" && !(name in corpus)) out.push(`${name}\tunexpected\t${clean(text(got[name]))}`);
  }
  return out;
}

async function readIds(db, table) {
  const rows = await db.select(new Table(table));
  const byKind = new Map(rows.map((row) => [row.kind, row.id]));
  const out = [];
  for (const [kind, id] of Object.entries(ids(table))) {
    if (!byKind.has(kind)) {
      out.push(`${kind}\tmissing\t${clean(text(id))}`);
      continue;
    }
    const expected = text(id);
    const actual = text(byKind.get(kind));
    out.push(expected === actual ? `${kind}\tok` : `${kind}\tmismatch\t${clean(expected)}\t${clean(actual)}`);
  }
  for (const kind of byKind.keys()) {
    if (!(kind in ids(table))) out.push(`${kind}\tunexpected\t${clean(text(byKind.get(kind)))}`);
  }
  return out;
}

const [mode, url, namespace, database, target] = process.argv.slice(2);
const modes = { write: (db) => write(db), read: (db) => read(db, target), "read-ids": (db) => readIds(db, target) };
if (!modes[mode] || !url || !namespace || !database || (mode !== "write" && !target)) {
  process.stderr.write("usage: node client_interop.mjs write|read|read-ids WS_URL NS DB [RECORD|TABLE]\n");
  process.exit(2);
}
let db;
try {
  db = await connect(url, namespace, database);
  const out = await modes[mode](db);
  process.stdout.write(out.join("\n") + "\n");
} catch (e) {
  process.stdout.write(`error\t${clean(e?.message ?? e)}\n`);
  process.exitCode = 1;
} finally {
  await db?.close();
}
