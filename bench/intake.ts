/**
 * `npm run bench:intake`: alerts per second through the Alertmanager webhook, on a real
 * control plane, with the memory, Redis and PostgreSQL stores, next to the API server's raw
 * create rate measured in the same run. A benchmark, not a test: it prints figures and the
 * targets, and never fails on a threshold.
 *
 * Each alert goes over HTTP (a listening server, bearer auth, JSON validation), is matched to
 * a Ready Runbook with `cooldown` and `maxPerHour` (so every new alert costs a cooldown claim
 * and a rate increment in the store) and becomes one Remediation.
 *
 * - new: distinct alerts (one target each), in Alertmanager-style groups; every one is a create.
 * - duplicates: the same alerts posted again, as Alertmanager does on every group change and
 *   repeat_interval; answered from the replica's memory of handled occurrences.
 * - duplicates (other replica): the same alerts posted to a fresh replica, which has to learn
 *   from the API server's 409 AlreadyExists.
 * - raw create: `createNamespacedCustomObject` of the same Remediation bodies with the same
 *   number of creates in flight, measured right before and right after each store's new
 *   alerts (mean of both), so the load of a shared machine weighs on both alike.
 *
 * Flags (or environment): --alerts N (BENCH_ALERTS, 1000 new alerts per store), --duplicates N
 * (BENCH_DUPLICATES, 20000), --group N (10 alerts per request), --senders N (16 requests in
 * flight), --concurrency N (32 creates in flight, the intake's alertConcurrency and the raw
 * rate's), --stores memory,redis,postgres, --redis-url, --postgres-url. With KUBECONFIG set and
 * --use-kubeconfig it uses that cluster instead of starting one.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Remediation, Runbook } from '../src/api/v1alpha1/index.js';
import { buildWebhookServer } from '../src/intake/server.js';
import { planRunbook } from '../src/intake/plan.js';
import type { WebhookAlert } from '../src/intake/payload.js';
import { makeClients, type KubeClients } from '../src/kube/client.js';
import { remediations, runbooks } from '../src/kube/resources.js';
import { KubeEventRecorder } from '../src/observability/events.js';
import { silentLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { FallbackStore, MemoryLimitStore, type LimitStore } from '../src/stores/index.js';
import { PostgresLimitStore } from '../src/stores/postgres.js';
import { RedisLimitStore } from '../src/stores/redis.js';
import { systemClock } from '../src/util/clock.js';
import { startCluster, type TestCluster } from '../tools/cluster/cluster.js';
import { installCrds } from '../tools/cluster/crds.js';

type StoreKind = 'memory' | 'redis' | 'postgres';
const TOKEN = 'bench-token';

interface Options {
  alerts: number;
  duplicates: number;
  group: number;
  senders: number;
  concurrency: number;
  stores: StoreKind[];
  redisUrl: string;
  postgresUrl: string;
  useKubeconfig: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      alerts: { type: 'string' },
      duplicates: { type: 'string' },
      group: { type: 'string' },
      senders: { type: 'string' },
      concurrency: { type: 'string' },
      stores: { type: 'string' },
      'redis-url': { type: 'string' },
      'postgres-url': { type: 'string' },
      'use-kubeconfig': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, env: string | undefined, def: number) => Number(v ?? env ?? def);
  return {
    alerts: int(values.alerts, process.env.BENCH_ALERTS, 1000),
    duplicates: int(values.duplicates, process.env.BENCH_DUPLICATES, 20000),
    group: int(values.group, undefined, 10),
    senders: int(values.senders, undefined, 16),
    concurrency: int(values.concurrency, undefined, 32),
    stores: (values.stores ?? 'memory,redis,postgres').split(',') as StoreKind[],
    redisUrl: values['redis-url'] ?? 'redis://127.0.0.1:6379/0',
    postgresUrl: values['postgres-url'] ?? 'postgres://postgres@127.0.0.1:5432/test',
    useKubeconfig: values['use-kubeconfig'] ?? false,
  };
}

const USAGE = `Usage: npm run bench:intake -- [options]   (environment variable and default in parentheses)

  --alerts N            new alerts per store (BENCH_ALERTS, 1000)
  --duplicates N        duplicate alerts posted per store (BENCH_DUPLICATES, 20000)
  --group N             alerts per webhook request (10)
  --senders N           webhook requests in flight (16)
  --concurrency N       creates in flight: the intake's alertConcurrency and the raw rate's (32)
  --stores LIST         stores to measure, comma-separated (memory,redis,postgres)
  --redis-url URL       Redis for the redis store (redis://127.0.0.1:6379/0)
  --postgres-url URL    PostgreSQL for the postgres store (postgres://postgres@127.0.0.1:5432/test)
  --use-kubeconfig      use the cluster of KUBECONFIG instead of starting one (off)
  -h, --help            print this and exit
`;

// ---------------------------------------------------------------------------------------

let seq = 0;
function alertFor(store: string, i: number): WebhookAlert {
  seq += 1;
  return {
    status: 'firing',
    labels: { alertname: 'BenchDown', deployment: `${store}-${i}`, namespace: 'bench', severity: 'page' },
    annotations: { summary: 'benchmark alert', runbook_url: 'https://example.com/runbooks/web' },
    startsAt: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up%3D%3D0',
    fingerprint: seq.toString(16).padStart(16, '0'),
  };
}

function payload(alerts: WebhookAlert[]): object {
  return {
    version: '4',
    groupKey: '{}:{alertname="BenchDown"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'kube-remediator',
    groupLabels: { alertname: 'BenchDown' },
    commonLabels: { alertname: 'BenchDown' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

/** Runs `tasks` with at most `n` in flight; returns the wall time in ms. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
  return performance.now() - started;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------------------

async function setUp(o: Options): Promise<{ clients: KubeClients; cluster?: TestCluster }> {
  if (o.useKubeconfig && process.env.KUBECONFIG) {
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    return { clients: makeClients(kc) };
  }
  process.stderr.write('starting a control plane...\n');
  const cluster = await startCluster({ controllerManager: false });
  await installCrds(cluster.kubeconfigPath);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return { clients: makeClients(kc), cluster };
}

async function createRunbook(clients: KubeClients, namespace: string): Promise<Runbook> {
  const api = runbooks(clients);
  await api.create(namespace, {
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name: 'bench', namespace },
    spec: {
      triggers: [{ alertname: 'BenchDown' }],
      params: [{ name: 'deployment', from: 'labels.deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps: [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }],
      safety: { cooldown: '1h', maxPerHour: 10000 },
    },
  });
  return api.patchStatus(namespace, 'bench', {
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Valid',
        message: 'bench',
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    ],
  });
}

/** Creates of Remediation bodies exactly as the intake builds them, `concurrency` in flight. */
async function rawCreateRate(
  clients: KubeClients,
  rb: Runbook,
  label: string,
  n: number,
  concurrency: number,
): Promise<number> {
  const bodies: Remediation[] = [];
  for (let i = 0; i < n; i++) {
    const plan = planRunbook(rb, alertFor(`raw-${label}`, i));
    if (plan.kind === 'create') bodies.push(plan.remediation);
  }
  const api = remediations(clients);
  const ns = rb.metadata.namespace!;
  const ms = await pool(bodies, concurrency, async (b) => {
    await api.create(ns, b);
  });
  return (bodies.length * 1000) / ms;
}

