// A publisher in its own process, for faults that need a real client process: one that vanishes
// (SIGKILL: the relay only sees the TCP connection drop) or one that freezes (SIGSTOP: it reads
// and sends nothing, like a suspended tab). Prints one JSON line per event to stdout:
// {"type":"ready","session":…}, {"type":"live"}, {"type":"error","code":…} if one arrives, then {"type":"result","closeCode":…,"errorCode":…}.
// Usage: bun client-child.ts <wsUrl> <start-json> <clip-path> <clip-seconds> <chunk-ms>
import { loadClip } from './media.ts';
import { publish } from './publisher.ts';

const [wsUrl, startJson, clipPath, seconds, chunkMs] = process.argv.slice(2);
const clip = await loadClip(clipPath!, 'h264', Number(seconds));
const say = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const r = await publish({
  wsUrl: wsUrl!,
  start: JSON.parse(startJson!),
  clip,
  chunkMs: Number(chunkMs),
  onMessage(msg) {
    if (msg.type === 'ready') say({ type: 'ready', session: msg.session });
    if (msg.type === 'live') say({ type: 'live' });
    if (msg.type === 'error') say({ type: 'error', code: msg.code });
  },
});
say({ type: 'result', closeCode: r.closeCode, errorCode: r.errorCode, failure: r.failure });
