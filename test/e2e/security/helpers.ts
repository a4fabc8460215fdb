/**
 * The controller harness (test/e2e/controller/helpers.ts) with the reconciler in a chosen
 * identity mode, plus RBAC helpers for the ServiceAccounts a team would grant.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { ACTIONS_REGISTRY } from '../../../src/actions/index.js';
import { RemediationReconciler } from '../../../src/controller/remediation/reconciler.js';
import { RunbookReconciler } from '../../../src/controller/runbook/reconciler.js';
import { MemoryEventRecorder } from '../../../src/observability/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { IdentitySettings } from '../../../src/security/identity.js';
import { systemClock } from '../../../src/util/clock.js';
import { isAlreadyExists } from '../../../src/kube/client.js';
import { testClients, testKubeConfig, waitFor } from '../../support/kube.js';
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

/** The token of a ServiceAccount (v1.20: the token controller's Secret). */
export async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const core = testClients().core;
  const secretName = await waitFor(
    async () => (await core.readNamespacedServiceAccount({ name, namespace })).secrets?.[0]?.name,
    { what: `the token Secret of ServiceAccount ${namespace}/${name}` },
  );
  const token = await waitFor(
    async () => (await core.readNamespacedSecret({ name: secretName, namespace })).data?.token,
    { what: `the token in Secret ${namespace}/${secretName}` },
  );
  return Buffer.from(token, 'base64').toString('utf8');
}

/** A kubeconfig file for the test cluster that authenticates with `token` (a person's, in effect). */
export function tokenKubeconfig(dir: string, user: string, token: string): string {
  const server = testKubeConfig().getCurrentCluster()?.server ?? '';
  const file = join(dir, `${user}.kubeconfig`);
  writeFileSync(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'test', user } }],
      'current-context': user,
    }),
  );
  return file;
}