async function makeStore(kind: StoreKind, o: Options, runId: string): Promise<LimitStore> {
  const logger = silentLogger();
  if (kind === 'memory') return new MemoryLimitStore();
  const real =
    kind === 'redis'
      ? new RedisLimitStore({ url: o.redisUrl, keyPrefix: `kr-bench-${runId}:`, logger })
      : new PostgresLimitStore({ url: o.postgresUrl, logger, schema: `kr_bench_${runId}` });
  const store = await new FallbackStore(real, { logger, probeIntervalMs: 2000 }).start();
  if (store.inFallback)
    throw new Error(`${kind} at ${kind === 'redis' ? o.redisUrl : o.postgresUrl} cannot be reached`);
  return store;
}

interface Replica {
  url: string;
  close(): Promise<void>;
}

async function startReplica(
  clients: KubeClients,
  rb: Runbook,
  store: LimitStore,
  o: Options,
): Promise<Replica> {
  const log = silentLogger();
  const { app } = buildWebhookServer({
    clients,
    // The informer cache in the operator: an in-memory list.
    runbooks: () => [rb],
    store,
    metrics: createMetrics({ defaultMetrics: false }),
    log,
    events: new KubeEventRecorder(clients.core, log),
    clock: systemClock,
    alertConcurrency: o.concurrency,
    config: {
      enabled: true,
      host: '127.0.0.1',
      port: 0,
      path: '/api/v1/alerts',
      bodyLimit: 4 * 1024 * 1024,
      auth: {
        disabled: false,
        bearerToken: TOKEN,
        bearerTokenFile: '',
        basicUsername: '',
        basicPassword: '',
        basicPasswordFile: '',
        allowQueryToken: false,
      },
      tls: { certFile: '', keyFile: '', reloadInterval: '1m' },
    },
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `${address}/api/v1/alerts`, close: () => app.close() };
}

/** Posts the alerts in groups; returns alerts/s and the tally of outcomes. */
async function send(
  url: string,
  alerts: WebhookAlert[],
  o: Options,
): Promise<{ rate: number; outcomes: Record<string, number> }> {
  const outcomes: Record<string, number> = {};
  const groups = chunk(alerts, o.group);
  const ms = await pool(groups, o.senders, async (g) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(payload(g)),
    });
    const body = (await res.json()) as { alerts?: { results: { outcome: string }[] }[] };
    if (res.status !== 200) outcomes[`http_${res.status}`] = (outcomes[`http_${res.status}`] ?? 0) + g.length;
    for (const a of body.alerts ?? [])
      for (const r of a.results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  });
  return { rate: (alerts.length * 1000) / ms, outcomes };
}

