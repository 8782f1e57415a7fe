// A TCP proxy in front of the server under test, for fault specs (run with `node -e`, see
// spec/client_reconnect_spec.lua, spec/pool_spec.lua, spec/bulk_fault_spec.lua).
// Arguments: the server's port, and optionally the delay of the slow mode in ms (default 300).
// Prints its own port, then one line ("HUP", "WINCH", ...) each time it has handled a signal, so a
// spec can wait until a fault is in place (see fault_proxy in spec/helper.lua).
//   SIGUSR1   cut every open connection (new ones are accepted again at once)
//   SIGUSR2   freeze: keep the sockets open but drop every byte both ways (a half-open link)
//   SIGHUP    down: cut every open connection and stop listening, so new ones are refused (a node
//             that went away); the port is kept for SIGWINCH
//   SIGWINCH  up: listen again on the same port, unfreeze, end the slow mode
//   SIGALRM   slow: hold every byte from the server for the delay before passing it on (the
//             server has done the work, its answer is late: a cut then loses an applied answer)
const net = require("net");
const target = Number(process.argv[1]);
const delay = Number(process.argv[2] || 300);
const pairs = new Set();
let frozen = false;
let slow = false;
let port = 0;
let listening = false;
const server = net.createServer((client) => {
  const upstream = net.connect(target, "127.0.0.1");
  // `due`: when the last held chunk goes out; later chunks never overtake it.
  const pair = { client, upstream, due: 0 };
  pairs.add(pair);
  const end = () => { client.destroy(); upstream.destroy(); pairs.delete(pair); };
  client.on("data", (d) => { if (!frozen) upstream.write(d); });
  upstream.on("data", (d) => {
    if (frozen) return;
    const now = Date.now();
    const at = Math.max(slow ? now + delay : now, pair.due);
    if (at <= now) {
      client.write(d);
      return;
    }
    pair.due = at;
    setTimeout(() => { if (!client.destroyed) client.write(d); }, at - now);
  });
  client.on("error", end); upstream.on("error", end);
  client.on("close", end); upstream.on("close", end);
});
const cut = () => { for (const p of [...pairs]) { p.client.destroy(); p.upstream.destroy(); } pairs.clear(); };
const listen = (then) => {
  server.listen(port, "127.0.0.1", () => {
    listening = true;
    port = server.address().port;
    if (then) then();
  });
};
// Nobody may read the acknowledgements: a closed stdout must not stop the proxy.
process.stdout.on("error", () => {});
const done = (name) => process.stdout.write(name + "\n");
process.on("SIGUSR1", () => { cut(); done("USR1"); });
process.on("SIGUSR2", () => { frozen = true; done("USR2"); });
process.on("SIGHUP", () => {
  cut();
  if (listening) { listening = false; server.close(); }
  done("HUP");
});
process.on("SIGWINCH", () => {
  frozen = false;
  slow = false;
  if (listening) done("WINCH"); else listen(() => done("WINCH"));
});
process.on("SIGALRM", () => { slow = true; done("ALRM"); });
listen(() => console.log(port));
setTimeout(() => process.exit(0), 300000);
