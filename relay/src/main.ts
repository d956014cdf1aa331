import { caFileProblem, ConfigError, loadConfig, type RelayConfig } from './config.ts';
import { DelayTrace } from './delay-trace.ts';
import { killAllFfmpeg } from './ffmpeg.ts';
import { startServer } from './server.ts';
import { log, setServiceName } from './telemetry.ts';
import { loadTls } from './tls.ts';

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
process.on('uncaughtException', (e) => {
  // One session's bug must not take down the others; the error is logged and the relay stays up.
  log('error', 'uncaught exception', { error: String(e), stack: e instanceof Error ? e.stack : undefined });
});
process.on('unhandledRejection', (e) => {
  log('error', 'unhandled rejection', { error: String(e) });
});

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
