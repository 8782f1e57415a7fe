// Just enough CBOR (RFC 8949) for a transport: walk items without decoding them, read the few
// fields the server needs (strings, UUIDs), and write small values. Payloads are never decoded:
// request parameters and engine results are copied as raw byte ranges.

export class CborError extends Error {}

const MAX_DEPTH = 512;

/** Reads the head of the item at `pos`: sets h.major, h.ai, h.val (argument), h.pos (after head). */
function head(buf, pos, h) {
  if (pos >= buf.length) throw new CborError("truncated CBOR");
  const ib = buf[pos++];
  const major = ib >> 5;
  const ai = ib & 31;
  let val;
  if (ai < 24) {
    val = ai;
  } else if (ai === 24) {
    if (pos + 1 > buf.length) throw new CborError("truncated CBOR");
    val = buf[pos];
    pos += 1;
  } else if (ai === 25) {
    if (pos + 2 > buf.length) throw new CborError("truncated CBOR");
    val = buf.readUInt16BE(pos);
    pos += 2;
  } else if (ai === 26) {
    if (pos + 4 > buf.length) throw new CborError("truncated CBOR");
    val = buf.readUInt32BE(pos);
    pos += 4;
  } else if (ai === 27) {
    if (pos + 8 > buf.length) throw new CborError("truncated CBOR");
    // Lengths beyond 2^53 cannot fit in memory anyway; integers keep their raw bytes.
    val = buf.readUInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4);
    pos += 8;
  } else if (ai === 31) {
    if (major === 0 || major === 1 || major === 6) throw new CborError("malformed CBOR: indefinite length");
    val = -1;
  } else {
    throw new CborError("malformed CBOR: reserved additional information");
  }
  h.major = major;
  h.ai = ai;
  h.val = val;
  h.pos = pos;
  return h;
}

/** Returns the position just after the well-formed item starting at `pos`; throws CborError. */
export function skip(buf, pos, depth = 0) {
  if (depth > MAX_DEPTH) throw new CborError("CBOR nested too deeply");
  const h = head(buf, pos, {});
  pos = h.pos;
  switch (h.major) {
    case 0:
    case 1:
      return pos;
    case 2:
    case 3:
      if (h.val >= 0) {
        if (pos + h.val > buf.length) throw new CborError("truncated CBOR");
        return pos + h.val;
      }
      for (;;) {
        if (pos >= buf.length) throw new CborError("truncated CBOR");
        if (buf[pos] === 0xff) return pos + 1;
        const c = head(buf, pos, {});
        if (c.major !== h.major || c.val < 0) throw new CborError("malformed CBOR: bad string chunk");
        if (c.pos + c.val > buf.length) throw new CborError("truncated CBOR");
        pos = c.pos + c.val;
      }
    case 4:
    case 5: {
      const per = h.major === 5 ? 2 : 1;
      if (h.val >= 0) {
        // Each item takes at least one byte: reject absurd counts before looping.
        if (h.val * per > buf.length - pos) throw new CborError("truncated CBOR");
        for (let i = h.val * per; i > 0; i--) pos = skip(buf, pos, depth + 1);
        return pos;
      }
      for (let n = 0; ; n++) {
        if (pos >= buf.length) throw new CborError("truncated CBOR");
        if (buf[pos] === 0xff) {
          if (per === 2 && n % 2 === 1) throw new CborError("malformed CBOR: odd map");
          return pos + 1;
        }
        pos = skip(buf, pos, depth + 1);
      }
    }
    case 6:
      return skip(buf, pos, depth + 1);
    default: // 7
      if (h.ai === 31) throw new CborError("malformed CBOR: unexpected break");
      if (h.ai === 24 && h.val < 32) throw new CborError("malformed CBOR: bad simple value");
      return pos;
  }
}

/**
 * Walks a map at `pos` whose keys are text strings. Returns { entries, end } where each entry is
 * { key, start, valStart, end }: `start` is where the key begins, `valStart` where the value begins.
 * Returns null when the item at `pos` is not a map. Throws CborError when malformed.
 */
export function readMap(buf, pos = 0) {
  const h = head(buf, pos, {});
  if (h.major !== 5) return null;
  const entries = [];
  let p = h.pos;
  for (let i = 0; h.val < 0 || i < h.val; i++) {
    if (h.val < 0) {
      if (p >= buf.length) throw new CborError("truncated CBOR");
      if (buf[p] === 0xff) {
        p += 1;
        break;
      }
    }
    const start = p;
    const key = readText(buf, p); // null when the key is not a text string
    const valStart = skip(buf, p);
    const end = skip(buf, valStart);
    entries.push({ key, start, valStart, end });
    p = end;
  }
  return { entries, end: p };
}

