/**
 * A Runbook source backed by LIST calls, for tests, the benchmark and a webhook run without
 * the controller's informer. Results are cached for `ttlMs` so a burst of requests costs one
 * LIST; concurrent callers share the call in flight.
 */
import type { Runbook } from '../api/v1alpha1/index.js';
import type { KubeClients } from '../kube/client.js';
import { runbooks } from '../kube/resources.js';
import type { RunbookSource } from './intake.js';

export function listRunbookSource(
  clients: KubeClients,
  opts: { namespace?: string; ttlMs?: number } = {},
): RunbookSource {
  const ttl = opts.ttlMs ?? 0;
  let cached: { at: number; items: Runbook[] } | undefined;
  let pending: Promise<Runbook[]> | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < ttl) return cached.items;
    pending ??= runbooks(clients)
      .list(opts.namespace)
      .then((l) => {
        cached = { at: Date.now(), items: l.items };
        return l.items;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
