// surreal-dev-server: the real SurrealDB engine (@surrealdb/node) behind SurrealDB's /rpc endpoints
// and its /export and /import. See options.mjs for the command line, rpc.mjs for how requests reach
// the engine and backup.mjs for export and import.

import { encode, readText } from "./cbor.mjs";
import { enginePackage, engineUrl, executor, openEngine } from "./engine.mjs";
import { OptionError, USAGE, parseArgs } from "./options.mjs";
import { Hub } from "./rpc.mjs";
import { startServer } from "./server.mjs";

const NAME = "surreal-dev-server";

function fail(message, code = 1) {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(code);
}

function log(message) {
  process.stderr.write(`${NAME}: ${message}\n`);
}

/** An identifier as SurrealQL writes it: plain when simple, else in backticks. */
function ident(name) {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name;
  return "`" + name.replace(/\\/g, "\\\\").replace(/`/g, "\\`") + "`";
}

/** Defines the root user (ROLES OWNER) unless a root user of that name exists (persistent datastores keep theirs). */
async function defineRootUser(hub, user, pass) {
  const sess = Buffer.from(crypto.randomUUID().replace(/-/g, ""), "hex");
  await hub.call("attach", null, sess);
  try {
    // Neither the user name nor the password can be a bound parameter in DEFINE USER (the parser
    // wants an identifier and a string literal), so both are escaped into the statement.
    const sql = `DEFINE USER IF NOT EXISTS ${ident(user)} ON ROOT PASSWORD ${JSON.stringify(pass)} ROLES OWNER`;
    const r = await hub.call("query", [sql], sess);
    if (r.isError || !statementsOk(r.value)) throw new Error("DEFINE USER failed");
  } finally {
    await hub.call("detach", null, sess);
  }
}

function statementsOk(value) {
  // [{status: "OK", ...}]: look for an "ERR" status text without decoding the rest.
  return !value.includes(encode("ERR"));
}

async function engineVersion(hub, pkg) {
  const r = await hub.call("version", null, null);
  if (!r.isError) {
    try {
      const v = readText(r.value, 0);
      if (v) return v;
    } catch {
      /* fall back */
    }
  }
  return `surrealdb-${pkg.surreal ?? pkg.version}`;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof OptionError) fail(err.message, 2);
    throw err;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  const url = engineUrl(options.path);
  if (!url) fail(`--path: expected memory, surrealkv://DIR, surrealkv+versioned://DIR or rocksdb://DIR, got ${JSON.stringify(options.path)}`, 2);

  process.on("unhandledRejection", (err) => log(`unhandled rejection: ${err?.stack ?? err}`));
  process.on("uncaughtException", (err) => log(`uncaught exception: ${err?.stack ?? err}`));

  let engine;
  let pkg;
  try {
    pkg = enginePackage().pkg;
    ({ engine } = await openEngine(url, undefined));
  } catch (err) {
    fail(`cannot open the engine at ${url}: ${String(err?.message ?? err).split("\n")[0]}`);
  }
  const hub = new Hub({ engine, execute: executor(engine), logError: (m) => log(m) });

  // Live-query notifications of the whole datastore, routed to their owners.
  let stopping = false;
  const notifications = (async () => {
    const receiver = await engine.notifications();
    while (!stopping) {
      let value;
      try {
        value = await receiver.recv();
      } catch (err) {
        if (stopping) break;
        log(`notification receiver: ${err?.message ?? err}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (value === null || value === undefined) break;
      try {
        hub.onNotification(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      } catch (err) {
        log(`routing a notification: ${err?.stack ?? err}`);
      }
    }
  })().catch((err) => log(`notifications stopped: ${err?.message ?? err}`));

  if (options.user !== null) {
    try {
      await defineRootUser(hub, options.user, options.pass);
    } catch (err) {
      fail(`cannot define the root user: ${err.message}`);
    }
  }
  const version = await engineVersion(hub, pkg);

  const srv = startServer({ hub, options, version, log });
  let address;
  try {
    address = await srv.listen();
  } catch (err) {
    const where = `${options.bind.host}:${options.bind.port}`;
    const why =
      err.code === "EADDRINUSE"
        ? "address already in use"
        : err.code === "EACCES"
          ? "permission denied"
          : err.code === "EADDRNOTAVAIL"
            ? "address not available"
            : err.code === "ENOTFOUND"
              ? "unknown host"
              : err.message;
    try {
      engine.free();
    } catch {
      /* exiting anyway */
    }
    fail(`cannot listen on ${where}: ${why}`);
  }
  const host = address.family === "IPv6" || address.family === 6 ? `[${address.address}]` : address.address;
  process.stdout.write(`listening on http://${host}:${address.port}\n`);

  let shuttingDown = false;
  const shutdown = async (signal) => {
    if (shuttingDown) {
      process.exit(0);
    }
    shuttingDown = true;
    if (options.log) log(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(0), 8000);
    force.unref();
    try {
      await srv.close();
    } catch (err) {
      log(`closing: ${err?.message ?? err}`);
    }
    stopping = true;
    try {
      engine.free();
    } catch (err) {
      log(`closing the engine: ${err?.message ?? err}`);
    }
    await Promise.race([notifications, new Promise((r) => setTimeout(r, 500).unref())]);
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err) => fail(`fatal: ${err?.stack ?? err}`));