/** The text string at `pos` (definite or chunked), or null when the item is not a text string. */
export function readText(buf, pos) {
  const h = head(buf, pos, {});
  if (h.major !== 3) return null;
  if (h.val >= 0) {
    if (h.pos + h.val > buf.length) throw new CborError("truncated CBOR");
    return buf.toString("utf8", h.pos, h.pos + h.val);
  }
  const end = skip(buf, pos);
  const parts = [];
  let p = h.pos;
  while (p < end - 1) {
    const c = head(buf, p, {});
    parts.push(buf.subarray(c.pos, c.pos + c.val));
    p = c.pos + c.val;
  }
  return Buffer.concat(parts).toString("utf8");
}

/** Item kind at `pos`, for validating request fields: "uint" | "nint" | "bytes" | "text" | "array" | "map" | "tag:N" | "false" | "true" | "null" | "undefined" | "float" | "simple". */
export function kindAt(buf, pos) {
  const h = head(buf, pos, {});
  switch (h.major) {
    case 0:
      return "uint";
    case 1:
      return "nint";
    case 2:
      return "bytes";
    case 3:
      return "text";
    case 4:
      return "array";
    case 5:
      return "map";
    case 6:
      return `tag:${h.val}`;
    default:
      if (h.ai === 20) return "false";
      if (h.ai === 21) return "true";
      if (h.ai === 22) return "null";
      if (h.ai === 23) return "undefined";
      if (h.ai >= 25 && h.ai <= 27) return "float";
      return "simple";
  }
}

