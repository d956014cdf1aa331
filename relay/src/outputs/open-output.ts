import type { CapacityLimit, Slot, SlotHolder, SlotKind } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import type { DelayTrace } from '../delay-trace.ts';
import { limitRefusal } from '../limit-refusal.ts';
import { ffmpegArgs, type PipelinePlan } from '../pipeline.ts';
import { FanoutAttempt, type FanoutDestination } from './fanout.ts';
import { ffmpegAttempt } from './ffmpeg-attempt.ts';
import { OutputFailure, publishOptions, type Attempt, type AttemptEvents, type Output, type OutputEvents } from './output.ts';
import { OutputSupervisor } from './supervisor.ts';

/** What a session publishes, and for whom. */
export interface OutputRequest {
  readonly session: string;
  readonly plan: PipelinePlan;
  readonly destinations: readonly FanoutDestination[];
  readonly holder: SlotHolder;
  /** The client asked to record anew after an output failure (docs/protocol.md#reconnecting). */
  readonly reconnect: boolean;
  readonly config: RelayConfig;
  readonly delayTrace?: DelayTrace;
  /** A capacity slot, synchronously, or the limit that refuses it. */
  reserve(kind: SlotKind, holder: SlotHolder): Slot | CapacityLimit;
}

/**
 * Starts a session's output: tries of one FFmpeg for one destination, or of an encoder and a
 * publisher per destination (fanout.ts), each try with a slot for each destination, all or none.
 * The first slot is of the pipeline's kind, so a transcode counts once against RELAY_MAX_TRANSCODES.
 * @returns the output, or the limit that refused a slot (nothing was started)
 * @throws Error when FFmpeg cannot be started (every slot is then back)
 */
export function openOutput(req: OutputRequest, events: OutputEvents): Output | CapacityLimit {
  const { session, plan, destinations, config, delayTrace } = req;
  const kindOf = (i: number): SlotKind => (i === 0 ? plan.video : 'copy');
  const context = { session };
  const open = (attemptEvents: AttemptEvents): Attempt | CapacityLimit => {
    const slots: Slot[] = [];
    for (let i = 0; i < destinations.length; i++) {
      const slot = req.reserve(kindOf(i), req.holder);
      if (typeof slot === 'string') {
        for (const s of slots) s.release();
        return slot;
      }
      slots.push(slot);
    }
    if (destinations.length > 1) {
      const reserve = (i: number) => req.reserve(kindOf(i), req.holder);
      return new FanoutAttempt({ session, plan, destinations, slots, config, delayTrace, reserve }, attemptEvents);
    }
    const [{ publishUrl, streamKey }] = destinations as [FanoutDestination];
    const command = { args: ffmpegArgs(plan, publishUrl, publishOptions(config)), secrets: [publishUrl, streamKey], context, delayTrace };
    return ffmpegAttempt(config, command, slots[0]!, attemptEvents);
  };
  const refusal = (limit: CapacityLimit) => new OutputFailure('UNAVAILABLE', limitRefusal(limit, config).message, true);
  return OutputSupervisor.start({ config, context, reconnect: req.reconnect, open, refusal }, events);
}
