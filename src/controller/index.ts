/**
 * The operator's two controllers (Remediation, Runbook) and their watches, as the runtime
 * Manager (src/runtime, generic) registers them.
 */
import { ACTIONS_REGISTRY } from '../actions/index.js';
import type { AuditSink } from '../audit/types.js';
import type { Config } from '../config/config.js';
import { layeredOnRequests } from './remediation/layering.js';
import { remediationsForRunbook, runbookForRemediation, slotWaiters } from './remediation/mapping.js';
import { RemediationReconciler } from './remediation/reconciler.js';
import { RunbookReconciler } from './runbook/reconciler.js';
import type { ControllerOptions } from '../runtime/manager.js';
import type { Caches, Kinds } from './caches.js';
import type { KubeClients } from '../kube/client.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';

/**
 * How long a Runbook's activeRemediations may lag its Remediations starting and finishing: the
 * recount runs this long after the first change, once for all changes meanwhile. A display
 * field (nothing decides on it), so its write waits: at 500 ms it came exactly as the next of a
 * steady stream of Remediations started, and a status write of the Runbook in flight doubled
 * that Remediation's own status write (docs/benchmarks.md). At 2 s a steady stream costs a
 * quarter of the writes.
 */
export const ACTIVE_REMEDIATIONS_DELAY_MS = 2000;

export interface ControllerDeps {
  config: Readonly<Config>;
  clients: KubeClients;
  caches: Caches;
  metrics: Metrics;
  log: Logger;
  events: EventRecorder;
  audit: AuditSink;
  clock: Clock;
}

export function buildControllers(d: ControllerDeps): ControllerOptions<Kinds>[] {
  const remediation = new RemediationReconciler({
    clients: d.clients,
    caches: d.caches,
    clock: d.clock,
    log: d.log.child({ controller: 'remediation' }),
    metrics: d.metrics,
    events: d.events,
    audit: d.audit,
    actions: ACTIONS_REGISTRY,
    config: d.config,
  });
  const runbook = new RunbookReconciler({
    clients: d.clients,
    caches: d.caches,
    clock: d.clock,
    log: d.log.child({ controller: 'runbook' }),
    events: d.events,
    metrics: d.metrics,
    retention: d.config.retention,
    audit: d.audit,
  });
  return [
    {
      name: 'remediation',
      reconciler: remediation,
      forObject: 'remediation',
      observe: remediation.observe,
      eventFilter: remediation.eventFilter,
      // A Runbook that changes (fixed, approved scope, cleared block) wakes its waiting Remediations.
      watches: [
        { object: 'runbook', map: remediationsForRunbook(d.caches.remediations) },
        // A change layered on older ones (layering.ts): once it is reverted, their held reverts go on.
        {
          object: 'remediation',
          map: (rem, event) =>
            layeredOnRequests(rem, event, (ns, name) => d.caches.remediations.get(ns, name)),
        },
        // One that finishes frees its target and a slot of the budget: the oldest waiting go next.
        {
          object: 'remediation',
          map: slotWaiters(d.caches.remediations, d.config.controller.maxConcurrentRemediations),
        },
      ],
    },
    {
      name: 'runbook',
      reconciler: runbook,
      forObject: 'runbook',
      // Remediations starting and finishing change a Runbook's activeRemediations. A summary:
      // recounted a moment later, once per burst, and not in the middle of a step's checkpoint
      // and apply, whose API requests it would otherwise compete with.
      watches: [{ object: 'remediation', map: runbookForRemediation, delayMs: ACTIVE_REMEDIATIONS_DELAY_MS }],
    },
  ];
}
