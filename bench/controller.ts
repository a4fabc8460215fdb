/**
 * `npm run bench:controller`: figures of the Remediation controller on a real control plane.
 * A benchmark, not a test: it prints figures and targets, and never fails on a threshold.
 *
 * It starts its own cluster (etcd + kube-apiserver + kube-controller-manager, fake kubelet),
 * installs the CRDs and runs the operator as a separate process with leader election on, then:
 *
 * 1. Latency: Remediation created -> its first action (a rolloutRestart) visible on the target,
 *    seen by a watch in this process, p50/p99; next to it a raw merge PATCH round trip measured
 *    interleaved with the Remediations on the same cluster.
 * 2. Memory: the operator's RSS with `--objects` Remediations present (finished ones).
 * 3. Idle API requests per minute: a second operator process talks to the API server through a
 *    counting HTTPS proxy; once it is idle, every new request is counted for `--idle-seconds`.
 *
 * Flags (or environment): --remediations N (BENCH_REMEDIATIONS, 200), --warmup N (10),
 * --objects N (BENCH_OBJECTS, 10000), --idle-seconds N (BENCH_IDLE_SECONDS, 60), --targets N
 * (10), --interval-ms N (200), --replicas N (1), --concurrency N (32), --build auto|always|never
 * (auto), --no-docs. 0 objects or 0 idle seconds skips that part.
 */
import { execa } from 'execa';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { ANNOTATIONS, RESOURCES } from '../src/api/v1alpha1/constants.js';
import { kubeconfigYaml, freePort, startCluster, type TestCluster } from '../tools/cluster/cluster.js';
import { installCrds, REPO_ROOT } from '../tools/cluster/crds.js';
import { startFakeKubelet, type FakeKubelet } from '../tools/cluster/fake-kubelet.js';
import { OPERATOR_ENTRY, startOperator, type OperatorProcess } from '../test/support/operator.js';
import { breakdown, CountingProxy, type RecordedRequest } from './lib/counting-proxy.js';
import { writeSection } from './lib/docs.js';
import {
  API_VERSION,
  deploymentBody,
  keepAlivePatcher,
  kubeConfigFrom,
  MERGE_PATCH,
  pool,
  waitUntil,
  watchPath,
  withRetry,
  type WatchHandle,
} from './lib/kube.js';
import { procCpuSeconds, procMemory } from './lib/procfs.js';
import { scrape, sum } from './lib/prom.js';
import { markdownTable, mb, ms, summarize, table, type Summary } from './lib/stats.js';

// ---------------------------------------------------------------------------------------
// options

interface Options {
  remediations: number;
  warmup: number;
  objects: number;
  idleSeconds: number;
  targets: number;
  intervalMs: number;
  replicas: number;
  concurrency: number;
  build: 'auto' | 'always' | 'never';
  docs: boolean;
  trace: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      remediations: { type: 'string' },
      warmup: { type: 'string' },
      objects: { type: 'string' },
      'idle-seconds': { type: 'string' },
      targets: { type: 'string' },
      'interval-ms': { type: 'string' },
      replicas: { type: 'string' },
      concurrency: { type: 'string' },
      build: { type: 'string' },
      'no-docs': { type: 'boolean' },
      trace: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (flag: string | undefined, env: string, def: number, min = 0): number => {
    const raw = flag ?? process.env[env];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`${env.toLowerCase()}: expected an integer >= ${min}, got ${raw}`);
    return n;
  };
  const build = values.build ?? process.env.BENCH_BUILD ?? 'auto';
  if (build !== 'auto' && build !== 'always' && build !== 'never')
    throw new Error(`--build: auto, always or never, got ${build}`);
  return {
    remediations: int(values.remediations, 'BENCH_REMEDIATIONS', 200, 1),
    warmup: int(values.warmup, 'BENCH_WARMUP', 10),
    objects: int(values.objects, 'BENCH_OBJECTS', 10_000),
    idleSeconds: int(values['idle-seconds'], 'BENCH_IDLE_SECONDS', 60),
    targets: int(values.targets, 'BENCH_TARGETS', 10, 1),
    intervalMs: int(values['interval-ms'], 'BENCH_INTERVAL_MS', 200, 10),
    replicas: int(values.replicas, 'BENCH_REPLICAS', 1),
    concurrency: int(values.concurrency, 'BENCH_CONCURRENCY', 32, 1),
    build,
    docs: !values['no-docs'] && process.env.BENCH_NO_DOCS === undefined,
    trace: values.trace === true || process.env.BENCH_TRACE !== undefined,
  };
}

