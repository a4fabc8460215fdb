/** Object builders for intake tests: a Runbook, an alert and a webhook payload with sane defaults. */
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import winston from 'winston';
import { makeClients, type KubeClients } from '../../../src/kube/client.js';
import { silentLogger, type Logger } from '../../../src/observability/logger.js';
import { MemoryEventRecorder } from '../../../src/observability/events.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { MemoryLimitStore } from '../../../src/stores/memory.js';
import { systemClock } from '../../../src/util/clock.js';
import type { WebhookServerDeps } from '../../../src/intake/server.js';
import type { Runbook, RunbookSpec } from '../../../src/api/v1alpha1/index.js';
import type { Config } from '../../../src/config/config.js';
import type { WebhookAlert, WebhookPayload } from '../../../src/intake/payload.js';

export function aRunbook(
  o: { name?: string; namespace?: string; ready?: boolean; spec?: Partial<RunbookSpec> } = {},
): Runbook {
  const namespace = o.namespace ?? 'shop';
  return {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name: o.name ?? 'restart-web', namespace, uid: 'uid-1' },
    spec: {
      triggers: [{ alertname: 'WebDown' }],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps: [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }],
      ...o.spec,
    },
    status:
      o.ready === false
        ? {
            conditions: [
              {
                type: 'Ready',
                status: 'False',
                reason: 'InvalidSpec',
                message: 'x',
                lastTransitionTime: '2026-01-01T00:00:00Z',
              },
            ],
          }
        : {
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Valid',
                message: 'ok',
                lastTransitionTime: '2026-01-01T00:00:00Z',
              },
            ],
          },
  };
}

export function anAlert(o: Partial<WebhookAlert> & { labels?: Record<string, string> } = {}): WebhookAlert {
  return {
    status: 'firing',
    startsAt: '2026-01-01T10:00:00.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    fingerprint: 'a1b2c3d4e5f60718',
    annotations: { summary: 'web is down' },
    ...o,
    labels: { alertname: 'WebDown', deployment: 'web', ...o.labels },
  };
}

export function aPayload(
  alerts: WebhookAlert[] = [anAlert()],
  extra: Record<string, unknown> = {},
): WebhookPayload & Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="WebDown"}',
    truncatedAlerts: 0,
    status: alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing',
    receiver: 'kube-remediator',
    groupLabels: { alertname: 'WebDown' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
    ...extra,
  };
}

export function webhookConfig(
  auth: Partial<Config['webhook']['auth']> = {},
  over: Partial<Config['webhook']> = {},
): Config['webhook'] {
  return {
    enabled: true,
    host: '127.0.0.1',
    port: 0,
    path: '/api/v1/alerts',
    bodyLimit: 1048576,
    auth: {
      disabled: false,
      bearerTokenFile: '',
      bearerToken: 's3cret-token',
      basicUsername: '',
      basicPasswordFile: '',
      basicPassword: '',
      allowQueryToken: false,
      ...auth,
    },
    tls: { certFile: '', keyFile: '', reloadInterval: '1m' },
    ...over,
  };
}

/** Clients for a server that does not exist (port 1 on loopback): for tests that must not reach an API. */
export function unreachableClients(port = 1): KubeClients {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'none', token: 'x' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return makeClients(kc);
}

/** A winston logger that keeps its records, to assert on warnings. */
export function recordingLogger(): {
  log: Logger;
  records: { level: string; message: string; [k: string]: unknown }[];
} {
  const records: { level: string; message: string }[] = [];
  const stream = new Writable({
    objectMode: true,
    write(chunk: { level: string; message: string }, _enc, cb) {
      records.push(chunk);
      cb();
    },
  });
  const log = winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Stream({ stream })],
  });
  return { log, records };
}

export interface DepsOptions {
  runbooks?: Runbook[];
  config?: Config['webhook'];
  clients?: KubeClients;
  log?: Logger;
}

/** Deps of buildWebhookServer for tests that never reach the API server. */
export function unitDeps(
  o: DepsOptions = {},
): WebhookServerDeps & { metrics: Metrics; events: MemoryEventRecorder } {
  return {
    clients: o.clients ?? unreachableClients(),
    runbooks: () => o.runbooks ?? [],
    store: new MemoryLimitStore(),
    metrics: createMetrics({ defaultMetrics: false }),
    log: o.log ?? silentLogger(),
    events: new MemoryEventRecorder(),
    clock: systemClock,
    config: o.config ?? webhookConfig(),
  };
}

/** The value of a metric sample, e.g. `counter(m.webhookRequests, {code: '401'})`. */
export async function counter(
  c: { get(): Promise<{ values: { labels: object; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const data = await c.get();
  const v = data.values.find((x) =>
    Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val),
  );
  return v?.value ?? 0;
}
