import { join } from 'node:path';
import { describe, expect, test } from 'bun:test';
import { REPO_ROOT } from '../../../harness/relay-process.ts';
import { ffmpegArgs, planPipeline } from '../../src/pipeline.ts';
import { SessionError } from '../../src/protocol.ts';

const CA = '/tmp/ca.pem';

describe('mimeType → pipeline (docs/pipeline.md)', () => {
  test('H.264 is copied, Opus becomes AAC, AAC is copied', () => {
    expect(planPipeline('video/x-matroska;codecs=avc1.64001F,opus')).toEqual({ inputFormat: 'matroska', video: 'copy', audio: 'aac', pipeline: 'copy' });
    expect(planPipeline('video/webm;codecs=h264,opus')).toMatchObject({ inputFormat: 'matroska', video: 'copy', audio: 'aac' });
    expect(planPipeline('video/mp4;codecs="avc1.42E01F, mp4a.40.2"')).toEqual({ inputFormat: 'mp4', video: 'copy', audio: 'copy', pipeline: 'copy' });
    expect(planPipeline('video/mp4')).toEqual({ inputFormat: 'mp4', video: 'copy', audio: 'copy', pipeline: 'copy' });
  });

  test('VP8, VP9 and AV1 are transcoded', () => {
    for (const m of ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/webm;codecs=vp09.00.10.08,opus', 'video/webm;codecs=av01.0.04M.08', 'video/webm']) {
      expect(planPipeline(m)).toMatchObject({ video: 'transcode', pipeline: 'transcode', inputFormat: 'matroska' });
    }
  });

  test('anything else is UNSUPPORTED_MEDIA', () => {
    for (const m of ['audio/webm;codecs=opus', 'video/ogg', 'video/webm;codecs=theora', 'video/webm;codecs=opus', 'text/plain', '']) {
      let err: unknown;
      try {
        planPipeline(m);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SessionError);
      expect((err as SessionError).closeCode).toBe(4415);
    }
  });

  test('FFmpeg is forced onto the pipe and RTMP, and the transcode is low latency CBR with a 2 s GOP', () => {
    const args = ffmpegArgs(planPipeline('video/webm;codecs=vp8,opus'), 'rtmp://h:1935/app/key', { rwTimeoutMs: 1000, ingestCaFile: CA });
    const joined = args.join(' ');
    expect(args.indexOf('-f')).toBeLessThan(args.indexOf('-i'));
    expect(joined).toContain('-protocol_whitelist pipe -');
    expect(joined).toContain('-protocol_whitelist rtmp,rtmps,tcp,tls');
    expect(joined).toContain('-tune zerolatency');
    expect(joined).toContain('-bf 0');
    expect(joined).toContain('-g 60');
    expect(joined).toMatch(/-b:v (\d+k) -maxrate \1 -bufsize \d+k/);
    expect(joined).toContain('-c:a aac');
    expect(args.at(-1)).toBe('rtmp://h:1935/app/key');
    const copy = ffmpegArgs(planPipeline('video/mp4;codecs=avc1,mp4a.40.2'), 'rtmp://h:1935/app/key', { rwTimeoutMs: 1000, ingestCaFile: CA }).join(' ');
    expect(copy).toContain('-c:v copy');
    expect(copy).toContain('-c:a copy');
    expect(copy).toContain('-f mp4 -i pipe:0');
    expect(copy).not.toContain('-tls_verify');
  });

  test('AAC is encoded with the fast coder, AAC-LC 48 kHz stereo 128 kbit/s, in both pipelines that encode it', () => {
    for (const mimeType of ['video/x-matroska;codecs=avc1,opus', 'video/webm;codecs=vp8,opus']) {
      const joined = ffmpegArgs(planPipeline(mimeType), 'rtmp://h:1935/app/key', { rwTimeoutMs: 1000, ingestCaFile: CA }).join(' ');
      expect(joined).toContain('-c:a aac -aac_coder fast -profile:a aac_low -b:a 128k -ar 48000 -ac 2');
    }
  });

  test('an rtmps output verifies the ingest: -tls_verify 1 and the CA file, as output options before the URL', () => {
    const plan = planPipeline('video/mp4;codecs=avc1,mp4a.40.2');
    const url = 'rtmps://a.global-contribute.live-video.net:443/app/key';
    const args = ffmpegArgs(plan, url, { rwTimeoutMs: 1000, ingestCaFile: CA });
    const verify = args.indexOf('-tls_verify');
    expect(args.slice(verify, verify + 4)).toEqual(['-tls_verify', '1', '-ca_file', CA]);
    expect(verify).toBeGreaterThan(args.lastIndexOf('-i'));
    expect(args.at(-1)).toBe(url);
  });
});

describe('docs/pipeline.md shows the arguments the relay passes', () => {
  /** The lines of the first code block under `heading`, each without its `(when)` note. */
  async function documentedLines(heading: string): Promise<string[]> {
    const doc = await Bun.file(join(REPO_ROOT, 'docs', 'pipeline.md')).text();
    const section = doc.slice(doc.indexOf(`\n${heading}\n`));
    const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    return block.split('\n').map((line) => line.replace(/\s+\([^)]*\)\s*$/, '').trim()).filter((line) => line !== '');
  }
  const argsOf = (mimeType: string) => ffmpegArgs(planPipeline(mimeType), 'rtmp://h:1935/app/key', { rwTimeoutMs: 1000, ingestCaFile: CA }).join(' ');

  test('copy pipeline', async () => {
    const lines = await documentedLines('## Copy pipeline');
    expect(lines).toHaveLength(3);
    const [videoCopy, audioCopy, aacEncode] = lines as [string, string, string];
    expect(argsOf('video/mp4;codecs=avc1,mp4a.40.2')).toContain(`${videoCopy} ${audioCopy}`);
    expect(argsOf('video/x-matroska;codecs=avc1,opus')).toContain(`${videoCopy} ${aacEncode}`);
  });

  test('transcode pipeline', async () => {
    const args = argsOf('video/webm;codecs=vp8,opus');
    const lines = await documentedLines('## Transcode pipeline');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) expect(args).toContain(line);
  });
});
