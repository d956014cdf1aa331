/**
 * The WebCodecs `VideoEncoder` behind a WebCodecs recording, held where the recorder can reach it,
 * so that its bitrate can change while it runs (`configure()` with a new bitrate: same stream, no
 * new recording; docs/embedding.md#slow-uplinks).
 *
 * Why a custom encoder: mediabunny's `MediaStreamVideoTrackSource` keeps its `VideoEncoder` to
 * itself. Its documented extension point is `registerEncoder(CustomVideoEncoder)`; the class
 * registered here claims only the configurations a recording announced through
 * `onEncoderConfig` (one object per recording, matched by identity), does exactly what mediabunny
 * does with a `VideoEncoder` (configure, encode, flush, close, the same backpressure), and hands
 * itself to that recording. Key frames stay mediabunny's: it asks for one at every interval of
 * stream time, and a re-configure does not change that rhythm.
 */

import type * as Mediabunny from 'mediabunny';

type MediabunnyModule = typeof Mediabunny;

/** What a recording can do with its running encoder. */
export interface BitrateControl {
  /** Asks the running encoder for a new bitrate; effective from the next frames, in the same stream. */
  setBitrate(bitsPerSecond: number): void;
}

/** Configurations announced by recordings, each with where its encoder reports once created. */
const claims = new WeakMap<VideoEncoderConfig, (control: BitrateControl) => void>();
/** mediabunny modules the encoder is registered with (a page may load one bundle, an app another). */
const registered = new WeakSet<object>();

/**
 * Makes the next encoder mediabunny creates with `config` this module's adjustable one, and calls
 * `onCreated` with it. Pass the result as the video source's `onEncoderConfig`.
 */
export function claimEncoder(mediabunny: MediabunnyModule, onCreated: (control: BitrateControl) => void): (config: VideoEncoderConfig) => void {
  register(mediabunny);
  return (config) => void claims.set(config, onCreated);
}

/** An encoder's own backpressure, as mediabunny applies it to its `VideoEncoder`. */
const MAX_ENCODE_QUEUE = 4;
/** The longest a frame waits for the encoder to take one from its queue. */
const DEQUEUE_WAIT_MS = 1000;

function register(mediabunny: MediabunnyModule): void {
  if (registered.has(mediabunny)) return;
  registered.add(mediabunny);
  const { CustomVideoEncoder, EncodedPacket } = mediabunny;

  class AdjustableVideoEncoder extends CustomVideoEncoder implements BitrateControl {
    static override supports(_codec: Mediabunny.VideoCodec, config: VideoEncoderConfig): boolean {
      return claims.has(config);
    }

    private encoder: VideoEncoder | undefined;
    private current!: VideoEncoderConfig;
    private packets = 0;

    init(): void {
      this.current = { ...this.config };
      this.open();
      claims.get(this.config)?.(this);
      claims.delete(this.config);
    }

    private open(): void {
      const encoder = new VideoEncoder({
        output: (chunk, meta) => {
          let packet = EncodedPacket.fromEncodedChunk(chunk);
          // The first frame is always asked for as a key frame (mediabunny's rhythm starts there);
          // an encoder that labels it otherwise is wrong, as mediabunny's own path assumes too.
          if (this.packets++ === 0 && packet.type !== 'key') packet = packet.clone({ type: 'key' });
          this.onPacket(packet, meta);
        },
        error: (error) => {
          // Chromium closes an idle encoder of a background page; the next frame opens a new one.
          if (error.name === 'QuotaExceededError' && this.encoder === encoder) this.encoder = undefined;
          else this.onError(error);
        },
      });
      encoder.configure(this.current);
      this.encoder = encoder;
    }

    async encode(sample: Mediabunny.VideoSample, options: VideoEncoderEncodeOptions): Promise<void> {
      if (!this.encoder || this.encoder.state === 'closed') this.open();
      const encoder = this.encoder!;
      const frame = sample.toVideoFrame();
      try {
        encoder.encode(frame, options);
      } finally {
        frame.close();
      }
      if (encoder.encodeQueueSize >= MAX_ENCODE_QUEUE) {
        // Bounded: an encoder that errors or closes meanwhile never fires `dequeue`. Past the bound
        // the next frame waits in mediabunny's queue, which drops frames once it is long.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise((resolve) => {
          encoder.addEventListener('dequeue', resolve, { once: true });
          timer = setTimeout(resolve, DEQUEUE_WAIT_MS);
        });
        clearTimeout(timer);
      }
    }

    setBitrate(bitsPerSecond: number): void {
      const bitrate = Math.round(bitsPerSecond);
      if (bitrate === this.current.bitrate) return;
      this.current = { ...this.current, bitrate };
      // A second configure() on a running encoder applies to the frames encoded after it: the
      // stream goes on (same SPS/PPS for the same codec and size; mediabunny keeps the first
      // decoder configuration, which the relay copies), the key frame rhythm is mediabunny's.
      if (this.encoder?.state === 'configured') this.encoder.configure(this.current);
    }

    async flush(): Promise<void> {
      if (this.encoder?.state === 'configured') await this.encoder.flush();
    }

    close(): void {
      if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
      this.encoder = undefined;
    }
  }

  mediabunny.registerEncoder(AdjustableVideoEncoder);
}
