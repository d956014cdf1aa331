import { log } from './telemetry.ts';

/** Keeps the task's ECS scale-in protection on exactly while it has live sessions. */
export interface ScaleInProtection {
  /** Tells the protection how many sessions are live now. */
  update(activeSessions: number): void;
  /** Stops refreshing; resolves when no request is in flight. */
  stop(): Promise<void>;
}

/**
 * Creates the scale-in protection driver. It talks to the ECS agent (`$ECS_AGENT_URI/task-protection/v1/state`),
 * which calls ECS with the task role. Protection is set with an expiry and refreshed at half of it,
 * so a relay that dies holding it does not protect its task for ever. Failures are logged, never fatal:
 * at worst a scale-in can stop a task with live sessions, as without protection.
 */
export function createScaleInProtection(opts: { enabled: boolean; agentUri?: string; expiresInMinutes?: number }): ScaleInProtection {
  const expiresInMinutes = opts.expiresInMinutes ?? 60;
  if (!opts.enabled) return { update() {}, async stop() {} };
  if (!opts.agentUri) {
    log('warn', 'RELAY_SCALE_IN_PROTECTION is on but ECS_AGENT_URI is not set (not on ECS?); protection disabled');
    return { update() {}, async stop() {} };
  }
  const url = `${opts.agentUri.replace(/\/$/, '')}/task-protection/v1/state`;
  let protectedNow = false;
  let chain: Promise<void> = Promise.resolve();
  let refresh: Timer | undefined;

  const put = (enable: boolean) => {
    chain = chain.then(async () => {
      const body = enable ? { ProtectionEnabled: true, ExpiresInMinutes: expiresInMinutes } : { ProtectionEnabled: false };
      try {
        const res = await fetch(url, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        await res.body?.cancel();
        log('info', enable ? 'scale-in protection on' : 'scale-in protection off', { expiresInMinutes: enable ? expiresInMinutes : undefined });
      } catch (e) {
        log('warn', 'could not update scale-in protection', { enable, error: String(e) });
      }
    });
  };

  return {
    update(activeSessions) {
      const want = activeSessions > 0;
      if (want === protectedNow) return;
      protectedNow = want;
      put(want);
      clearInterval(refresh);
      if (want) {
        refresh = setInterval(() => put(true), (expiresInMinutes * 60_000) / 2);
        refresh.unref();
      }
    },
    async stop() {
      clearInterval(refresh);
      await chain;
    },
  };
}