function fmt(outcomes: Record<string, number>): string {
  return Object.entries(outcomes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

async function cleanUp(o: Options, runId: string): Promise<void> {
  if (o.stores.includes('redis')) {
    const redis = new Redis(o.redisUrl, { protocol: 2, maxRetriesPerRequest: 0 });
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `kr-bench-${runId}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
  if (o.stores.includes('postgres')) {
    const db = new pg.Client({ connectionString: o.postgresUrl });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS kr_bench_${runId} CASCADE`);
    await db.end();
  }
}

async function main(): Promise<void> {
  const o = parseOptions();
  const runId = randomBytes(4).toString('hex');
  const { clients, cluster } = await setUp(o);
  const namespace = `bench-intake-${runId}`;
  try {
    await clients.core.createNamespace({ body: { metadata: { name: namespace } } });
    const rb = await createRunbook(clients, namespace);

    // Warm up connections and the API server's caches.
    await rawCreateRate(clients, rb, 'warmup', 100, o.concurrency);

    const rows: {
      store: StoreKind;
      raw: number;
      fresh: number;
      dup: number;
      dup1: number;
      cold: number;
      notes: string;
    }[] = [];
    for (const kind of o.stores) {
      const store = await makeStore(kind, o, runId);
      const replica = await startReplica(clients, rb, store, o);
      const alerts = Array.from({ length: o.alerts }, (_x, i) => alertFor(kind, i));

      // The raw rate right before and right after, so a shared, noisy machine affects both alike.
      const rawBefore = await rawCreateRate(
        clients,
        rb,
        `${kind}-before`,
        Math.ceil(o.alerts / 2),
        o.concurrency,
      );
      const fresh = await send(replica.url, alerts, o);
      const rawAfter = await rawCreateRate(
        clients,
        rb,
        `${kind}-after`,
        Math.ceil(o.alerts / 2),
        o.concurrency,
      );
      const raw = (rawBefore + rawAfter) / 2;
      // Alertmanager's repeats of the same groups, as many as --duplicates.
      const repeats = Array.from({ length: o.duplicates }, (_x, i) => alerts[i % alerts.length]!);
      const dup = await send(replica.url, repeats, o);
      const dup1 = await send(replica.url, repeats.slice(0, Math.min(o.duplicates, 5000)), {
        ...o,
        group: 1,
      });
      await replica.close();

      // A replica that never saw these alerts: each duplicate is a create answered 409.
      const other = await startReplica(clients, rb, store, o);
      const cold = await send(other.url, alerts, o);
      await other.close();
      await store.close();

      rows.push({
        store: kind,
        raw,
        fresh: fresh.rate,
        dup: dup.rate,
        dup1: dup1.rate,
        cold: cold.rate,
        notes: `new: ${fmt(fresh.outcomes)}; dup: ${fmt(dup.outcomes)}; other replica: ${fmt(cold.outcomes)}`,
      });
      process.stderr.write(
        `${kind}: raw ${raw.toFixed(0)}/s, new ${fresh.rate.toFixed(0)}/s, duplicates ${dup.rate.toFixed(0)}/s\n`,
      );
    }

    const n = (v: number) => v.toFixed(0);
    console.log(
      `\nIntake benchmark: ${o.alerts} new alerts and ${o.duplicates} duplicates per store, groups of ${o.group}, ${o.senders} requests in flight, ${o.concurrency} creates in flight`,
    );
    console.log(
      `machine: ${cpus().length} cores, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}${cluster ? '; own control plane (etcd + kube-apiserver v1.20)' : ''}`,
    );
    console.log(
      `raw create: createNamespacedCustomObject of the same bodies, ${o.concurrency} in flight, measured right before and after each store's new alerts (mean)\n`,
    );
    console.log(
      table([
        [
          'store',
          'raw creates/s',
          'new alerts/s',
          'new / raw',
          'duplicates/s',
          'duplicates/s (1 per request)',
          'duplicates/s (other replica, 409)',
        ],
        ...rows.map((r) => [
          r.store,
          n(r.raw),
          n(r.fresh),
          (r.fresh / r.raw).toFixed(2),
          n(r.dup),
          n(r.dup1),
          n(r.cold),
        ]),
      ]),
    );
    console.log(
      '\ntargets: duplicates >= 2000 alerts/s with the memory store; new alerts >= 0.8 x raw create rate',
    );
    const mem = rows.find((r) => r.store === 'memory');
    if (mem) {
      console.log(`  duplicates (memory): ${n(mem.dup)}/s ${mem.dup >= 2000 ? 'MET' : 'NOT MET'}`);
      for (const r of rows)
        console.log(
          `  new (${r.store}): ${(r.fresh / r.raw).toFixed(2)} x raw ${r.fresh >= 0.8 * r.raw ? 'MET' : 'NOT MET'}`,
        );
    }
    console.log('\noutcomes:');
    for (const r of rows) console.log(`  ${r.store}: ${r.notes}`);
  } finally {
    await cleanUp(o, runId).catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`));
    if (cluster) await cluster.stop();
    else await clients.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
