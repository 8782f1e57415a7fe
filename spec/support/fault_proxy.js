// A TCP proxy in front of the server under test, for fault specs (run with `node -e`, see
// spec/client_reconnect_spec.lua). Argument: the server's port. Prints its own port.
//   SIGUSR1  cut every open connection (new ones are accepted again at once)
//   SIGUSR2  freeze: keep the sockets open but drop every byte both ways (a half-open link)
const net = require("net");
const target = Number(process.argv[1]);
const pairs = new Set();
let frozen = false;
const server = net.createServer((client) => {
  const upstream = net.connect(target, "127.0.0.1");
  const pair = { client, upstream };
  pairs.add(pair);
  const end = () => { client.destroy(); upstream.destroy(); pairs.delete(pair); };
  client.on("data", (d) => { if (!frozen) upstream.write(d); });
  upstream.on("data", (d) => { if (!frozen) client.write(d); });
  client.on("error", end); upstream.on("error", end);
  client.on("close", end); upstream.on("close", end);
});
process.on("SIGUSR1", () => { for (const p of [...pairs]) { p.client.destroy(); p.upstream.destroy(); } pairs.clear(); });
process.on("SIGUSR2", () => { frozen = true; });
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
setTimeout(() => process.exit(0), 300000);
