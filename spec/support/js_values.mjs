// The official JS SDK (the `surrealdb` npm package) for the interop specs, and one canonical form of
// its values (equal values, equal JSON; also what a mismatch shows).
//
// The package comes from the project's scripts/node_modules (scripts/setup installs it);
// SURREALDB_JS_SDK may name another copy of its dist/surrealdb.mjs.
const sdkUrl = process.env.SURREALDB_JS_SDK
  ? new URL(`file://${process.env.SURREALDB_JS_SDK}`)
  : new URL("../../scripts/node_modules/surrealdb/dist/surrealdb.mjs", import.meta.url);
export const sdk = await import(sdkUrl.href);
const {
  CborCodec, RecordId, RecordIdRange, StringRecordId, Uuid, DateTime, Duration, Decimal, Table, Range,
  BoundIncluded, FileRef, Future, GeometryPoint, GeometryLine, GeometryPolygon, GeometryMultiPoint,
  GeometryMultiLine, GeometryMultiPolygon, GeometryCollection,
} = sdk;

// The codec's class for unknown tags is not exported: take it from a decoded value.
export const Tagged = CborCodec.DEFAULT.decode(Uint8Array.of(0xd8, 0x64, 0x01)).constructor;

// The canonical form of `v`. With `{ absentNone: true }` an object field holding NONE (undefined) is
// left out, as the engine does not store it; otherwise NONE is `{ NONE: true }`.
export function canon(v, options = {}) {
  const c = (x) => canon(x, options);
  if (v === undefined) return { NONE: true };
  if (v === null) return null;
  switch (typeof v) {
    case "bigint":
      return { int: v.toString() };
    case "number":
      if (Number.isInteger(v)) return { int: String(v) };
      return { float: Object.is(v, -0) ? "-0" : String(v) };
    case "string":
    case "boolean":
      return v;
  }
  if (v instanceof ArrayBuffer) v = new Uint8Array(v);
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(c);
  if (v instanceof Set) return { set: [...v].map(c) };
  if (v instanceof Tagged) return { tagged: [String(v.tag), c(v.value)] };
  const bound = (b) =>
    b === undefined ? null : b instanceof BoundIncluded ? { included: c(b.value) } : { excluded: c(b.value) };
  if (v instanceof RecordIdRange) return { record_id: [v.table.name, { range: [bound(v.begin), bound(v.end)] }] };
  if (v instanceof RecordId) return { record_id: [v.table.name, c(v.id)] };
  if (v instanceof StringRecordId) return { record_id_string: v.toString() };
  if (v instanceof Table) return { table: v.name };
  if (v instanceof Uuid) return { uuid: v.toString() };
  if (v instanceof DateTime) return { datetime: v.toCompact().map(String) };
  if (v instanceof Duration) return { duration: v.toCompact().map(String) };
  if (v instanceof Decimal) return { decimal: v.toString() };
  if (v instanceof Range) return { range: [bound(v.begin), bound(v.end)] };
  if (v instanceof GeometryPoint) return { Point: v.point.map(c) };
  if (v instanceof GeometryLine) return { LineString: v.line.map(c) };
  if (v instanceof GeometryPolygon) return { Polygon: v.polygon.map(c) };
  if (v instanceof GeometryMultiPoint) return { MultiPoint: v.points.map(c) };
  if (v instanceof GeometryMultiLine) return { MultiLineString: v.lines.map(c) };
  if (v instanceof GeometryMultiPolygon) return { MultiPolygon: v.polygons.map(c) };
  if (v instanceof GeometryCollection) return { GeometryCollection: v.collection.map(c) };
  if (v instanceof Future) return { future: v.body };
  if (v instanceof FileRef) return { file: [v.bucket, v.key] };
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    return { unknown: String(v?.constructor?.name), text: String(v) };
  }
  let entries = Object.entries(v);
  if (options.absentNone) entries = entries.filter(([, x]) => x !== undefined);
  entries = entries.map(([k, x]) => [k, c(x)]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { object: entries };
}
