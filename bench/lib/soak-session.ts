import { garbageClip, type Clip } from './media.ts';
import { publish } from './publisher.ts';
import type { SessionRecord } from './soak-faults.ts';
import { startChildClient } from '../../harness/child-client.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { readStat } from '../../harness/proc.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';

/** What a soak session needs. */
export interface SessionContext {
  relay: RelayProcess;
  token: string;
  clip: Clip;
  maxMessageBytes: number;
  mediaTimeoutMs: number;
  rand: () => number;
  /** Recording checks still running; awaited before the verdict. */
  pendingChecks: Promise<void>[];
}

const CHUNK_MS = [100, 150, 200, 250];

/** Runs one session to its end, with its planned fault if it has one, and fills in `rec`. */
export async function runSession(ctx: SessionContext, rec: SessionRecord, server: RtmpServer, now: () => number): Promise<void> {
  const start = { type: 'start' as const, token: ctx.token, ingest: server.rtmpUrl, streamKey: rec.key, mimeType: ctx.clip.mimeType };
  const chunkMs = CHUNK_MS[Math.floor(ctx.rand() * CHUNK_MS.length)]!;
  try {
    if (rec.fault === 'abrupt-disconnect' || rec.fault === 'frozen-client') await runChild(ctx, rec, start, chunkMs);
    else await runInProcess(ctx, rec, start, chunkMs);
  } catch (e) {
    rec.problems.push(`harness error: ${(e as Error).message}`);
  }
  rec.state = 'done';
  rec.endS = now();
  if (rec.closeCode !== 1000 && rec.session) {
    const of = (msg: string) => ctx.relay.logs.find((l) => l.msg === msg && l.session === rec.session);
    const failed = of('session failed');
    const exited = of('ffmpeg exited');
    rec.relaySaid = [failed && `${failed.code}: ${failed.reason}`, exited && `ffmpeg exit ${exited.exitCode ?? exited.signal} ${exited.failure ?? ''} ${exited.detail ?? ''}`.trim()]
      .filter(Boolean).join('; ');
  }
  const checkRecording = !rec.fault || rec.fault === 'abrupt-disconnect';
  if (checkRecording && rec.problems.length === 0 && (rec.closeCode === 1000 || rec.fault)) {
    ctx.pendingChecks.push(checkRecordingOf(ctx, rec, server));
  }
}

async function runInProcess(ctx: SessionContext, rec: SessionRecord, start: object, chunkMs: number): Promise<void> {
  const afterMs = 1000 + Math.floor(ctx.rand() * 3000);
  let clip = ctx.clip;
  let inject: { afterMs: number; frame: string | Uint8Array<ArrayBuffer> } | undefined;
  if (rec.fault === 'garbage-media') clip = garbageClip(ctx.clip.seconds);
  if (rec.fault === 'garbage-text') inject = { afterMs, frame: '{"type":"stop" this is not JSON' };
  if (rec.fault === 'oversized-frame') inject = { afterMs, frame: new Uint8Array(ctx.maxMessageBytes + 1024) };
  const r = await publish({
    wsUrl: ctx.relay.wsUrl,
    start: start as never,
    clip,
    chunkMs,
    inject,
    closeTimeoutMs: 30_000,
    onMessage(msg) {
      if (msg.type === 'ready') {
        rec.session = msg.session;
        rec.stopDueAt = performance.now() + clip.seconds * 1000;
      } else if (msg.type === 'live') {
        rec.gotLive = true;
        rec.state = 'streaming';
      }
    },
  });
  rec.ended = r.endedAt !== undefined;
  rec.closeCode = r.closeCode;
  rec.closeSeenBy = 'client';
  rec.errorCode = r.errorCode;
  if (r.failure) rec.problems.push(r.failure);
}

async function runChild(ctx: SessionContext, rec: SessionRecord, start: object, chunkMs: number): Promise<void> {
  const child = startChildClient({ wsUrl: ctx.relay.wsUrl, start, file: ctx.clip.path, seconds: ctx.clip.seconds, chunkMs });
  try {
    rec.session = await child.ready;
    if (rec.session) rec.stopDueAt = performance.now() + ctx.clip.seconds * 1000;
    rec.gotLive = await child.live;
    if (!rec.gotLive) {
      const res = await child.result;
      rec.problems.push(`never live (${JSON.stringify(res)})`);
      return;
    }
    rec.state = 'streaming';
    await Bun.sleep(1000 + Math.floor(ctx.rand() * 2000));
    if (rec.fault === 'abrupt-disconnect') {
      child.proc.kill('SIGKILL');
      await child.proc.exited;
      // The client is gone: the close code is the one the relay logged for its connection.
      const session = rec.session!;
      const line = () => ctx.relay.logs.find((l) => l.msg === 'client disconnected' && l.session === session);
      await waitFor(() => line() !== undefined, 10_000, `the relay to notice ${rec.key} vanished`).catch(() => {});
      rec.closeCode = line()?.code as number | undefined;
      rec.closeSeenBy = 'relay log';
    } else {
      child.proc.kill('SIGSTOP');
      // Frozen past the media timeout; thawed, it reads what the relay sent meanwhile.
      await Bun.sleep(ctx.mediaTimeoutMs + 2500);
      child.proc.kill('SIGCONT');
      const res = await Promise.race([child.result, Bun.sleep(8000).then(() => undefined)]);
      rec.errorCode = res?.errorCode ?? child.errorCode();
      if (res) {
        rec.closeCode = res.closeCode;
        rec.closeSeenBy = 'client';
      } else {
        // A thawed Bun client reads the error frame but may never report the close (the relay
        // closed the connection meanwhile): the close code is then the one the relay logged.
        const session = rec.session!;
        rec.closeCode = ctx.relay.logs.find((l) => l.msg === 'session failed' && l.session === session)?.closeCode as number | undefined;
        rec.closeSeenBy = 'relay log';
      }
    }
    // Either way the session's FFmpeg must end and be reaped.
    const pid = ctx.relay.ffmpegPidOf(rec.session!);
    if (pid !== undefined) {
      await waitFor(() => readStat(pid)?.comm !== 'ffmpeg', 20_000, 'ffmpeg to be reaped').catch(() => {
        rec.problems.push(`its FFmpeg (pid ${pid}) was still there 20 s later`);
      });
    }
  } finally {
    child.proc.kill('SIGCONT');
    child.proc.kill('SIGKILL');
    await child.proc.exited;
  }
}

async function checkRecordingOf(ctx: SessionContext, rec: SessionRecord, server: RtmpServer): Promise<void> {
  try {
    const probe = await probeRecording(await server.waitForRecording(rec.key, 30_000));
    if (rec.fault === 'abrupt-disconnect') {
      const ok = probe.videoCodec === 'h264' && probe.durationS > 0.5;
      rec.recording = { ok, detail: `${probe.videoCodec}, ${probe.durationS.toFixed(1)} s` };
      return;
    }
    const want = ctx.clip.seconds;
    const ok = probe.videoCodec === 'h264' && probe.audioCodec === 'aac' && Math.abs(probe.durationS - want) <= 1.2
      && probe.width === 1280 && probe.height === 720;
    rec.recording = { ok, detail: `${probe.videoCodec}+${probe.audioCodec} ${probe.width}x${probe.height} ${probe.durationS.toFixed(2)} s of ${want} s` };
  } catch (e) {
    rec.recording = { ok: false, detail: (e as Error).message };
  }
}
