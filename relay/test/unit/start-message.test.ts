import { describe, expect, test } from 'bun:test';
import type { StartMessage } from '../../public/protocol.ts';
import { parseClientMessage, SessionError } from '../../src/protocol.ts';

// One StartMessage type for both sides (relay/public/protocol.ts): what the browser client builds is
// what the relay's parser returns, with only the defaults the protocol gives filled in
// (docs/protocol.md#start-message).

const base: StartMessage = {
  type: 'start',
  token: 'header.payload.signature',
  ingest: 'rtmp://127.0.0.1:1935/live/',
  streamKey: 'sk_start_message_1a2b',
  mimeType: 'video/x-matroska;codecs=avc1,opus',
};

describe('the start message', () => {
  test('a client\'s message comes back as sent, with reconnect and destinations defaulted', () => {
    expect(parseClientMessage(JSON.stringify(base))).toEqual({ ...base, reconnect: false, destinations: [] });
  });

  test('every field the client may send survives the parser', () => {
    const full: StartMessage = { ...base, reconnect: true, destinations: [{ ingest: 'rtmp://127.0.0.1:1936/live/', streamKey: 'sk_2' }] };
    expect(parseClientMessage(JSON.stringify(full))).toEqual(full);
  });

  test('absent, null and empty tokens are all left out (an auth failure later, not a bad request)', () => {
    for (const token of [undefined, null, '']) {
      const parsed = parseClientMessage(JSON.stringify({ ...base, token })) as StartMessage;
      expect(parsed.type).toBe('start');
      expect('token' in parsed && parsed.token !== undefined).toBe(false);
    }
  });

  test('fields of the wrong type are a bad request', () => {
    for (const over of [{ token: 7 }, { reconnect: 'yes' }, { destinations: [{ ingest: 'x' }] }, { mimeType: '' }]) {
      expect(() => parseClientMessage(JSON.stringify({ ...base, ...over }))).toThrow(SessionError);
    }
  });
});
