// Loads the native SurrealDB engine shipped inside @surrealdb/node. The package's JavaScript entry
// point only exposes an SDK adapter that decodes every response; the server needs the raw engine
// (`SurrealNodeEngine`: connect, execute(cbor) -> cbor, notifications() -> recv() -> cbor), so it
// loads the platform's .node binary the way the package's own loader does.

import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    return readFileSync("/usr/bin/ldd", "utf8").includes("musl");
  } catch {
    /* fall through */
  }
  const report = typeof process.report?.getReport === "function" ? process.report.getReport() : null;
  return !!report && !report.header?.glibcVersionRuntime;
}

function candidates() {
  const { platform, arch } = process;
  if (platform === "linux") return [`linux-${arch}-${isMusl() ? "musl" : "gnu"}`];
  if (platform === "darwin") return ["darwin-universal", `darwin-${arch}`];
  if (platform === "win32") return [`win32-${arch}-msvc`];
  return [`${platform}-${arch}`];
}

/** The package directory of @surrealdb/node and its package.json. */
export function enginePackage() {
  const entry = fileURLToPath(import.meta.resolve("@surrealdb/node"));
  const dist = dirname(entry);
  const pkg = JSON.parse(readFileSync(join(dist, "..", "package.json"), "utf8"));
  return { dist, pkg };
}

export function loadBinding() {
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return require(process.env.NAPI_RS_NATIVE_LIBRARY_PATH);
  const { dist } = enginePackage();
  const errors = [];
  for (const c of candidates()) {
    const file = join(dist, `surrealdb-node.${c}.node`);
    if (!existsSync(file)) continue;
    try {
      return require(file);
    } catch (err) {
      errors.push(`${file}: ${err.message}`);
    }
  }
  throw new Error(
    `no native SurrealDB engine for ${process.platform}-${process.arch} in ${dist}` +
      (errors.length ? ` (${errors.join("; ")})` : ""),
  );
}

/** Turns a --path value into an engine URL. */
export function engineUrl(path) {
  if (path === "memory" || path === "mem" || path === "mem://") return "mem://";
  const m = /^(surrealkv|surrealkv\+versioned|rocksdb):\/\/(.+)$/.exec(path);
  if (m) return path;
  return null;
}

/** Opens the datastore. Returns { engine, binding }. */
export async function openEngine(url, options) {
  const binding = loadBinding();
  const engine = await binding.SurrealNodeEngine.connect(url, options);
  return { engine, binding };
}

/** The engine's execute as a Buffer-returning function (zero-copy view of the result). */
export function executor(engine) {
  return async (bytes) => {
    const r = await engine.execute(bytes);
    return Buffer.isBuffer(r) ? r : Buffer.from(r.buffer, r.byteOffset, r.byteLength);
  };
}
