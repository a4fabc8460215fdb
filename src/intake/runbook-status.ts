/**
 * Best-effort usage counters on the Runbook status (`matchedAlerts`, `lastFiredAt`).
 * Increments are coalesced per Runbook and written one at a time (at most once a second) with a resourceVersion
 * precondition after a fresh read, so concurrent alerts (and other replicas, and the Runbook
 * controller writing conditions) never lose counts to a read-modify-write race. A failure is
 * logged and never fails the alert that caused it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isConflict, isNotFound, type KubeClients } from '../kube/client.js';
import { runbooks as runbooksApi } from '../kube/resources.js';
import type { Logger } from '../observability/logger.js';
import { errorMessage } from '../util/errors.js';

const MAX_ATTEMPTS = 5;
/**
 * At most one write per Runbook per interval: under a burst of alerts the counters are written
 * once a second instead of competing with the Remediation creates for the API server.
 */
const MIN_WRITE_INTERVAL_MS = 1000;

interface Pending {
  count: number;
  lastFiredAt: string;
  running?: Promise<void>;
}

export class RunbookStatusCounter {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly clients: KubeClients,
    private readonly log: Logger,
  ) {}

  /** Counts one more alert that started a remediation from `namespace/name`. */
  bump(namespace: string, name: string, firedAt: string): void {
    const key = `${namespace}/${name}`;
    let p = this.pending.get(key);
    if (!p) {
      p = { count: 0, lastFiredAt: firedAt };
      this.pending.set(key, p);
    }
    p.count += 1;
    if (firedAt > p.lastFiredAt) p.lastFiredAt = firedAt;
    if (!p.running) {
      const entry = p;
      entry.running = this.drain(namespace, name, entry).finally(() => {
        entry.running = undefined;
        if (entry.count === 0) this.pending.delete(key);
      });
    }
  }

  private async drain(namespace: string, name: string, p: Pending): Promise<void> {
    const api = runbooksApi(this.clients);
    let attempts = 0;
    while (p.count > 0 && attempts < MAX_ATTEMPTS) {
      const n = p.count;
      const at = p.lastFiredAt;
      try {
        const rb = await api.get(namespace, name);
        const status = { matchedAlerts: (rb.status?.matchedAlerts ?? 0) + n, lastFiredAt: at };
        await api.patchStatus(namespace, name, status, rb.metadata.resourceVersion);
        p.count -= n;
        attempts = 0;
        if (p.count > 0) await sleep(MIN_WRITE_INTERVAL_MS);
      } catch (err) {
        attempts += 1;
        if (isConflict(err)) continue;
        if (isNotFound(err)) break;
        this.log.warn('runbook status not updated', {
          runbook: `${namespace}/${name}`,
          error: errorMessage(err),
        });
        break;
      }
    }
    if (p.count > 0) {
      this.log.warn('runbook status counts dropped', { runbook: `${namespace}/${name}`, count: p.count });
      p.count = 0;
    }
  }

  /** Resolves when every count taken so far has been written (or given up). */
  async flush(): Promise<void> {
    for (;;) {
      const running = [...this.pending.values()].flatMap((p) => (p.running ? [p.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }
}
