import { caFileProblem, ConfigError, loadConfig, type RelayConfig } from './config.ts';
import { DelayTrace } from './delay-trace.ts';
import { killAllFfmpeg, runningFfmpegCount } from './ffmpeg.ts';
import { watchSlotInvariant } from './invariant.ts';
import { startServer } from './server.ts';
import { log, setServiceName } from './telemetry.ts';
import { loadTls } from './tls.ts';
import { onUncaughtException, onUnhandledRejection } from './uncaught.ts';

// Entry point of the relay, in development and in the image alike: `bun relay/src/main.ts`.

let config: RelayConfig;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  for (const problem of e.problems) {
    log('error', `invalid configuration: ${problem}`, { variable: problem.slice(0, problem.indexOf(':')) });
  }
  process.exit(1);
}
setServiceName(config.serviceName);
if (config.allowedIngests.some((p) => p.scheme === 'rtmps')) {
  const problem = caFileProblem(config.ingestCaFile);
  // Only the default can fail here: loadConfig refused an explicit RELAY_INGEST_CA_FILE that fails.
  if (problem) {
    log('warn', 'no CA bundle for rtmps:// ingests: every rtmps session will fail certificate verification (4502)', {
      variable: 'RELAY_INGEST_CA_FILE', file: config.ingestCaFile, problem,
    });
  }
}

const delayTrace = config.delayTraceFile === undefined ? undefined : new DelayTrace(config.delayTraceFile);

// Whatever happens, no FFmpeg outlives the relay; the delay trace gets its last line.
process.on('exit', () => {
  const n = killAllFfmpeg();
  if (n > 0) log('warn', 'killed ffmpeg children at exit', { count: n });
  delayTrace?.stop();
});
// Logged and counted; the relay stays up (uncaught.ts).
process.on('uncaughtException', onUncaughtException);
process.on('unhandledRejection', onUnhandledRejection);

let tls;
try {
  tls = await loadTls(config);
} catch (e) {
  log('error', `invalid configuration: RELAY_TLS: could not prepare TLS: ${(e as Error).message}`, { variable: 'RELAY_TLS' });
  process.exit(1);
}

let relay;
try {
  relay = startServer(config, tls, delayTrace);
} catch (e) {
  log('error', 'could not listen', { host: config.host, port: config.port, error: String(e) });
  process.exit(1);
}

// Slots and FFmpeg processes must agree (invariant.ts); when they do not, the relay cannot be trusted
// with new sessions, and exits so that ECS replaces the task. Its FFmpegs die with it (the exit hook).
const SLOT_INVARIANT_INTERVAL_MS = 5000;
watchSlotInvariant(() => ({ slotsHeld: relay.slotsHeld, ffmpegRunning: runningFfmpegCount() }), (problem, counts) => {
  log('error', 'slot accounting is broken; exiting', { problem, ...counts });
  process.exit(1);
}, SLOT_INVARIANT_INTERVAL_MS);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    // A second signal means now.
    log('warn', 'second signal; exiting at once', { signal });
    process.exit(1);
  }
  stopping = true;
  log('info', 'signal received; draining', { signal });
  relay.drain().then(
    () => process.exit(0),
    (e: unknown) => {
      log('error', 'drain failed', { error: String(e) });
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