/** The highest history limit the config allows (retention.*HistoryLimit). */
const RETENTION_LIMIT = 10_000;
const USAGE = `Usage: npm run bench:controller -- [options]   (each option also as an environment variable)

  --remediations N   Remediations measured for latency (BENCH_REMEDIATIONS, default 200)
  --warmup N         extra Remediations first, not measured (BENCH_WARMUP, 10)
  --objects N        Remediations present for the memory figure; 0 skips it (BENCH_OBJECTS, 10000)
  --idle-seconds N   how long idle requests are counted; 0 skips it (BENCH_IDLE_SECONDS, 60)
  --targets N        Deployments the Remediations are spread over (BENCH_TARGETS, 10)
  --interval-ms N    time between two Remediations (BENCH_INTERVAL_MS, 200)
  --replicas N       replicas of each target Deployment (BENCH_REPLICAS, 1)
  --concurrency N    creates in flight for the memory part (BENCH_CONCURRENCY, 32)
  --build MODE       auto (build when src/ is newer than dist/), always, never (BENCH_BUILD, auto)
  --no-docs          do not write docs/benchmarks.md (BENCH_NO_DOCS)
  --trace            diagnosis: operator A also goes through the counting proxy (adds a hop to
                     the latency) and its API requests during the latency run are listed (BENCH_TRACE)

  The operator gets KR_TARGET_CACHE from the environment when set: KR_TARGET_CACHE=false runs it
  without the target cache, for an A/B of plan()'s GET.
`;

// ---------------------------------------------------------------------------------------
// progress, cleanup

const T0 = performance.now();
function log(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

const cleanups: { what: string; fn: () => Promise<void> | void }[] = [];
function onCleanup(what: string, fn: () => Promise<void> | void): void {
  cleanups.push({ what, fn });
}
async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c.fn();
    } catch (err) {
      log(`cleanup of ${c.what} failed: ${String(err)}`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping every process started by the benchmark`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------
// build

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

async function ensureBuilt(mode: Options['build']): Promise<void> {
  if (mode === 'never') {
    if (!existsSync(OPERATOR_ENTRY))
      throw new Error(`${OPERATOR_ENTRY} missing: run npm run build (or --build auto)`);
    return;
  }
  const stale =
    !existsSync(OPERATOR_ENTRY) || newestMtime(join(REPO_ROOT, 'src')) > statSync(OPERATOR_ENTRY).mtimeMs;
  if (mode === 'auto' && !stale) return;
  log('building the operator (npm run build)');
  const res = await execa('npm', ['run', 'build'], { cwd: REPO_ROOT, reject: false, all: true });
  if (res.exitCode !== 0) {
    if (!existsSync(OPERATOR_ENTRY)) throw new Error(`npm run build failed:\n${res.all ?? ''}`);
    log(
      `npm run build failed; benchmarking the existing dist/ instead:\n${(res.all ?? '').split('\n').slice(-15).join('\n')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// the operator process

interface RunningOperator {
  label: string;
  proc: OperatorProcess;
  probes: string;
}

async function launchOperator(label: string, kubeconfigPath: string): Promise<RunningOperator> {
  const probesPort = await freePort();
  const proc = startOperator({
    env: {
      KUBECONFIG: kubeconfigPath,
      // Production settings: all namespaces, leader election with the default timings
      // (15s/10s/2s), memory store, audit off, the webhook served.
      KR_LEADER_ELECTION: 'true',
      KR_LEADER_IDENTITY: label,
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(probesPort),
      KR_WEBHOOK_HOST: '127.0.0.1',
      KR_WEBHOOK_PORT: '0',
      KR_WEBHOOK_BEARER_TOKEN: 'bench-token',
      // The memory figure is taken with --objects finished Remediations present: retention
      // (ADR 0022) must not delete them meanwhile, nor add its deletes to the request counts.
      KR_RETENTION_SUCCESSFUL_HISTORY_LIMIT: String(RETENTION_LIMIT),
      KR_RETENTION_FAILED_HISTORY_LIMIT: String(RETENTION_LIMIT),
      // For diagnosis, e.g. BENCH_OPERATOR_NODE_OPTIONS="--import $PWD/bench/lib/cpu-profile-hook.mjs".
      ...(process.env.BENCH_OPERATOR_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_OPERATOR_NODE_OPTIONS }
        : {}),
      // The diagnosis hooks' settings (bench/lib/*-hook.mjs), and KR_TARGET_CACHE for an A/B.
      ...Object.fromEntries(
        ['CPU_PROFILE_DIR', 'CPU_PROFILE_SECONDS', 'REQUEST_TRACE_DIR', 'KR_TARGET_CACHE'].flatMap((k) => {
          const v = process.env[k];
          return v ? [[k, v]] : [];
        }),
      ),
    },
  });
  const op: RunningOperator = { label, proc, probes: `http://127.0.0.1:${probesPort}` };
  onCleanup(`operator ${label} (pid ${proc.pid})`, () => stopOperator(op));
  let exited = false;
  void proc.exited.then(() => (exited = true));
  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error('operator exited');
        const metrics = await scrape(op.probes);
        return sum(metrics, 'leader_election_master_status') === 1 && (await fetch(`${op.probes}/readyz`)).ok;
      },
      `operator ${label} ready and leading`,
      120_000,
      250,
    );
  } catch (err) {
    throw new Error(`${String(err)}\nlast operator log lines:\n${proc.logs().slice(-20).join('\n')}`);
  }
  log(`operator ${label} (pid ${proc.pid}) is ready and holds the Lease`);
  return op;
}

async function stopOperator(op: RunningOperator): Promise<void> {
  let done = false;
  void op.proc.exited.then(() => (done = true));
  await sleep(0);
  if (done) return;
  op.proc.kill('SIGTERM');
  const timedOut = await Promise.race([op.proc.exited.then(() => false), sleep(25_000).then(() => true)]);
  if (timedOut) {
    op.proc.kill('SIGKILL');
    await op.proc.exited;
  }
}

