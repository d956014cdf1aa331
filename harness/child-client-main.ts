// The child of child-client.ts: streams a clip through the relay like the browser client and prints
// one JSON line per event to stdout: {"type":"ready","session":…}, {"type":"live"},
// {"type":"error","code":…} if one arrives, then {"type":"result","closeCode":…,"errorCode":…,"failure":…}.
// Usage: bun child-client-main.ts <wsUrl> <start-json> <clip-path> <clip-seconds> <chunk-ms>
import { streamFile } from './media.ts';

const [wsUrl, startJson, file, seconds, chunkMs] = process.argv.slice(2);
const say = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`);
let errorCode: string | undefined;
try {
  const r = await streamFile(wsUrl!, JSON.parse(startJson!), file!, {
    seconds: Number(seconds),
    chunkMs: Number(chunkMs),
    onMessage(msg) {
      if (msg.type === 'ready') say({ type: 'ready', session: msg.session });
      if (msg.type === 'live') say({ type: 'live' });
      if (msg.type === 'error') {
        errorCode = msg.code;
        say({ type: 'error', code: msg.code });
      }
    },
  });
  say({ type: 'result', closeCode: r.closeCode, errorCode });
} catch (e) {
  say({ type: 'result', closeCode: 0, errorCode, failure: (e as Error).message });
}
