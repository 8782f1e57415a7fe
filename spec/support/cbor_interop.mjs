// Interop of surrealdb.cbor with the official JS codec (the `surrealdb` npm package, CborCodec).
// Driven by spec/cbor_interop_spec.lua, which holds the same corpus built in Lua.
//
//   node spec/support/cbor_interop.mjs encode         prints `name<TAB>hex` for each corpus value
//   node spec/support/cbor_interop.mjs decode FILE    reads `name<TAB>hex` lines (Lua's encodings),
//                                                     decodes each and compares it with the corpus:
//                                                     `name<TAB>ok`, or
//                                                     `name<TAB>mismatch<TAB>expected<TAB>actual`, or
//                                                     `name<TAB>error<TAB>message`
//
// The SDK and the canonical form of its values come from spec/support/js_values.mjs.
import { readFileSync } from "node:fs";
import { sdk, canon, Tagged } from "./js_values.mjs";

const {
  CborCodec, RecordId, RecordIdRange, StringRecordId, Uuid, DateTime, Duration, Decimal, Table, Range,
  BoundIncluded, BoundExcluded, FileRef, Future, GeometryPoint, GeometryLine, GeometryPolygon,
  GeometryMultiPoint, GeometryMultiLine, GeometryMultiPolygon, GeometryCollection,
} = sdk;
const codec = CborCodec.DEFAULT;

const point = (x, y) => new GeometryPoint([x, y]);
const line = new GeometryLine([point(1.5, 2.5), point(3.5, 4.5)]);
const ring = new GeometryLine([point(0.5, 0.5), point(1.5, 0.5), point(1.5, 1.5), point(0.5, 0.5)]);
const polygon = new GeometryPolygon([ring]);
const uuid = "0190d4a4-9b3c-7d2e-8f00-123456789abc";

// The corpus; spec/cbor_interop_spec.lua builds the same values under the same names.
const corpus = {
  int_zero: 0,
  int_small: 23,
  int_24: 24,
  int_neg: -1000,
  int_u32: 4294967296,
  int_2_53_plus_1: 9007199254740993n,
  int_max: 9223372036854775807n,
  int_min: -9223372036854775808n,
  float: 1.5,
  float_neg: -2.25,
  float_tiny: 1e-300,
  float_inf: Infinity,
  float_ninf: -Infinity,
  float_nan: NaN,
  str_empty: "",
  str_ascii: "hello",
  str_unicode: "héllo wörld 日本語 🎉",
  str_long: "x".repeat(1000),
  bytes: Uint8Array.of(0, 1, 2, 255),
  bytes_empty: new Uint8Array(0),
  bool_true: true,
  bool_false: false,
  null: null,
  none: undefined,
  array_empty: [],
  array_mixed: [1, "two", null, 2.5, true],
  array_nested: [[1], [[2]], []],
  object_empty: {},
  object: { name: "Tobie", age: 33, tags: ["a", "b"], nested: { x: { y: null } } },
  object_none: { a: undefined, b: 1 },
  rid_string: new RecordId("person", "tobie"),
  rid_int: new RecordId("person", 42),
  rid_array: new RecordId("temp", ["london", 2]),
  rid_object: new RecordId("temp", { city: "london", n: 1 }),
  rid_uuid: new RecordId("person", new Uuid(uuid)),
  rid_range: new RecordIdRange("person", new BoundIncluded(1), new BoundExcluded(10)),
  rid_range_open: new RecordIdRange("person", undefined, new BoundIncluded("m")),
  table: new Table("person"),
  uuid: new Uuid(uuid),
  uuid_v4: new Uuid("f47ac10b-58cc-4372-a567-0e02b2c3d479"),
  datetime: new DateTime("2024-01-02T03:04:05.123456789Z"),
  datetime_epoch: new DateTime("1970-01-01T00:00:00Z"),
  datetime_pre_epoch: new DateTime("1969-12-31T23:59:59.5Z"),
  duration_zero: new Duration("0ns"),
  duration_seconds: new Duration("1h30m"),
  duration_nanos: new Duration("5s1ns"),
  duration_weeks: new Duration("52w"),
  decimal: new Decimal("3.14159"),
  decimal_big: new Decimal("123456789012345678901234567890.123456789"),
  range: new Range(new BoundIncluded(1), new BoundExcluded(10)),
  range_excl_incl: new Range(new BoundExcluded("a"), new BoundIncluded("m")),
  range_upper_only: new Range(undefined, new BoundIncluded("z")),
  range_unbounded: new Range(undefined, undefined),
  geometry_point: point(1.5, 2.5),
  geometry_line: line,
  geometry_polygon: polygon,
  geometry_multipoint: new GeometryMultiPoint([point(1.5, 2.5), point(3.5, 4.5)]),
  geometry_multiline: new GeometryMultiLine([line, ring]),
  geometry_multipolygon: new GeometryMultiPolygon([polygon, polygon]),
  geometry_collection: new GeometryCollection([point(1.5, 2.5), line, polygon]),
  future: new Future("time::now()"),
  file: new FileRef("bucket", "/a/b.txt"),
  set: new Set([1, "two"]),
  set_empty: new Set(),
  tagged: new Tagged(100, "x"),
  tagged_nested: new Tagged(1000, [1, { a: new Tagged(2000, null) }]),
  record: {
    id: new RecordId("person", "tobie"),
    name: "Tobie",
    score: 9.75,
    active: true,
    tags: ["a", "b", "c"],
    meta: { level: 3, note: null, none: undefined },
    created: new DateTime("2024-01-02T03:04:05.123456789Z"),
    ttl: new Duration("90s5ns"),
    location: point(-0.5, 51.5),
    price: new Decimal("19.99"),
    friends: [new RecordId("person", 1), new RecordId("person", 2)],
  },
};

// Values only JS writes (Lua writes the other form): JS -> Lua only.
const jsOnly = {
  rid_string_form: new StringRecordId("person:tobie"),
};

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const mode = process.argv[2];
if (mode === "encode") {
  const out = [];
  for (const [name, value] of Object.entries({ ...corpus, ...jsOnly })) out.push(`${name}\t${hex(codec.encode(value))}`);
  process.stdout.write(out.join("\n") + "\n");
} else if (mode === "decode") {
  const out = [];
  for (const row of readFileSync(process.argv[3], "utf8").split("\n")) {
    if (row === "") continue;
    const [name, bytes] = row.split("\t");
    if (!(name in corpus)) {
      out.push(`${name}\terror\tnot in the JS corpus`);
      continue;
    }
    try {
      const expected = JSON.stringify(canon(corpus[name]));
      const actual = JSON.stringify(canon(codec.decode(Buffer.from(bytes, "hex"))));
      out.push(expected === actual ? `${name}\tok` : `${name}\tmismatch\t${expected}\t${actual}`);
    } catch (e) {
      out.push(`${name}\terror\t${String(e?.message ?? e).replace(/\s+/g, " ")}`);
    }
  }
  process.stdout.write(out.join("\n") + "\n");
} else {
  process.stderr.write("usage: node cbor_interop.mjs encode | decode FILE\n");
  process.exit(2);
}