/**
 * Waits until the operator has reconciled at least `expected` Remediations (its phase gauge
 * counts every one it has seen), both queues are empty and no reconcile ran for `quietMs`.
 */
async function waitIdle(
  op: RunningOperator,
  expected: number,
  what: string,
  timeoutMs: number,
  quietMs = 3000,
): Promise<void> {
  let lastTotal = -1;
  let quietSince = performance.now();
  let lastReport = performance.now();
  await waitUntil(
    async () => {
      const m = await scrape(op.probes);
      const seen = sum(m, 'kube_remediator_remediations');
      const depth = sum(m, 'workqueue_depth');
      const total = sum(m, 'controller_runtime_reconcile_total');
      const now = performance.now();
      if (total !== lastTotal) {
        lastTotal = total;
        quietSince = now;
      }
      if (now - lastReport > 15_000) {
        lastReport = now;
        log(
          `  ${what}: operator has seen ${seen}/${expected} Remediations, queue depth ${depth}, ${total} reconciles so far`,
        );
      }
      return seen >= expected && depth === 0 && now - quietSince >= quietMs;
    },
    what,
    timeoutMs,
    500,
  );
}

// ---------------------------------------------------------------------------------------
// objects

function runbook(namespace: string, name: string): unknown {
  return {
    apiVersion: API_VERSION,
    kind: RESOURCES.runbook.kind,
    metadata: { name, namespace },
    spec: {
      description: 'kube-remediator benchmark: restart a Deployment',
      params: [{ name: 'deployment' }],
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
      steps: [{ name: 'restart', action: 'rolloutRestart', rolloutRestart: {} }],
    },
  };
}

function remediation(
  namespace: string,
  name: string,
  runbookName: string,
  deployment: string,
  annotations?: Record<string, string>,
): object {
  return {
    apiVersion: API_VERSION,
    kind: RESOURCES.remediation.kind,
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: { runbookRef: { name: runbookName }, params: { deployment } },
  };
}

const NS = 'bench';
const LAT_RUNBOOK = 'bench-restart';
const BULK_RUNBOOK = 'bench-bulk';
const PING = 'ping';

interface Ctx {
  opts: Options;
  cluster: TestCluster;
  kc: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  apps: k8s.AppsV1Api;
}

const REM = {
  group: 'kube-remediator.io',
  version: 'v1alpha1',
  namespace: NS,
  plural: RESOURCES.remediation.plural,
};

// ---------------------------------------------------------------------------------------
// 1. latency

interface LatencyResult {
  measured: number;
  missing: number;
  e2e: Summary;
  e2eFromSend: Summary;
  toCheckpoint: Summary;
  checkpointToVisible: Summary;
  createRtt: Summary;
  /** Raw merge PATCH through client-node, which opens a new TCP+TLS connection per request. */
  rawPatch: Summary;
  /** The same PATCH over a kept-alive connection: the reference for the target. */
  rawPatchKeepAlive: Summary;
  phases: Record<string, number>;
  seconds: number;
  /** Reconcile passes during the latency run, by controller and result (operator metrics). */
  passes: Record<string, number>;
  /** With --trace: the operator's API requests during the latency run. */
  requests?: { key: string; count: number }[];
}

