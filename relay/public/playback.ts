/**
 * Plays a live fragmented-MP4 stream (H.264 + AAC) through Media Source Extensions.
 * Used by the demo: browsers cannot play the sink's HTTP-FLV, so the demo remuxes it to
 * fragmented MP4 with FFmpeg (no re-encode) and this feeds the fragments to a <video>.
 */

/**
 * The demo playback server's one route, relative to its base URL: the stream the sink received
 * most recently. A fixed name, so the stream key never appears in a URL.
 */
export const PLAYBACK_PATH = 'current.mp4';

/** Reads the codec string for `addSourceBuffer` from the init segment (avcC + mp4a boxes). */
export function codecsFromInitSegment(bytes: Uint8Array): string | undefined {
  const find = (fourcc: string, from = 0): number => {
    const [a, b, c, d] = [...fourcc].map((ch) => ch.charCodeAt(0));
    for (let i = from; i + 3 < bytes.length; i++) {
      if (bytes[i] === a && bytes[i + 1] === b && bytes[i + 2] === c && bytes[i + 3] === d) return i;
    }
    return -1;
  };
  const moov = find('moov');
  if (moov < 4) return undefined; // absent, or no room for its size field before it
  const moovSize = new DataView(bytes.buffer, bytes.byteOffset).getUint32(moov - 4);
  if (bytes.length < moov - 4 + moovSize) return undefined; // the init segment is not complete yet
  const codecs: string[] = [];
  const avcC = find('avcC', moov);
  if (avcC > 0) {
    // avcC payload: configurationVersion, AVCProfileIndication, profile_compatibility, AVCLevelIndication.
    const hex = (n: number) => (bytes[avcC + 4 + n] ?? 0).toString(16).padStart(2, '0');
    codecs.push(`avc1.${hex(1)}${hex(2)}${hex(3)}`);
  }
  if (find('mp4a', moov) > 0) codecs.push('mp4a.40.2');
  return codecs.length ? codecs.join(',') : undefined;
}

/**
 * Streams `url` into `video` until `signal` aborts or the stream ends. Keeps the player near
 * the live edge and drops old buffer so a long demo does not grow memory.
 */
export async function playLiveMp4(video: HTMLVideoElement, url: string, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, { signal });
  if (!response.ok || !response.body) throw new Error(`playback answered ${response.status}`);
  const reader = response.body.getReader();
  signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  try {
    await feed(video, reader, signal);
  } finally {
    // Whatever ended the playback (a decode error included), close the request: the server's
    // FFmpeg stops with it, and the retry does not hold a second one.
    void reader.cancel().catch(() => undefined);
  }
}

async function feed(video: HTMLVideoElement, reader: ReadableStreamDefaultReader<Uint8Array>, signal: AbortSignal): Promise<void> {
  // Collect bytes until the whole init segment is there, to learn the codecs.
  let head: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  let codecs: string | undefined;
  while (!codecs) {
    const { value, done } = await reader.read();
    if (done) throw new Error('playback ended before the first frame');
    head = concat(head, value);
    codecs = codecsFromInitSegment(head);
  }

  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener('sourceopen', resolve, { once: true }));
  // Attached: the object URL is no longer needed, and a retry must not leak it.
  URL.revokeObjectURL(video.src);
  const buffer = source.addSourceBuffer(`video/mp4; codecs="${codecs}"`);
  const append = (chunk: Uint8Array<ArrayBuffer>) =>
    new Promise<void>((resolve, reject) => {
      buffer.addEventListener('updateend', () => resolve(), { once: true });
      buffer.addEventListener('error', () => reject(new Error('the browser could not decode the playback')), { once: true });
      buffer.appendBuffer(chunk);
    });

  await append(head);
  void video.play().catch(() => undefined);
  for (;;) {
    const { value, done } = await reader.read();
    if (done || signal.aborted) break;
    // Copied into a fresh ArrayBuffer: appendBuffer takes no shared memory.
    await append(concat(new Uint8Array(0), value));
    await keepNearLiveEdge(video, buffer);
  }
}

async function keepNearLiveEdge(video: HTMLVideoElement, buffer: SourceBuffer): Promise<void> {
  const ranges = video.buffered;
  if (ranges.length === 0) return;
  const end = ranges.end(ranges.length - 1);
  // More than 3 s behind (a stall, a background tab): jump to the edge rather than lag forever.
  if (end - video.currentTime > 3) video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 0.5);
  const start = ranges.start(0);
  if (video.currentTime - start > 30 && !buffer.updating) {
    buffer.remove(start, video.currentTime - 10);
    await new Promise((resolve) => buffer.addEventListener('updateend', resolve, { once: true }));
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
