// A broadcaster that disappears without a close frame: it streams until `live`, then kills
// itself with SIGKILL, so the relay only sees the TCP connection drop.
// Usage: bun vanishing-client.ts <wsUrl> <start-json> <file>
import { streamFile } from './media.ts';

const [wsUrl, startJson, file] = process.argv.slice(2);
await streamFile(wsUrl!, JSON.parse(startJson!), file!, {
  onMessage(msg) {
    if (msg.type === 'ready') console.log(JSON.stringify(msg));
    if (msg.type === 'live') setTimeout(() => process.kill(process.pid, 'SIGKILL'), 700);
  },
});
