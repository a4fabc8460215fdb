/**
 * The controller harness (test/e2e/controller/helpers.ts) with the reconciler in a chosen
 * identity mode, plus RBAC helpers for the ServiceAccounts a team would grant.
 */
import * as k8s from '@kubernetes/client-node';
import { ACTIONS_REGISTRY } from '../../../src/actions/index.js';
import { RemediationReconciler } from '../../../src/controller/remediation/reconciler.js';
import { RunbookReconciler } from '../../../src/controller/runbook/reconciler.js';
import { MemoryEventRecorder } from '../../../src/observability/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { IdentitySettings } from '../../../src/security/identity.js';
import { systemClock } from '../../../src/util/clock.js';
import { isAlreadyExists } from '../../../src/kube/client.js';
import { testClients } from '../../support/kube.js';
import { ListCaches, MemoryAudit, type Harness } from '../controller/helpers.js';

export function identityHarness(identity: IdentitySettings): Harness {
  const clients = testClients();
  const caches = new ListCaches(clients);
  const events = new MemoryEventRecorder();
  const audit = new MemoryAudit();
  const metrics = createMetrics({ defaultMetrics: false });
  const log = silentLogger();
  const reconciler = new RemediationReconciler({
    clients,
    caches,
    clock: systemClock,
    log,
    metrics,
    events,
    audit,
    actions: ACTIONS_REGISTRY,
    config: { controller: { maxConcurrentRemediations: 20, defaultStepTimeout: '1m' }, identity },
  });
  caches.observers.push(reconciler.observe.update);
  const runbookReconciler = new RunbookReconciler({ clients, caches, clock: systemClock, log, events });
  return { clients, caches, events, audit, metrics, reconciler, runbookReconciler };
}

export async function createServiceAccount(namespace: string, name: string): Promise<void> {
  try {
    await testClients().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** A Role in `namespace` with `rules`, bound to ServiceAccount `sa` (of `saNamespace`) or a user. */
export async function grant(
  namespace: string,
  name: string,
  rules: Rule[],
  subject: { serviceAccount: string; namespace: string } | { user: string },
): Promise<void> {
  const rbac = testClients().kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [
        'user' in subject
          ? { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: subject.user }
          : { kind: 'ServiceAccount', name: subject.serviceAccount, namespace: subject.namespace },
      ],
    },
  });
}