async function latencyPhase(c: Ctx, op: RunningOperator, proxy?: CountingProxy): Promise<LatencyResult> {
  const { opts } = c;
  const before = await scrape(op.probes);
  const traceFrom = performance.now();
  const total = opts.warmup + opts.remediations;
  interface Rec {
    name: string;
    uid: string;
    sent: number;
    created: number;
    warm: boolean;
  }
  const recs: Rec[] = [];
  const visible = new Map<string, number>();
  const checkpoint = new Map<string, number>();
  const watches: WatchHandle[] = [];
  // The target side: the first event whose pod template carries this Remediation's stamp.
  watches.push(
    await watchPath(
      c.kc,
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      (_type, obj, at) => {
        const d = obj as k8s.V1Deployment;
        const stamp = d.spec?.template.metadata?.annotations?.[ANNOTATIONS.lastAction];
        if (!stamp) return;
        const uid = stamp.split('/')[0]!;
        if (!visible.has(uid)) visible.set(uid, at);
      },
      log,
    ),
  );
  // The controller side: the checkpoint (step 1 Running) written before the action.
  watches.push(
    await watchPath(
      c.kc,
      `/apis/kube-remediator.io/v1alpha1/namespaces/${NS}/remediations`,
      (_type, obj, at) => {
        const r = obj as { metadata?: { uid?: string }; status?: { steps?: { phase?: string }[] } };
        const uid = r.metadata?.uid;
        if (!uid || checkpoint.has(uid)) return;
        if (r.status?.steps?.[0]?.phase && r.status.steps[0].phase !== 'Pending') checkpoint.set(uid, at);
      },
      log,
    ),
  );
  const rawPatch: number[] = [];
  const rawPatchKeepAlive: number[] = [];
  const patcher = keepAlivePatcher(c.cluster.server, c.cluster.token);
  const pingPath = `/apis/apps/v1/namespaces/${NS}/deployments/${PING}`;
  const pingBody = (i: number, via: string) => ({
    metadata: { annotations: { [`bench.kube-remediator.io/ping-${via}`]: String(i) } },
  });
  await patcher.patch(pingPath, pingBody(-1, 'keepalive')); // opens the connection
  log(
    `latency: ${total} Remediations (${opts.warmup} warm-up) on ${opts.targets} Deployments, one every ${opts.intervalMs} ms; ` +
      `a raw PATCH half-way between two`,
  );
  const start = performance.now() + 200;
  for (let i = 0; i < total; i++) {
    const slot = start + i * opts.intervalMs;
    await sleep(Math.max(0, slot - performance.now()));
    const name = `lat-${String(i).padStart(4, '0')}`;
    const sent = performance.now();
    const created = (await c.custom.createNamespacedCustomObject({
      ...REM,
      body: remediation(NS, name, LAT_RUNBOOK, `t-${i % opts.targets}`),
    })) as { metadata: { uid: string } };
    recs.push({ name, uid: created.metadata.uid, sent, created: performance.now(), warm: i < opts.warmup });
    await sleep(Math.max(0, slot + opts.intervalMs / 2 - performance.now()));
    // Both raw PATCHes, in alternating order so that neither always goes first.
    const viaClientNode = async (): Promise<number> => {
      const ps = performance.now();
      await c.apps.patchNamespacedDeployment(
        { name: PING, namespace: NS, body: pingBody(i, 'client-node') },
        MERGE_PATCH,
      );
      return performance.now() - ps;
    };
    const viaKeepAlive = (): Promise<number> => patcher.patch(pingPath, pingBody(i, 'keepalive'));
    let cn: number;
    let ka: number;
    if (i % 2) {
      cn = await viaClientNode();
      ka = await viaKeepAlive();
    } else {
      ka = await viaKeepAlive();
      cn = await viaClientNode();
    }
    if (i >= opts.warmup) {
      rawPatch.push(cn);
      rawPatchKeepAlive.push(ka);
    }
    if ((i + 1) % 50 === 0) log(`  created ${i + 1}/${total}`);
  }
  const seconds = (performance.now() - start) / 1000;
  try {
    await waitUntil(() => recs.every((r) => visible.has(r.uid)), 'every restart to be visible', 60_000, 100);
  } catch {
    log(`  ${recs.filter((r) => !visible.has(r.uid)).length} restarts not visible after 60 s`);
  }
  for (const w of watches) w.stop();
  patcher.close();
  await waitIdle(op, total, 'operator idle after the latency run', 120_000);
  const after = await scrape(op.probes);
  const passes: Record<string, number> = {};
  for (const s of after) {
    if (s.name !== 'controller_runtime_reconcile_total') continue;
    const d = s.value - sum(before, s.name, s.labels);
    if (d > 0) passes[`${s.labels.controller}/${s.labels.result}`] = d;
  }
  const requests = proxy ? breakdown(proxy.between(traceFrom)) : undefined;

  const measured = recs.filter((r) => !r.warm);
  const seen = measured.filter((r) => visible.has(r.uid));
  // Diagnosis: each Remediation's times as wall-clock ms, to line up with the operator's
  // request trace (bench/lib/request-trace-hook.mjs, bench/lib/explain-latency.ts).
  const samplesFile = process.env.BENCH_SAMPLES_FILE;
  if (samplesFile) {
    const wall = (t: number | undefined): number | null =>
      t === undefined ? null : performance.timeOrigin + t;
    const rows = measured.map((r) =>
      JSON.stringify({
        name: r.name,
        uid: r.uid,
        sent: wall(r.sent),
        created: wall(r.created),
        checkpoint: wall(checkpoint.get(r.uid)),
        visible: wall(visible.get(r.uid)),
      }),
    );
    writeFileSync(samplesFile, rows.join('\n') + '\n');
  }
  const withCp = seen.filter((r) => checkpoint.has(r.uid));
  const list = (await c.custom.listNamespacedCustomObject({ ...REM })) as {
    items: { metadata: { name: string }; status?: { phase?: string } }[];
  };
  const phases: Record<string, number> = {};
  for (const r of list.items) {
    if (!r.metadata.name.startsWith('lat-')) continue;
    const p = r.status?.phase ?? '(none)';
    phases[p] = (phases[p] ?? 0) + 1;
  }
  return {
    measured: measured.length,
    missing: measured.length - seen.length,
    e2e: summarize(seen.map((r) => visible.get(r.uid)! - r.created)),
    e2eFromSend: summarize(seen.map((r) => visible.get(r.uid)! - r.sent)),
    toCheckpoint: summarize(withCp.map((r) => checkpoint.get(r.uid)! - r.created)),
    checkpointToVisible: summarize(withCp.map((r) => visible.get(r.uid)! - checkpoint.get(r.uid)!)),
    createRtt: summarize(measured.map((r) => r.created - r.sent)),
    rawPatch: summarize(rawPatch),
    rawPatchKeepAlive: summarize(rawPatchKeepAlive),
    phases,
    seconds,
    passes,
    ...(requests ? { requests } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// 2. memory

interface MemoryResult {
  rss: number;
  rssMax: number;
  hwm: number;
  metricRss: number;
  heapUsed: number;
}

async function memorySample(op: RunningOperator, samples = 5): Promise<MemoryResult> {
  const rss: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(1000);
    rss.push(procMemory(op.proc.pid).rss);
  }
  const m = await scrape(op.probes);
  return {
    rss: rss[rss.length - 1]!,
    rssMax: Math.max(...rss),
    hwm: procMemory(op.proc.pid).hwm,
    metricRss: sum(m, 'process_resident_memory_bytes'),
    heapUsed: sum(m, 'nodejs_heap_size_used_bytes'),
  };
}

/**
 * A finished Remediation's status, as the operator itself wrote it: one Remediation annotated
 * rejected-by, reconciled by operator A. The bulk objects get a copy, so they are final
 * (Skipped) from the start and a reconcile pass finds nothing to write.
 */
async function finishedStatus(c: Ctx): Promise<Record<string, unknown>> {
  await c.custom.createNamespacedCustomObject({
    ...REM,
    body: remediation(NS, 'bulk-template', BULK_RUNBOOK, 't-0', { [ANNOTATIONS.rejectedBy]: 'bench' }),
  });
  return waitUntil(
    async () => {
      const r = (await c.custom.getNamespacedCustomObject({ ...REM, name: 'bulk-template' })) as {
        status?: Record<string, unknown>;
      };
      return r.status?.phase === 'Skipped' ? r.status : undefined;
    },
    'the template Remediation to be Skipped',
    60_000,
  );
}

/**
 * Creates `--objects` Remediations while no operator runs, each with a copy of a finished
 * status (create, then PATCH status: the API server drops status on create).
 */
async function bulkCreate(c: Ctx, status: Record<string, unknown>): Promise<number> {
  const { opts } = c;
  log(
    `memory: creating ${opts.objects} finished (Skipped) Remediations, ${opts.concurrency} at a time, while no operator runs`,
  );
  const t0 = performance.now();
  let done = 0;
  await pool(opts.objects, opts.concurrency, async (i) => {
    const name = `bulk-${String(i).padStart(5, '0')}`;
    await withRetry(() =>
      c.custom.createNamespacedCustomObject({
        ...REM,
        body: remediation(NS, name, BULK_RUNBOOK, 't-0', { [ANNOTATIONS.rejectedBy]: 'bench' }),
      }),
    );
    await withRetry(() =>
      c.custom.patchNamespacedCustomObjectStatus({ ...REM, name, body: { status } }, MERGE_PATCH),
    );
    if (++done % 2000 === 0) log(`  created ${done}/${opts.objects}`);
  });
  const seconds = (performance.now() - t0) / 1000;
  log(`  created ${opts.objects} in ${seconds.toFixed(1)} s`);
  return seconds;
}

// ---------------------------------------------------------------------------------------
// 3. idle requests

interface IdleResult {
  objects: number;
  createSeconds: number;
  /** Right after the start's reconciles: includes the start's garbage not yet collected. */
  memory: MemoryResult;
  /** At the end of the idle window: the steady state the target is judged on. */
  memoryAfterIdle?: MemoryResult;
  /** The operator's heap compaction after the start's burst (ADR 9), as the log told it. */
  compaction?: string;
  seconds: number;
  perMinute: number;
  leasePerMinute: number;
  watchOpens: number;
  other: number;
  breakdown: { key: string; count: number }[];
  cpuPercent: number;
  startupSeconds: number;
  startupRequests: number;
  startupBreakdown: { key: string; count: number }[];
}

/** The operator's "heap compacted" log line (HeapCompactor), in words. */
function compactionOf(lines: string[]): string | undefined {
  const line = lines.find((l) => l.includes('heap compacted'));
  if (!line) return undefined;
  try {
    const f = JSON.parse(line) as Record<string, number | string>;
    return (
      `heap compacted once the start's work settled (${f.objects} objects listed or reconciled): ` +
      `heap used ${f.heapUsedBeforeMb} -> ${f.heapUsedMb} MB in ${f.durationMs} ms at ${f.timestamp}`
    );
  } catch {
    return line;
  }
}

function proxyKubeconfig(c: Ctx, proxy: CountingProxy): string {
  const path = join(c.cluster.dir, 'kubeconfig-via-proxy');
  writeFileSync(path, kubeconfigYaml(proxy.url, c.cluster.token), { mode: 0o600 });
  return path;
}

const isLease = (r: RecordedRequest): boolean =>
  r.path.includes('/apis/coordination.k8s.io/') && r.path.includes('/leases/');

async function operatorBPhase(
  c: Ctx,
  proxy: CountingProxy,
  expectedTotal: number,
  createSeconds: number,
): Promise<IdleResult> {
  const { opts } = c;
  const kubeconfigPath = proxyKubeconfig(c, proxy);
  const t0 = performance.now();
  log(`idle: starting operator B through the counting proxy (${proxy.url})`);
  const op = await launchOperator('bench-b', kubeconfigPath);
  await waitIdle(op, expectedTotal, 'operator B idle after start', 20 * 60_000, 5000);
  const t1 = performance.now();
  const startup = proxy.between(t0, t1);
  log(
    `  operator B idle after ${((t1 - t0) / 1000).toFixed(1)} s and ${startup.length} API requests; measuring memory, then counting for ${opts.idleSeconds} s`,
  );
  const memory = await memorySample(op);
  log(`  operator B: VmRSS ${mb(memory.rss)} (peak ${mb(memory.hwm)}), V8 heap used ${mb(memory.heapUsed)}`);
  const cpu0 = procCpuSeconds(op.proc.pid);
  const w0 = performance.now();
  await sleep(opts.idleSeconds * 1000);
  const w1 = performance.now();
  const cpu1 = procCpuSeconds(op.proc.pid);
  const reqs = proxy.between(w0, w1);
  const memoryAfterIdle = opts.idleSeconds > 0 ? await memorySample(op) : undefined;
  const compaction = compactionOf(op.proc.logs());
  log(`  operator B: ${compaction ?? 'no heap compaction logged'}`);
  if (memoryAfterIdle)
    log(
      `  operator B after ${opts.idleSeconds} s idle: VmRSS ${mb(memoryAfterIdle.rss)}, V8 heap used ${mb(memoryAfterIdle.heapUsed)}`,
    );
  const minutes = (w1 - w0) / 60_000;
  const lease = reqs.filter(isLease);
  const watchOpens = reqs.filter((r) => !isLease(r) && r.watch).length;
  await stopOperator(op);
  return {
    objects: opts.objects,
    createSeconds,
    memory,
    ...(memoryAfterIdle ? { memoryAfterIdle } : {}),
    ...(compaction ? { compaction } : {}),
    seconds: (w1 - w0) / 1000,
    perMinute: reqs.length / minutes,
    leasePerMinute: lease.length / minutes,
    watchOpens,
    other: reqs.length - lease.length - watchOpens,
    breakdown: breakdown(reqs),
    cpuPercent: ((cpu1 - cpu0) / ((w1 - w0) / 1000)) * 100,
    startupSeconds: (t1 - t0) / 1000,
    startupRequests: startup.length,
    startupBreakdown: breakdown(startup),
  };
}

// ---------------------------------------------------------------------------------------
// main

async function setup(opts: Options): Promise<{ ctx: Ctx; kubelet: FakeKubelet }> {
  log('starting the control plane (etcd, kube-apiserver, kube-controller-manager)');
  const cluster = await startCluster();
  onCleanup(`cluster (pids ${cluster.pids.join(', ')})`, () => cluster.stop());
  await installCrds(cluster.kubeconfigPath);
  const kc = kubeConfigFrom(cluster.kubeconfigPath);
  const ctx: Ctx = {
    opts,
    cluster,
    kc,
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    apps: kc.makeApiClient(k8s.AppsV1Api),
  };
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  const kubelet = startFakeKubelet(kc, { namespace: NS });
  onCleanup('fake kubelet', () => kubelet.stop());
  for (let i = 0; i < opts.targets; i++) {
    await ctx.apps.createNamespacedDeployment({
      namespace: NS,
      body: deploymentBody(`t-${i}`, opts.replicas),
    });
  }
  await ctx.apps.createNamespacedDeployment({ namespace: NS, body: deploymentBody(PING, 0) });
  for (const name of [LAT_RUNBOOK, BULK_RUNBOOK]) {
    await ctx.custom.createNamespacedCustomObject({
      group: 'kube-remediator.io',
      version: 'v1alpha1',
      namespace: NS,
      plural: RESOURCES.runbook.plural,
      body: runbook(NS, name),
    });
  }
  if (opts.replicas > 0) {
    await waitUntil(
      async () => {
        const list = await ctx.apps.listNamespacedDeployment({ namespace: NS });
        return list.items
          .filter((d) => d.metadata?.name !== PING)
          .every((d) => (d.status?.readyReplicas ?? 0) >= opts.replicas);
      },
      'target Deployments ready',
      120_000,
    );
  }
  return { ctx, kubelet };
}

async function runbooksReady(c: Ctx): Promise<void> {
  await waitUntil(
    async () => {
      for (const name of [LAT_RUNBOOK, BULK_RUNBOOK]) {
        const rb = (await c.custom.getNamespacedCustomObject({
          group: 'kube-remediator.io',
          version: 'v1alpha1',
          namespace: NS,
          plural: RESOURCES.runbook.plural,
          name,
        })) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
        const ready = rb.status?.conditions?.find((x) => x.type === 'Ready');
        if (ready?.status === 'False') throw new Error(`runbook ${name} invalid: ${ready.message ?? ''}`);
        if (ready?.status !== 'True') return false;
      }
      return true;
    },
    'benchmark Runbooks Ready',
    60_000,
  );
}

interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  node: string;
  loadBefore: string;
  loadAfter: string;
}

function loadText(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function report(
  opts: Options,
  machine: Machine,
  lat: LatencyResult,
  idle: IdleResult | undefined,
  totalSeconds: number,
): { text: string; markdown: string } {
  const ref = lat.rawPatchKeepAlive;
  const ratio = lat.e2e.p50 / ref.p50;
  const ratioCn = lat.e2e.p50 / lat.rawPatch.p50;
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const rows: string[][] = [['figure', 'value', 'target', 'result']];
  rows.push([
    `Remediation -> first action visible, p50 (n=${lat.e2e.n})`,
    ms(lat.e2e.p50),
    `<= 4x raw PATCH p50 (${ms(4 * ref.p50)})`,
    met(ratio <= 4),
  ]);
  rows.push([
    `Remediation -> first action visible, p99`,
    ms(lat.e2e.p99),
    '<= 60 ms',
    met(lat.e2e.p99 <= 60),
  ]);
  rows.push([
    `raw PATCH round trip p50 / p99 (n=${ref.n}, kept-alive connection)`,
    `${ms(ref.p50)} / ${ms(ref.p99)}`,
    '',
    '',
  ]);
  rows.push([
    `raw PATCH via client-node p50 / p99 (new TLS connection each)`,
    `${ms(lat.rawPatch.p50)} / ${ms(lat.rawPatch.p99)}`,
    '',
    '',
  ]);
  rows.push([
    'ratio of p50s (Remediation / raw PATCH)',
    `${ratio.toFixed(1)}x (${ratioCn.toFixed(1)}x vs client-node's)`,
    '<= 4x',
    met(ratio <= 4),
  ]);
  if (idle && idle.objects > 0) {
    const steady = idle.memoryAfterIdle ?? idle.memory;
    rows.push([
      `operator RSS with ${idle.objects.toLocaleString('en-US')} Remediations (+${lat.measured + opts.warmup + 1} others), ` +
        (idle.memoryAfterIdle ? `after ${idle.seconds.toFixed(0)} s idle` : 'once idle'),
      `${mb(steady.rss)}${idle.memoryAfterIdle ? ` (${mb(idle.memory.rss)} right after the start's reconciles)` : ''}`,
      '<= 150 MB',
      met(steady.rss <= 150 * 1024 * 1024),
    ]);
  }
  if (idle && idle.seconds > 0) {
    const onlyLease = idle.other === 0;
    rows.push([
      `idle API requests per minute (over ${idle.seconds.toFixed(0)} s)`,
      `${idle.perMinute.toFixed(1)}/min (${idle.leasePerMinute.toFixed(1)} lease, ${idle.watchOpens} watch re-opens, ${idle.other} other)`,
      'lease renewals only',
      met(onlyLease),
    ]);
  }

  const lines: string[] = [];
  lines.push('Latency');
  lines.push(
    `  ${lat.measured} Remediations measured (after ${opts.warmup} warm-up) on ${opts.targets} Deployments of ${opts.replicas} replica(s), one created every ` +
      `${opts.intervalMs} ms, round-robin over the Deployments (each one gets a Remediation every ${((opts.targets * opts.intervalMs) / 1000).toFixed(1)} s, ` +
      'long after the previous one finished): neither the per-target lock nor the cluster budget holds one back, so this is the ' +
      'pipeline latency of one Remediation, not queueing. Runbook: one rolloutRestart step.',
  );
  lines.push(
    '  "visible" = the first watch event in the benchmark process whose pod template carries the Remediation\'s stamp; ' +
      '"created" = the create call returned. The raw PATCH (merge patch of an annotation on another Deployment) is sent ' +
      'half-way between two Remediations, twice: over a kept-alive connection (the reference) and through client-node as the operator sends it.',
  );
  const srow = (label: string, s: Summary): string[] => [
    label,
    ms(s.p50),
    ms(s.p90),
    ms(s.p99),
    ms(s.max),
    String(s.n),
  ];
  lines.push(
    table([
      ['  measure', 'p50', 'p90', 'p99', 'max', 'n'],
      srow('  created -> first action visible', lat.e2e),
      srow('  create sent -> first action visible', lat.e2eFromSend),
      srow('  created -> checkpoint visible (plan)', lat.toCheckpoint),
      srow('  checkpoint -> first action visible (apply)', lat.checkpointToVisible),
      srow('  create round trip', lat.createRtt),
      srow('  raw PATCH, kept-alive connection', lat.rawPatchKeepAlive),
      srow('  raw PATCH via client-node (new connection)', lat.rawPatch),
    ]),
  );
  lines.push(
    `  final phases: ${Object.entries(lat.phases)
      .map(([p, n]) => `${p} ${n}`)
      .join(', ')}${lat.missing ? `; ${lat.missing} restarts never seen` : ''}`,
  );
  const perRem = (n: number): string => (n / (lat.measured + opts.warmup)).toFixed(1);
  lines.push(
    `  reconcile passes during the run (per Remediation): ${Object.entries(lat.passes)
      .map(([k, n]) => `${k} ${n} (${perRem(n)})`)
      .join(', ')}`,
  );
  if (lat.requests) {
    const total = lat.requests.reduce((a, b) => a + b.count, 0);
    lines.push(
      `  operator API requests during the run (--trace): ${total}, ${perRem(total)} per Remediation:`,
    );
    for (const b of lat.requests.slice(0, 15))
      lines.push(`    ${String(b.count).padStart(7)} (${perRem(b.count).padStart(5)})  ${b.key}`);
  }
  if (idle) {
    const m = idle.memory;
    lines.push('');
    lines.push('Memory');
    if (idle.objects > 0) {
      lines.push(
        `  ${idle.objects} finished (Skipped) Remediations created in ${idle.createSeconds.toFixed(1)} s while no operator ran (create + PATCH status, ` +
          'the status copied from one the operator finished itself); then operator B started with them present and reconciled every one.',
      );
    }
    lines.push(
      `  operator B once idle: VmRSS ${mb(m.rss)} (max of 5 samples ${mb(m.rssMax)}, peak VmHWM ${mb(m.hwm)}), ` +
        `process_resident_memory_bytes ${mb(m.metricRss)}, V8 heap used ${mb(m.heapUsed)}`,
    );
    const a = idle.memoryAfterIdle;
    if (a)
      lines.push(
        `  operator B after ${idle.seconds.toFixed(0)} s idle: VmRSS ${mb(a.rss)} (max of 5 samples ${mb(a.rssMax)}), ` +
          `V8 heap used ${mb(a.heapUsed)} (V8 returns freed pages to the OS a while after a collection)`,
      );
    lines.push(
      `  ${idle.compaction ?? 'no heap compaction logged (the operator runs without --expose-gc?)'}`,
    );
  }
  if (idle) {
    lines.push('');
    lines.push('Operator start and idle API requests');
    lines.push(
      `  operator B through a counting HTTPS proxy: became idle ${idle.startupSeconds.toFixed(1)} s after start, having sent ${idle.startupRequests} requests; top:`,
    );
    for (const b of idle.startupBreakdown.slice(0, 6))
      lines.push(`    ${String(b.count).padStart(7)}  ${b.key}`);
    if (idle.seconds > 0) {
      lines.push(
        `  then over ${idle.seconds.toFixed(0)} s idle: ${idle.perMinute.toFixed(1)} requests/min, operator CPU ${idle.cpuPercent.toFixed(1)}% of one core ` +
          '(lease renewal = one GET + one PUT every retryPeriod 2 s = 60/min expected):',
      );
      for (const b of idle.breakdown) lines.push(`    ${String(b.count).padStart(7)}  ${b.key}`);
    }
  }
  const header = [
    `kube-remediator controller benchmark, ${machine.date}`,
    `machine: nproc ${machine.nproc}, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadBefore} at start, ${machine.loadAfter} at end`,
    `total run time ${totalSeconds.toFixed(0)} s`,
    '',
  ];
  const text = [...header, ...lines, '', 'Summary', table(rows)].join('\n');

  const md: string[] = [];
  md.push(
    `Run on ${machine.date}: nproc ${machine.nproc} (${machine.cpu}), Node ${machine.node}, load average ${machine.loadBefore} at start ` +
      `(the machine is shared; figures are noisy). Command: \`npm run bench:controller -- --remediations ${opts.remediations} --objects ${opts.objects} ` +
      `--idle-seconds ${opts.idleSeconds} --interval-ms ${opts.intervalMs}\` (${totalSeconds.toFixed(0)} s).`,
  );
  md.push('');
  md.push(markdownTable(rows));
  md.push('');
  md.push('```text');
  md.push(...lines);
  md.push('```');
  return { text, markdown: md.join('\n') };
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const machine: Machine = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    node: process.version,
    loadBefore: loadText(),
    loadAfter: '',
  };
  await ensureBuilt(opts.build);
  const { ctx } = await setup(opts);
  const proxy =
    opts.idleSeconds > 0 || opts.objects > 0 || opts.trace
      ? await CountingProxy.start(ctx.cluster.server)
      : undefined;
  if (proxy) onCleanup('counting proxy', () => proxy.stop());

  const a = await launchOperator(
    'bench-a',
    opts.trace && proxy ? proxyKubeconfig(ctx, proxy) : ctx.cluster.kubeconfigPath,
  );
  await runbooksReady(ctx);
  const lat = await latencyPhase(ctx, a, opts.trace ? proxy : undefined);
  log(
    `latency: p50 ${ms(lat.e2e.p50)}, p99 ${ms(lat.e2e.p99)}; raw PATCH p50 ${ms(lat.rawPatchKeepAlive.p50)}, p99 ${ms(lat.rawPatchKeepAlive.p99)} (client-node: ${ms(lat.rawPatch.p50)}, ${ms(lat.rawPatch.p99)})`,
  );
  const latCount = opts.warmup + opts.remediations;

  const status = opts.objects > 0 ? await finishedStatus(ctx) : undefined;
  log(`stopping operator A (SIGTERM: it releases the Lease)`);
  await stopOperator(a);
  const createSeconds = status ? await bulkCreate(ctx, status) : 0;
  const b = proxy
    ? await operatorBPhase(
        ctx,
        proxy,
        // The template and the copies share a Runbook: retention keeps at most its history
        // limit (10,000 at most) of them, so the oldest, the template, goes at --objects 10000.
        latCount + (status ? Math.min(opts.objects + 1, RETENTION_LIMIT) : 0),
        createSeconds,
      )
    : undefined;

  machine.loadAfter = loadText();
  const { text, markdown } = report(opts, machine, lat, b, (performance.now() - T0) / 1000);
  process.stdout.write(`\n${text}\n`);
  if (opts.docs) {
    const file = join(REPO_ROOT, 'docs', 'benchmarks.md');
    writeSection(file, '## Latest run: controller (`npm run bench:controller`)', markdown);
    log(`wrote ${file}`);
  }
}

main()
  .then(async () => {
    await cleanupAll();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanupAll();
    process.exit(1);
  });