/** Content position of the tagged item at `pos` (after the tag head). */
export function tagContent(buf, pos) {
  return head(buf, pos, {}).pos;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Reads a UUID at `pos` as 16 bytes: tag 37 over a 16-byte byte string, tag 9 over a text
 * string, or a plain text string (as SurrealDB accepts for `session` and `txn`). Returns null
 * when the item is something else.
 */
export function readUuid(buf, pos, { allowText = true } = {}) {
  const h = head(buf, pos, {});
  if (h.major === 6 && h.val === 37) {
    const c = head(buf, h.pos, {});
    if (c.major !== 2 || c.val !== 16 || c.pos + 16 > buf.length) return null;
    return Buffer.from(buf.subarray(c.pos, c.pos + 16));
  }
  let textPos = -1;
  if (h.major === 6 && h.val === 9) textPos = h.pos;
  else if (h.major === 3 && allowText) textPos = pos;
  if (textPos < 0) return null;
  const s = readText(buf, textPos);
  if (s === null || !UUID_RE.test(s)) return null;
  return Buffer.from(s.replace(/-/g, ""), "hex");
}

/** Elements of the array at `pos` as { start, end } ranges, or null when it is not an array. */
export function readArray(buf, pos) {
  const h = head(buf, pos, {});
  if (h.major !== 4) return null;
  const items = [];
  let p = h.pos;
  for (let i = 0; h.val < 0 || i < h.val; i++) {
    if (h.val < 0 && buf[p] === 0xff) break;
    const end = skip(buf, p);
    items.push({ start: p, end });
    p = end;
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// Writing

export function encHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  if (n < 0x100000000) {
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = (major << 5) | 27;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

/** Raw CBOR bytes to splice into an encoded value as is. */
export class Raw {
  constructor(bytes) {
    this.bytes = bytes;
  }
}

/** A tagged value. */
export class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

export const NONE = new Raw(Buffer.from([0xc6, 0xf6]));

export function uuidValue(bytes16) {
  return new Raw(Buffer.concat([Buffer.from([0xd8, 0x25, 0x50]), bytes16]));
}

export function encText(s) {
  const b = Buffer.from(s, "utf8");
  return Buffer.concat([encHead(3, b.length), b]);
}

function encInto(v, out) {
  if (v instanceof Raw) out.push(v.bytes);
  else if (v === null) out.push(Buffer.from([0xf6]));
  else if (v === undefined) out.push(NONE.bytes);
  else if (v === true) out.push(Buffer.from([0xf5]));
  else if (v === false) out.push(Buffer.from([0xf4]));
  else if (typeof v === "number") {
    if (Number.isSafeInteger(v)) out.push(v >= 0 ? encHead(0, v) : encHead(1, -1 - v));
    else {
      const b = Buffer.alloc(9);
      b[0] = 0xfb;
      b.writeDoubleBE(v, 1);
      out.push(b);
    }
  } else if (typeof v === "string") out.push(encText(v));
  else if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    out.push(encHead(2, v.length), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  } else if (v instanceof Tagged) {
    out.push(encHead(6, v.tag));
    encInto(v.value, out);
  } else if (Array.isArray(v)) {
    out.push(encHead(4, v.length));
    for (const x of v) encInto(x, out);
  } else if (typeof v === "object") {
    const keys = Object.keys(v);
    out.push(encHead(5, keys.length));
    for (const k of keys) {
      out.push(encText(k));
      encInto(v[k], out);
    }
  } else {
    throw new TypeError(`cannot encode ${typeof v}`);
  }
}

/** Encodes null, undefined (NONE), booleans, numbers, strings, buffers, arrays, plain objects, Raw and Tagged. */
export function encode(v) {
  const out = [];
  encInto(v, out);
  return Buffer.concat(out);
}

// Pre-encoded keys of response maps.
export const KEY_ID = encText("id");
export const KEY_RESULT = encText("result");
export const KEY_ERROR = encText("error");
export const KEY_SESSION = encText("session");

// ---------------------------------------------------------------------------------------------
// Reading whole values, for the few places that answer in JSON (POST /import)

const SIMPLE_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A string as SurrealQL writes it: single quotes, backslash escapes. */
function sqlString(s) {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The SurrealQL text of a record id's key (the part after "table:"). */
function sqlKey(v) {
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return SIMPLE_ID.test(v) ? v : `⟨${v.replace(/\\/g, "\\\\").replace(/⟩/g, "\\⟩")}⟩`;
  return sqlValue(v);
}

function sqlValue(v) {
  if (v === null) return "NULL";
  if (typeof v === "string") return sqlString(v);
  if (Array.isArray(v)) return `[${v.map(sqlValue).join(", ")}]`;
  if (typeof v === "object") return `{ ${Object.entries(v).map(([k, x]) => `${SIMPLE_ID.test(k) ? k : sqlString(k)}: ${sqlValue(x)}`).join(", ")} }`;
  return String(v);
}

function tableName(t) {
  return SIMPLE_ID.test(t) ? t : `⟨${t.replace(/⟩/g, "\\⟩")}⟩`;
}

/** [seconds, nanoseconds] as RFC 3339 with as many fraction digits as needed. */
function datetimeText(secs, nanos) {
  const iso = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  if (!nanos) return `${iso}Z`;
  return `${iso}.${String(nanos).padStart(9, "0").replace(/0+$/, "")}Z`;
}

const DURATION_UNITS = [
  ["y", 365 * 86400],
  ["w", 7 * 86400],
  ["d", 86400],
  ["h", 3600],
  ["m", 60],
  ["s", 1],
];

/** [seconds, nanoseconds] as SurrealDB writes a duration ("1h30m", "1s500ms", "0ns"). */
function durationText(secs = 0, nanos = 0) {
  let s = Number(secs);
  let out = "";
  for (const [u, n] of DURATION_UNITS) {
    const q = Math.floor(s / n);
    if (q) out += `${q}${u}`;
    s -= q * n;
  }
  let ns = Number(nanos);
  for (const [u, n] of [["ms", 1e6], ["µs", 1e3], ["ns", 1]]) {
    const q = Math.floor(ns / n);
    if (q) out += `${q}${u}`;
    ns -= q * n;
  }
  return out || "0ns";
}

function uuidText(b) {
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const GEO_TYPES = { 88: "Point", 89: "LineString", 90: "Polygon", 91: "MultiPoint", 92: "MultiLineString", 93: "MultiPolygon" };

/** GeoJSON of a geometry tag's content (already decoded). */
function geometry(tag, v) {
  if (tag === 94) return { type: "GeometryCollection", geometries: v };
  const coords = (x) => (x && typeof x === "object" && !Array.isArray(x) && "coordinates" in x ? x.coordinates : x);
  if (tag === 88) return { type: "Point", coordinates: v };
  return { type: GEO_TYPES[tag], coordinates: Array.isArray(v) ? v.map(coords) : v };
}

function tagged(tag, v) {
  switch (tag) {
    case 0: // datetime as text
    case 9: // uuid as text
    case 10: // decimal as text
    case 13: // duration as text
    case 7: // table
      return v;
    case 6: // NONE
      return null;
    case 8: // record id [table, key] or "tb:id"
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string") return `${tableName(v[0])}:${sqlKey(v[1])}`;
      return typeof v === "string" ? v : sqlValue(v);
    case 12:
      return Array.isArray(v) ? datetimeText(v[0] ?? 0, v[1] ?? 0) : v;
    case 14:
      return Array.isArray(v) ? durationText(v[0], v[1]) : v;
    case 37:
      return Array.isArray(v) && v.length === 16 ? uuidText(v) : v;
    case 49: {
      // range [begin, end], bounds tagged 50 (included) / 51 (excluded) / null
      if (!Array.isArray(v) || v.length !== 2) return v;
      const [b, e] = v;
      const bt = b === null ? "" : b.incl ? sqlKey(b.value) : `${sqlKey(b.value)}>`;
      const et = e === null ? "" : e.incl ? `=${sqlKey(e.value)}` : sqlKey(e.value);
      return `${bt}..${et}`;
    }
    case 50:
      return { incl: true, value: v };
    case 51:
      return { incl: false, value: v };
    case 55:
      return Array.isArray(v) ? `f"${v[0]}:${v[1]}"` : v;
    default:
      if (tag >= 88 && tag <= 94) return geometry(tag, v);
      return v; // tag 56 (set) and unknown tags: the content
  }
}

function halfFloat(h) {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Decodes the item at `pos` into a JSON-ready value the way SurrealDB's JSON format shows
 * SurrealDB values: NONE and NULL as null, record ids, datetimes, UUIDs, decimals and durations
 * as strings, geometries as GeoJSON, bytes as an array of numbers. Returns { value, end }.
 */
export function decodeJson(buf, pos = 0, depth = 0) {
  if (depth > MAX_DEPTH) throw new CborError("CBOR nested too deeply");
  const h = head(buf, pos, {});
  switch (h.major) {
    case 0:
      if (h.ai === 27) return { value: Number(buf.readBigUInt64BE(pos + 1)), end: h.pos };
      return { value: h.val, end: h.pos };
    case 1:
      if (h.ai === 27) return { value: Number(-1n - buf.readBigUInt64BE(pos + 1)), end: h.pos };
      return { value: -1 - h.val, end: h.pos };
    case 2: {
      const end = skip(buf, pos);
      const bytes = h.val >= 0 ? buf.subarray(h.pos, end) : Buffer.concat(chunks(buf, h.pos, end));
      return { value: [...bytes], end };
    }
    case 3: {
      const end = skip(buf, pos);
      return { value: readText(buf, pos), end };
    }
    case 4: {
      const out = [];
      let p = h.pos;
      for (let i = 0; h.val < 0 || i < h.val; i++) {
        if (h.val < 0 && buf[p] === 0xff) {
          p++;
          break;
        }
        const r = decodeJson(buf, p, depth + 1);
        out.push(r.value);
        p = r.end;
      }
      return { value: out, end: p };
    }
    case 5: {
      const out = {};
      let p = h.pos;
      for (let i = 0; h.val < 0 || i < h.val; i++) {
        if (h.val < 0 && buf[p] === 0xff) {
          p++;
          break;
        }
        const k = decodeJson(buf, p, depth + 1);
        const v = decodeJson(buf, k.end, depth + 1);
        out[typeof k.value === "string" ? k.value : JSON.stringify(k.value)] = v.value;
        p = v.end;
      }
      return { value: out, end: p };
    }
    case 6: {
      const r = decodeJson(buf, h.pos, depth + 1);
      return { value: tagged(h.val, r.value), end: r.end };
    }
    default:
      if (h.ai === 20) return { value: false, end: h.pos };
      if (h.ai === 21) return { value: true, end: h.pos };
      if (h.ai === 25) return { value: halfFloat(h.val), end: h.pos };
      if (h.ai === 26) return { value: buf.readFloatBE(pos + 1), end: h.pos };
      if (h.ai === 27) return { value: buf.readDoubleBE(pos + 1), end: h.pos };
      return { value: null, end: skip(buf, pos) }; // null, undefined, other simple values
  }
}

function chunks(buf, p, end) {
  const out = [];
  while (p < end - 1) {
    const c = head(buf, p, {});
    out.push(buf.subarray(c.pos, c.pos + c.val));
    p = c.pos + c.val;
  }
  return out;
}
