// A TCP receiver that counts what arrives, for measuring a link (relay/test/shaped-link.test.ts):
// `bun harness/byte-sink.ts <address> <port>` listens, prints `listening`, then, every 100 ms,
// the total bytes received so far as `<epoch ms> <bytes>`. It exits when stdin closes, so it never
// outlives the process that started it.
const [address, port] = process.argv.slice(2);
if (!address || !port) throw new Error('usage: bun harness/byte-sink.ts <address> <port>');
let bytes = 0;
Bun.listen({ hostname: address, port: Number(port), socket: { data: (_socket, data) => void (bytes += data.byteLength) } });
console.log('listening');
setInterval(() => console.log(`${Date.now()} ${bytes}`), 100);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
