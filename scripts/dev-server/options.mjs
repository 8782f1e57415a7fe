// Command-line options of surreal-dev-server.

import { constants as bufferConstants } from "node:buffer";

export const USAGE = `Usage: surreal-dev-server [options]

The real SurrealDB engine (@surrealdb/node) behind SurrealDB's HTTP and WebSocket /rpc endpoints
and its HTTP SQL export and import (GET/POST /export, POST /import).
Prints one line "listening on http://HOST:PORT" on stdout once ready; stops cleanly on SIGINT/SIGTERM.

Options:
  --bind HOST:PORT      address to listen on (default 127.0.0.1:8000; port 0 picks a free port)
  --path PATH           datastore: memory (default), surrealkv://DIR, surrealkv+versioned://DIR
                        or rocksdb://DIR
  --user NAME           define this root user (ROLES OWNER) at start; needs --pass
  --pass PASSWORD       the root user's password
  --max-body SIZE       largest HTTP /rpc request body (default 4MiB, as SURREAL_HTTP_MAX_RPC_BODY_SIZE)
  --max-message SIZE    largest WebSocket message (default 128MiB)
  --max-import SIZE     largest POST /import body (default 256MiB; the real server's
                        SURREAL_HTTP_MAX_IMPORT_BODY_SIZE defaults to 4GiB)
  --log                 one line per request on stderr (method, session, duration; never credentials)
  -h, --help            show this help and exit

SIZE is a number of bytes, optionally with a suffix: K, KB, KiB, M, MB, MiB, G, GB, GiB (all 1024-based).
Option values may also be given as --name=value.
`;

export class OptionError extends Error {}

// An import body is held in memory as one Buffer (and copied into the engine request), so it
// must leave room under the largest Buffer Node can make.
const MAX_IMPORT = Math.min(4 * 1024 ** 3, bufferConstants.MAX_LENGTH - 1024 * 1024);

const UNITS = { "": 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

export function parseSize(name, text) {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(String(text).trim());
  const unit = m && UNITS[m[2].toLowerCase()];
  if (!m || unit === undefined) throw new OptionError(`${name}: not a size: ${JSON.stringify(text)} (examples: 4194304, 4MiB, 512K)`);
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < 1) throw new OptionError(`${name}: size out of range: ${text}`);
  return n;
}

export function parseBind(text) {
  let host;
  let port;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else {
    const i = text.lastIndexOf(":");
    if (i < 0) throw new OptionError(`--bind: expected HOST:PORT, got ${JSON.stringify(text)}`);
    host = text.slice(0, i);
    port = text.slice(i + 1);
    if (host.includes(":")) throw new OptionError(`--bind: write IPv6 addresses as [ADDR]:PORT, got ${JSON.stringify(text)}`);
  }
  if (!host) host = "127.0.0.1";
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new OptionError(`--bind: bad port ${JSON.stringify(port)}`);
  return { host, port: Number(port) };
}

const WITH_VALUE = new Set(["--bind", "--path", "--user", "--username", "--pass", "--password", "--max-body", "--max-message", "--max-import"]);
const FLAGS = new Set(["--log", "--help", "-h"]);

export function parseArgs(argv) {
  const o = {
    bind: { host: "127.0.0.1", port: 8000 },
    path: "memory",
    user: null,
    pass: null,
    maxBody: 4 * 1024 * 1024,
    maxMessage: 128 * 1024 * 1024,
    maxImport: 256 * 1024 * 1024,
    log: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (FLAGS.has(arg)) {
      if (value !== undefined) throw new OptionError(`${arg} takes no value`);
      if (arg === "--log") o.log = true;
      else o.help = true;
      continue;
    }
    if (!WITH_VALUE.has(arg)) throw new OptionError(`unknown option ${JSON.stringify(arg)} (see --help)`);
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new OptionError(`${arg} needs a value`);
      value = argv[++i];
    }
    switch (arg) {
      case "--bind":
        o.bind = parseBind(value);
        break;
      case "--path":
        o.path = value;
        break;
      case "--user":
      case "--username":
        if (!value) throw new OptionError(`${arg}: empty user name`);
        o.user = value;
        break;
      case "--pass":
      case "--password":
        o.pass = value;
        break;
      case "--max-body":
        o.maxBody = parseSize(arg, value);
        break;
      case "--max-message":
        o.maxMessage = parseSize(arg, value);
        break;
      case "--max-import":
        o.maxImport = parseSize(arg, value);
        if (o.maxImport > MAX_IMPORT) throw new OptionError(`${arg}: at most ${MAX_IMPORT} bytes`);
        break;
    }
  }
  if ((o.user === null) !== (o.pass === null)) throw new OptionError("--user and --pass go together");
  return o;
}
