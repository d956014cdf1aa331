/**
 * What a connection leg records with: the part of `MediaRecorder` it uses. `MediaRecorder` is one;
 * the WebCodecs recorder (webcodecs-recorder.ts) is the other, with the same events in the same order.
 */
export interface Recorder {
  readonly state: RecordingState;
  /** What the relay is told in the start message; names the codecs. */
  readonly mimeType: string;
  /** A piece of the recording; the pieces, concatenated in order, are one valid stream. */
  ondataavailable: ((event: BlobEvent) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  /** After `stop()`: fires once the last `dataavailable` has. */
  onstop: ((event: Event) => void) | null;
  start(timeslice?: number): void;
  stop(): void;
  /**
   * Present when the recorder can skip frames before encoding them: the leg turns it on while the
   * upload is congested and off once it has drained, so that nothing queues in the browser and the
   * stream stays decodable (docs/embedding.md#capture-paths).
   */
  dropFrames?(drop: boolean): void;
  /**
   * Present when the recorder can change its video bitrate while recording (WebCodecs): the leg
   * follows the uplink with it instead of restarting (docs/embedding.md#slow-uplinks).
   */
  setVideoBitrate?(bitsPerSecond: number): void;
}
