/* eslint-disable no-bitwise -- RFC 6455 frame headers are bit fields by nature */
// A WebSocket client that connects from a chosen local address (127.0.0.2, 127.0.0.3, … all reach
// a relay on 127.0.0.1), so tests can be several clients to the relay's per-address limits. Neither
// Bun's WebSocket nor fetch can pick a source address; node:net can, and the protocol the relay
// speaks needs only unfragmented text frames and the close frame. Plain ws:// only.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

/** A connection opened by {@link openFrom}. */
export interface SourceAddressSocket {
  /** Text frames from the relay, parsed, in order. */
  readonly messages: any[];
  /** Resolves with the relay's close code once the connection is over (1006 when it ended without one). */
  readonly closed: Promise<number>;
  sendText(text: string): void;
  /** Closes the connection from this side (1000). */
  close(): void;
}

/** Opens a WebSocket to `wsUrl` (`ws://host:port/path`) from `localAddress`; resolves once the upgrade succeeded. */
export function openFrom(localAddress: string, wsUrl: string): Promise<SourceAddressSocket> {
  const url = new URL(wsUrl);
  if (url.protocol !== 'ws:') throw new Error(`openFrom speaks plain ws:// only, got ${wsUrl}`);
  const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
  const messages: any[] = [];
  let buffered: Buffer = Buffer.alloc(0);
  let upgraded = false;
  let closeCode = 1006;
  let onUpgrade: (error?: Error) => void = () => {};
  const upgrade = new Promise<void>((resolve, reject) => {
    onUpgrade = (error) => (error ? reject(error) : resolve());
  });
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(closeCode)));
  socket.on('error', (e) => onUpgrade(e));
  socket.on('connect', () => {
    socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (!upgraded) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = buffered.subarray(0, buffered.indexOf('\r\n')).toString();
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        onUpgrade(new Error(`no upgrade from ${wsUrl}: ${status}`));
        socket.destroy();
        return;
      }
      upgraded = true;
      buffered = buffered.subarray(end + 4);
      onUpgrade();
    }
    buffered = readFrames(buffered, (opcode, payload) => {
      if (opcode === 0x1) messages.push(JSON.parse(payload.toString('utf8')));
      if (opcode === 0x8) {
        closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        socket.end(frame(0x8, payload.subarray(0, 2)));
      }
    });
  });
  return upgrade.then(() => ({
    messages,
    closed,
    sendText: (text) => socket.write(frame(0x1, Buffer.from(text, 'utf8'))),
    close: () => socket.end(frame(0x8, Buffer.from([0x03, 0xe8]))),
  }));
}

/** Hands each complete (unmasked, unfragmented) server frame to `onFrame`; returns what is left over. */
function readFrames(data: Buffer, onFrame: (opcode: number, payload: Buffer) => void): Buffer {
  let rest = data;
  for (;;) {
    if (rest.length < 2) return rest;
    let length = rest[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (rest.length < 4) return rest;
      length = rest.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (rest.length < 10) return rest;
      length = Number(rest.readBigUInt64BE(2));
      offset = 10;
    }
    if (rest.length < offset + length) return rest;
    onFrame(rest[0]! & 0x0f, rest.subarray(offset, offset + length));
    rest = rest.subarray(offset + length);
  }
}

/** One client frame: final, masked as RFC 6455 requires of clients. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigEndian64(n)]);
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

function bigEndian64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
