/** Helpers for intake tests against the real control plane: Runbooks made Ready, an intake server, HTTP posts. */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Runbook, RunbookSpec, Remediation } from '../../../src/api/v1alpha1/index.js';
import type { KubeClients } from '../../../src/kube/client.js';
import { remediations, runbooks } from '../../../src/kube/resources.js';
import { KubeEventRecorder } from '../../../src/observability/events.js';
import { silentLogger, type Logger } from '../../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { listRunbookSource } from '../../../src/intake/runbook-source.js';
import { buildWebhookServer, type WebhookServer } from '../../../src/intake/server.js';
import type { AlertResult, RunbookSource } from '../../../src/intake/intake.js';
import { MemoryLimitStore } from '../../../src/stores/memory.js';
import type { LimitStore } from '../../../src/stores/types.js';
import { systemClock } from '../../../src/util/clock.js';
import type { Config } from '../../../src/config/config.js';
import { testClients } from '../../support/kube.js';
import { webhookConfig } from '../../unit/intake/builders.js';

export const TOKEN = 's3cret-token';
export const PATH = '/api/v1/alerts';

/** Creates a Runbook and, as the Runbook controller would, marks it Ready. */
export async function createRunbook(
  namespace: string,
  name: string,
  spec: Partial<RunbookSpec> = {},
  ready = true,
): Promise<Runbook> {
  const api = runbooks(testClients());
  await api.create(namespace, {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name, namespace },
    spec: {
      triggers: [{ alertname: 'WebDown' }],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps: [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }],
      ...spec,
    },
  });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return api.patchStatus(namespace, name, {
    conditions: [
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason: ready ? 'Valid' : 'InvalidSpec',
        message: 'test',
        lastTransitionTime: now,
      },
    ],
  });
}

export interface TestIntake extends WebhookServer {
  metrics: Metrics;
  events: KubeEventRecorder;
  store: LimitStore;
}

export function startIntake(
  o: {
    namespace?: string;
    clients?: KubeClients;
    runbooks?: RunbookSource;
    store?: LimitStore;
    config?: Config['webhook'];
    log?: Logger;
    metrics?: Metrics;
    alertConcurrency?: number;
  } = {},
): TestIntake {
  const clients = o.clients ?? testClients();
  const log = o.log ?? silentLogger();
  const metrics = o.metrics ?? createMetrics({ defaultMetrics: false });
  const events = new KubeEventRecorder(clients.core, log);
  const store = o.store ?? new MemoryLimitStore();
  const server = buildWebhookServer({
    clients,
    runbooks: o.runbooks ?? listRunbookSource(testClients(), { namespace: o.namespace }),
    store,
    metrics,
    log,
    events,
    clock: systemClock,
    config: o.config ?? webhookConfig({ bearerToken: TOKEN }),
    alertConcurrency: o.alertConcurrency,
  });
  return { ...server, metrics, events, store };
}

/** Listens on a free loopback port; returns the webhook URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${addr.port}${PATH}`;
}

/** What the webhook answers: per-alert outcomes, plus code/message on errors. */
export interface WebhookBody {
  status?: string;
  received?: number;
  code?: string;
  message?: string;
  alerts: AlertResult[];
}

export async function post(
  url: string,
  payload: unknown,
  token = TOKEN,
): Promise<{ status: number; body: WebhookBody }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(payload),
  });
  return { status: res.status, body: (await res.json()) as WebhookBody };
}

export async function listRemediations(namespace: string): Promise<Remediation[]> {
  return (await remediations(testClients()).list(namespace)).items;
}

export async function runbookEvents(
  namespace: string,
  name: string,
): Promise<{ reason?: string; message?: string; type?: string }[]> {
  const list = await testClients().core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items;
}

export function outcomes(body: WebhookBody): string[] {
  return body.alerts.flatMap((a) => a.results.map((r) => r.outcome));
}

export function tally(list: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const x of list) t[x] = (t[x] ?? 0) + 1;
  return t;
}
