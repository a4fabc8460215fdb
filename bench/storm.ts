/**
 * `npm run bench:storm`: an alert storm through the whole operator on a real control plane
 * (issue #14). A benchmark, not a test: it prints figures and never fails on a threshold.
 *
 * It starts its own control plane (etcd + kube-apiserver), creates `--targets` Deployments and
 * one Runbook (one setEnv step, revertOnResolve), and runs the operator as a separate process
 * talking to the API server directly (`--proxy`: through a counting proxy). Then:
 * 1. raw create rate: `--fingerprints` plain Remediation creates (32 in flight) in a namespace
 *    the operator does not watch: what this API server does without us;
 * 2. storm: `--alerts` firing alerts over `--fingerprints` fingerprints (each fingerprint sent
 *    alerts/fingerprints times, Alertmanager-style groups of 10, 16 requests in flight); intake
 *    alerts/s, then the time from the first post until every Remediation is final;
 * 3. resolve: one resolved notification per fingerprint, with a `startsAt` other than the
 *    firing one (ADR 0021); the time until every Remediation is Reverted;
 * 4. writes per Remediation (POST/PUT/PATCH/DELETE as the API server's `apiserver_request_total`
 *    counts them, or through the proxy; Events included, Lease renewals excluded), and the
 *    operator's peak and settled RSS (settled: 3 s after its post-burst collection, ADR 9);
 * 5. where the time went: from a watch of the Remediations (the bench's clock), how long they
 *    waited before running and how long they ran, how many ran at once, the controller's passes
 *    per Remediation (its /metrics), and the CPU of the operator, the control plane and this
 *    process (the watch, and the proxy with `--proxy`) on the shared cores.
 *
 * Flags (or environment): --alerts N (BENCH_ALERTS, 10000), --fingerprints N (1000), --targets N
 * (100), --steps N (1: the Runbook's setEnv steps, each on its own variable), --workers N (the
 * operator's KR_WORKERS; default: its own default), --proxy (count every request through a
 * proxy, by path: finer than the API server's counters, but it costs the shared cores about a
 * fifth of one, so the times are slower), --no-docs. BENCH_OPERATOR_NODE_ARGS adds
 * flags to the operator's node (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). BENCH_TRACE=FILE writes every
 * watch event (time, name, phase, resourceVersion) as JSON. Retention is set high, so that its
 * deletes do not mix into the figures.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { execa } from 'execa';
import type { Remediation } from '../src/api/v1alpha1/index.js';
import { makeClients } from '../src/kube/client.js';
import { remediations, runbooks } from '../src/kube/resources.js';
import { freePort, kubeconfigYaml, startCluster } from '../tools/cluster/cluster.js';
import { installCrds, REPO_ROOT } from '../tools/cluster/crds.js';
import { startOperator } from '../test/support/operator.js';
import {
  apiserverRequests,
  eventWritesOf,
  requestsBetween,
  writesOf,
  type RequestCounts,
} from './lib/apiserver-requests.js';
import { breakdown, CountingProxy } from './lib/counting-proxy.js';
import { writeSection } from './lib/docs.js';
import { deploymentBody, pool, watchPath, withRetry } from './lib/kube.js';
import { PhaseTimeline, spans, spanText } from './lib/phase-timeline.js';
import { procCpuSeconds, procMemory } from './lib/procfs.js';
import { scrape, sum, type Sample } from './lib/prom.js';

const TOKEN = 'bench-token';
const NS = 'storm';
const log = (m: string): void => void process.stderr.write(`[storm] ${m}\n`);

function options(): {
  alerts: number;
  fingerprints: number;
  targets: number;
  steps: number;
  workers: string;
  proxy: boolean;
  docs: boolean;
} {
  const { values } = parseArgs({
    options: {
      alerts: { type: 'string', default: process.env.BENCH_ALERTS ?? '10000' },
      fingerprints: { type: 'string', default: '1000' },
      targets: { type: 'string', default: '100' },
      steps: { type: 'string', default: '1' },
      workers: { type: 'string', default: '' },
      proxy: { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
    },
  });
  return {
    alerts: Number(values.alerts),
    fingerprints: Number(values.fingerprints),
    targets: Number(values.targets),
    steps: Math.max(1, Number(values.steps)),
    workers: values.workers,
    proxy: values.proxy,
    docs: !values['no-docs'],
  };
}

const fp = (i: number): string => (0x5000000000000000n + BigInt(i)).toString(16);

function alert(i: number, targets: number, status: 'firing' | 'resolved', startsAt: string): object {
  return {
    status,
    labels: { alertname: 'StormDown', deployment: `web-${i % targets}`, instance: `i-${i}` },
    annotations: {},
    startsAt,
    endsAt: status === 'resolved' ? startsAt : '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: fp(i),
  };
}

function payload(alerts: object[], status: string): object {
  return {
    version: '4',
    groupKey: '{}:{alertname="StormDown"}',
    truncatedAlerts: 0,
    status,
    receiver: 'kube-remediator',
    groupLabels: { alertname: 'StormDown' },
    commonLabels: { alertname: 'StormDown' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

async function post(url: string, body: object): Promise<void> {
  for (;;) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    if (res.ok) return;
    if (res.status < 500) throw new Error(`webhook answered ${res.status}`);
    await sleep(100); // as Alertmanager retries a 5xx
  }
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

async function main(): Promise<void> {
  const o = options();
  log('building the operator (npm run build)');
  await execa('npm', ['run', 'build'], { cwd: REPO_ROOT });
  log('starting a control plane');
  const cluster = await startCluster({ controllerManager: false });
  const cleanups: (() => Promise<unknown>)[] = [() => cluster.stop()];
  try {
    await installCrds(cluster.kubeconfigPath);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const clients = makeClients(kc);
    for (const ns of [NS, 'storm-raw'])
      await clients.core.createNamespace({ body: { metadata: { name: ns } } });
    await pool(o.targets, 16, async (i) => {
      const d = deploymentBody(`web-${i}`, 1);
      d.spec!.template.spec!.containers[0]!.env = [{ name: 'MODE', value: 'normal' }];
      await withRetry(() => clients.apps.createNamespacedDeployment({ namespace: NS, body: d }));
    });
    await runbooks(clients).create(NS, {
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Runbook',
      metadata: { name: 'storm', namespace: NS },
      spec: {
        triggers: [{ alertname: 'StormDown' }],
        params: [{ name: 'deployment', from: 'labels.deployment' }],
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
        // One step: MODE, as before --steps existed; more: MODE, MODE_2, ... one step each.
        steps: Array.from({ length: o.steps }, (_x, k) => ({
          name: k === 0 ? 'degrade' : `degrade-${k + 1}`,
          action: 'setEnv' as const,
          revertOnResolve: true,
          setEnv: { env: [{ name: k === 0 ? 'MODE' : `MODE_${k + 1}`, value: 'degraded' }] },
        })),
      },
    });

    // 1. The API server's raw create rate.
    const rawBody = (i: number): Remediation => ({
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name: `raw-${i}`, namespace: 'storm-raw' },
      spec: { runbookRef: { name: 'none' } },
    });
    const r0 = performance.now();
    await pool(o.fingerprints, 32, (i) =>
      withRetry(() => remediations(clients).create('storm-raw', rawBody(i))).then(() => undefined),
    );
    const rawRate = o.fingerprints / ((performance.now() - r0) / 1000);
    log(`raw create: ${rawRate.toFixed(0)}/s`);

    // The operator: straight to the API server, or through the counting proxy (--proxy).
    const proxy = o.proxy ? await CountingProxy.start(cluster.server) : undefined;
    if (proxy) cleanups.unshift(() => proxy.stop());
    const kcPath = join(cluster.dir, 'kubeconfig-storm-operator');
    writeFileSync(kcPath, kubeconfigYaml(proxy?.url ?? cluster.server, cluster.token), { mode: 0o600 });
    /** The requests from one mark to the next, by `VERB what`, most first. */
    type Mark = { at: number; counts?: RequestCounts };
    const mark = async (at: number): Promise<Mark> =>
      proxy ? { at } : { at, counts: await apiserverRequests(cluster.server, cluster.token) };
    const requests = (a: Mark, b: Mark): { key: string; count: number }[] =>
      proxy ? breakdown(proxy.between(a.at, b.at)) : requestsBetween(a.counts!, b.counts!);
    const [wp, pp] = [await freePort(), await freePort()];
    const proc = startOperator({
      env: {
        KUBECONFIG: kcPath,
        KR_WATCH_NAMESPACE: NS,
        // One replica: a leader that cannot renew its Lease on an overloaded machine exits, and
        // the figures would measure the hand-over instead of the work.
        KR_LEADER_ELECTION: 'false',
        KR_PROBES_HOST: '127.0.0.1',
        KR_PROBES_PORT: String(pp),
        KR_WEBHOOK_HOST: '127.0.0.1',
        KR_WEBHOOK_PORT: String(wp),
        KR_WEBHOOK_BEARER_TOKEN: TOKEN,
        KR_RETENTION_SUCCESSFUL_HISTORY_LIMIT: '10000',
        KR_RETENTION_FAILED_HISTORY_LIMIT: '10000',
        ...(o.workers ? { KR_WORKERS: o.workers } : {}),
      },
      nodeArgs: (process.env.BENCH_OPERATOR_NODE_ARGS ?? '').split(' ').filter(Boolean),
    });
    cleanups.unshift(async () => {
      // SIGTERM first, so that a --cpu-prof (BENCH_OPERATOR_NODE_ARGS) is written on exit.
      proc.kill('SIGTERM');
      const stopped = await Promise.race([proc.exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!stopped) proc.kill('SIGKILL');
      await proc.exited;
    });
    const webhook = `http://127.0.0.1:${wp}/api/v1/alerts`;
    let peak = 0;
    const rss = (): number => {
      try {
        return procMemory(proc.pid).rss;
      } catch {
        throw new Error(`the operator exited; its last lines:\n${proc.logs().slice(-20).join('\n')}`);
      }
    };
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${pp}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok && (await runbooks(clients).get(NS, 'storm')).status?.conditions?.[0]?.status === 'True') break;
      rss(); // throws when the operator is gone
      await sleep(200);
    }
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rss());
      } catch {
        // reported by the next wait
      }
    }, 100);

    // Each Remediation's phases as a watch sees them: where the time goes (waiting, running).
    const timeline = new PhaseTimeline();
    // The newest state of each Remediation and when it arrived: the waits below read these
    // instead of listing 1,000 Remediations every 250 ms, which loaded the API server they measure.
    const latest = new Map<string, Remediation>();
    let lastEventAt = 0;
    const trace: unknown[] = [];
    const watch = await watchPath(
      kc,
      `/apis/kube-remediator.io/v1alpha1/namespaces/${NS}/remediations`,
      (type, obj, at) => {
        const rem = obj as Remediation;
        const name = obj.metadata?.name;
        if (!name) return;
        if (type === 'DELETED') latest.delete(name);
        else latest.set(name, rem);
        lastEventAt = at;
        timeline.record(name, rem.status?.phase ?? 'Created', at);
        if (process.env.BENCH_TRACE)
          trace.push([at, name, rem.status?.phase ?? '', obj.metadata?.resourceVersion]);
      },
      log,
    );
    cleanups.unshift(() => Promise.resolve(watch.stop()));

    // 2. The storm.
    const repeats = Math.max(1, Math.round(o.alerts / o.fingerprints));
    const firedAt = new Date(Date.now() - 60_000).toISOString();
    const order = Array.from({ length: repeats * o.fingerprints }, (_x, k) => k % o.fingerprints);
    const groups = chunk(order, 10);
    const probes = `http://127.0.0.1:${pp}`;
    const m0 = await scrape(probes);
    const cpu0 = procCpuSeconds(proc.pid);
    // Who else used the 2 cores: the control plane's processes and this one (proxy, watch, lists).
    const others = (): { cluster: number; bench: number } => {
      const own = process.cpuUsage();
      return {
        cluster: cluster.pids.reduce((a, pid) => a + procCpuSeconds(pid), 0),
        bench: (own.user + own.system) / 1e6,
      };
    };
    const a0 = await mark(performance.now());
    const o0 = others();
    const w0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (;;) {
          const g = groups[next++];
          if (!g) return;
          await post(
            webhook,
            payload(
              g.map((i) => alert(i, o.targets, 'firing', firedAt)),
              'firing',
            ),
          );
        }
      }),
    );
    const intakeSeconds = (performance.now() - w0) / 1000;
    log(`intake: ${order.length} alerts in ${intakeSeconds.toFixed(1)} s`);
    const all = async (pred: (r: Remediation) => boolean): Promise<number> => {
      for (;;) {
        const seen = [...latest.values()];
        if (seen.length >= o.fingerprints && seen.every(pred)) {
          const at = lastEventAt;
          // Confirmed by one LIST, in case the watch missed an event.
          const items = (await remediations(clients).list(NS)).items;
          if (items.length >= o.fingerprints && items.every(pred)) return at;
        }
        rss(); // throws when the operator is gone
        await sleep(100);
      }
    };
    const final = (r: Remediation): boolean =>
      ['Succeeded', 'Failed', 'Blocked', 'Skipped', 'Reverted'].includes(r.status?.phase ?? '');
    const tFinal = await all(final);
    const cpuStorm = procCpuSeconds(proc.pid) - cpu0;
    const o1 = others();
    const m1 = await scrape(probes);
    const finalItems = (await remediations(clients).list(NS)).items;
    const created = finalItems.length;
    /** `1000 Succeeded`, or `972 Succeeded, 28 Blocked`: what the storm ended as. */
    const phaseCounts = (items: readonly Remediation[]): string => {
      const n = new Map<string, number>();
      for (const r of items) n.set(r.status?.phase ?? 'none', (n.get(r.status?.phase ?? 'none') ?? 0) + 1);
      return [...n]
        .sort((a, b) => b[1] - a[1])
        .map(([p, c]) => `${c} ${p}`)
        .join(', ');
    };
    // Only the Succeeded ones have a change to revert; waiting for the others would never end.
    const toRevert = new Set(
      finalItems.filter((r) => r.status?.phase === 'Succeeded').map((r) => r.metadata.name),
    );
    if (toRevert.size < created) log(`not all Succeeded: ${phaseCounts(finalItems)}`);
    const finalSeconds = (tFinal - w0) / 1000;
    log(`all ${created} final after ${finalSeconds.toFixed(1)} s`);
    const stormWrites = requests(a0, await mark(tFinal));

    // 3. The resolved notifications, with another startsAt than the firing ones.
    await sleep(2000);
    const resolvedAt = new Date().toISOString();
    const m2 = await scrape(probes);
    const cpu1 = procCpuSeconds(proc.pid);
    const a2 = await mark(performance.now());
    const o2 = others();
    const v0 = performance.now();
    next = 0;
    const rgroups = chunk(
      Array.from({ length: o.fingerprints }, (_x, i) => i),
      10,
    );
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (;;) {
          const g = rgroups[next++];
          if (!g) return;
          await post(
            webhook,
            payload(
              g.map((i) => alert(i, o.targets, 'resolved', resolvedAt)),
              'resolved',
            ),
          );
        }
      }),
    );
    const tReverted = await all((r) => r.status?.phase === 'Reverted' || !toRevert.has(r.metadata.name));
    const revertedItems = (await remediations(clients).list(NS)).items;
    const compactedAtRevert = proc
      .logs()
      .filter((l) => l.includes('heap compacted after a burst of work')).length;
    const revertSeconds = (tReverted - v0) / 1000;
    log(`all reverted after ${revertSeconds.toFixed(1)} s`);
    const revertWrites = requests(a2, await mark(tReverted));
    const cpuRevert = procCpuSeconds(proc.pid) - cpu1;
    const o3 = others();
    const m3 = await scrape(probes);
    // Passes of the Remediation controller per Remediation, and their mean duration.
    const passes = (a: Sample[], b: Sample[]): string => {
      const where = { controller: 'remediation' };
      const n =
        sum(b, 'controller_runtime_reconcile_total', where) -
        sum(a, 'controller_runtime_reconcile_total', where);
      const t =
        sum(b, 'controller_runtime_reconcile_time_seconds_sum', where) -
        sum(a, 'controller_runtime_reconcile_time_seconds_sum', where);
      return `${(n / o.fingerprints).toFixed(1)} (${n ? ((1000 * t) / n).toFixed(0) : '?'} ms each)`;
    };

    const ACTIVE = ['Running', 'Verifying'];
    const FINAL = ['Succeeded', 'Failed', 'Blocked', 'Skipped'];
    const storm = spans(timeline.snapshot(), { from: w0, to: tFinal }, ACTIVE, FINAL);
    const revert = spans(timeline.snapshot(), { from: v0, to: tReverted }, ['Reverting'], ['Reverted']);
    /** The median JSON size of the objects: what each write and watch event of them carries. */
    const size = (items: readonly Remediation[]): string => {
      const n = items.map((r) => Buffer.byteLength(JSON.stringify(r))).sort((a, b) => a - b);
      const managed = items
        .map((r) =>
          Buffer.byteLength(JSON.stringify((r.metadata as { managedFields?: unknown }).managedFields ?? [])),
        )
        .sort((a, b) => a - b);
      const mid = Math.floor(n.length / 2);
      return `${((n[mid] ?? 0) / 1024).toFixed(1)} KiB (managedFields ${((managed[mid] ?? 0) / 1024).toFixed(1)} KiB)`;
    };
    const perSecond = (n: number, from: number, to: number): string =>
      `${(n / ((to - from) / 1000)).toFixed(0)}/s`;

    if (process.env.BENCH_TRACE)
      writeFileSync(process.env.BENCH_TRACE, JSON.stringify({ w0, tFinal, v0, tReverted, trace }));
    // Settled: after the operator's own collection once the burst is over (the heap compactor,
    // ADR 9: 2 s after its last pass; the held reverts' 10 s requeues still come after the last
    // Reverted), then 3 s for the freed pages to go back to the OS; at most a minute.
    const compacted = (): number =>
      proc.logs().filter((l) => l.includes('heap compacted after a burst of work')).length;
    const compactedBefore = compactedAtRevert;
    const t0 = performance.now();
    while (compacted() <= compactedBefore && performance.now() - t0 < 60_000) await sleep(250);
    await sleep(3000);
    clearInterval(sampler);
    const settled = rss();
    // BENCH_SETTLE_TRACE=1: the RSS each second for 30 s more, to stderr (how settled is settled).
    if (process.env.BENCH_SETTLE_TRACE)
      for (let i = 1; i <= 30; i++) {
        await sleep(1000);
        log(`settle +${i} s: RSS ${(rss() / 1048576).toFixed(0)} MB`);
      }
    const settledAfter = (performance.now() - tReverted) / 1000;

    const writes = writesOf;
    const events = eventWritesOf;
    const perRem = (n: number): string => (n / created).toFixed(1);
    for (const [what, reqs] of [
      ['storm', stormWrites],
      ['revert', revertWrites],
    ] as const) {
      log(`${what}: requests ${proxy ? 'through the proxy' : 'as the API server counts them'}`);
      for (const b of reqs.slice(0, 12)) log(`  ${String(b.count).padStart(6)}  ${b.key}`);
    }
    // create, a checkpoint and the action per step, the final status, one Event (ADR 0026).
    const minWrites = 2 * o.steps + 3;
    const rows: [string, string][] = [
      [
        'machine',
        `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, load ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}`,
      ],
      ['raw create rate of the API server', `${rawRate.toFixed(0)}/s`],
      [
        `intake, ${order.length} alerts over ${o.fingerprints} fingerprints, ${o.targets} Deployments, ${o.steps} step${o.steps === 1 ? '' : 's'}`,
        `${(order.length / intakeSeconds).toFixed(0)} alerts/s (${intakeSeconds.toFixed(1)} s), ${created} Remediations`,
      ],
      ['first post → all final', `${finalSeconds.toFixed(1)} s (${phaseCounts(finalItems)})`],
      ['first resolved post → all Reverted', `${revertSeconds.toFixed(1)} s`],
      [
        'target: 3 × (raw creates of all × minimum writes)',
        `${((3 * created * minWrites) / rawRate).toFixed(1)} s (minimum ${minWrites} writes per Remediation)`,
      ],
      [
        'writes per Remediation, storm (Events)',
        `${perRem(writes(stormWrites))} (${perRem(events(stormWrites))})`,
      ],
      [
        'writes per Remediation, revert (Events)',
        `${perRem(writes(revertWrites))} (${perRem(events(revertWrites))})`,
      ],
      ['storm: waited before Running, p50 / p90 / max', spanText(storm.waited)],
      ['storm: Running → final, p50 / p90 / max', spanText(storm.ran)],
      ['storm: running at once, mean / max', `${storm.meanConcurrent.toFixed(1)} / ${storm.maxConcurrent}`],
      ['revert: waited before Reverting, p50 / p90 / max', spanText(revert.waited)],
      [
        'revert: Reverting → Reverted, p50 / p90 / max',
        `${spanText(revert.ran)}${revert.direct ? ` (${revert.direct} Reverted without a Reverting checkpoint: 0 ms)` : ''}`,
      ],
      [
        'revert: reverting at once, mean / max',
        `${revert.meanConcurrent.toFixed(1)} / ${revert.maxConcurrent}`,
      ],
      [
        'API writes per second, storm / revert',
        `${perSecond(writes(stormWrites), w0, tFinal)} / ${perSecond(writes(revertWrites), v0, tReverted)}`,
      ],
      ['passes per Remediation (mean duration), storm / revert', `${passes(m0, m1)} / ${passes(m2, m3)}`],
      [
        'operator CPU (of one core), storm / revert',
        `${((100 * cpuStorm) / ((tFinal - w0) / 1000)).toFixed(0)}% / ${((100 * cpuRevert) / ((tReverted - v0) / 1000)).toFixed(0)}%`,
      ],
      [
        'control plane / bench process CPU, storm / revert',
        `${((100 * (o1.cluster - o0.cluster)) / ((tFinal - w0) / 1000)).toFixed(0)}% / ${((100 * (o1.bench - o0.bench)) / ((tFinal - w0) / 1000)).toFixed(0)}%, ${((100 * (o3.cluster - o2.cluster)) / ((tReverted - v0) / 1000)).toFixed(0)}% / ${((100 * (o3.bench - o2.bench)) / ((tReverted - v0) / 1000)).toFixed(0)}%`,
      ],
      [
        'Remediation size as stored (JSON, managedFields included), final / Reverted, median',
        `${size(finalItems)} / ${size(revertedItems)}`,
      ],
      [
        'operator RSS peak / settled',
        `${(peak / 1048576).toFixed(0)} MB / ${(settled / 1048576).toFixed(0)} MB (after the operator's heap compaction, ${settledAfter.toFixed(0)} s after the last Reverted)`,
      ],
    ];
    const md = ['| figure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
    process.stdout.write(`\n${md}\n`);
    if (o.docs) {
      const file = join(REPO_ROOT, 'docs', 'benchmarks.md');
      writeSection(
        file,
        '## Latest run: storm (`npm run bench:storm`)',
        `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, one run on the test control plane (etcd + kube-apiserver, no kube-controller-manager; the operator ${proxy ? 'through a counting proxy' : 'straight to the API server, its writes from `apiserver_request_total`'}, one replica without leader election, memory store, audit off).\n\n${md}`,
      );
      log(`wrote ${file}`);
    }
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
