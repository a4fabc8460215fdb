/**
 * The lab: everything one seed scenario runs on, started on loopback and stopped by pid.
 *
 * - a control plane per region (etcd + kube-apiserver + kube-controller-manager, the CRDs, the
 *   fake kubelet), the first one also running the operator bundle;
 * - the real dependencies the scenario asks for (its own Redis, PostgreSQL and exporters on
 *   free ports, never the shared ones) and its stand-ins;
 * - a real Prometheus evaluating the scenario's rules every second, a real Alertmanager that
 *   notifies the operator's webhook, and the timeline pollers.
 *
 * The Runbook a scenario runs is the shipped file in config/samples/, applied as it is. Where
 * an address differs between a cluster and the lab, the Runbook reads it from a param whose
 * default is the in-cluster name and whose `from:` is an alert label; the lab's rules set those
 * labels (`<name>_host`, `<name>_port`) to the loopback addresses (docs/adr, "address params").
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { ANNOTATIONS, stepApprovalAnnotation, type Remediation } from '../../src/api/v1alpha1/index.js';
import { makeClients, type KubeClients } from '../../src/kube/client.js';
import { remediations } from '../../src/kube/resources.js';
import { freePort, startCluster, type TestCluster } from '../../tools/cluster/cluster.js';
import { installCrds, REPO_ROOT } from '../../tools/cluster/crds.js';
import { startFakeKubelet, type FakeKubelet } from '../../tools/cluster/fake-kubelet.js';
import { waitFor } from '../../test/support/kube.js';
import { startOperator, type OperatorProcess } from '../../test/support/operator.js';
import {
  ensureAlertmanager,
  startAlertmanager,
  startPostgres,
  startPrometheus,
  startRedis,
  type TestPostgres,
  type TestPrometheus,
  type TestRedis,
} from '../../test/support/services.js';
import { startExporter, type ExporterKind } from './exporters.js';
import { probePods, type ProbedPods, type Prober } from './probes.js';
import { StandIn } from './stand-in.js';
import { Timeline } from './timeline.js';
import { watchAlerts, watchRemediations, watchWebhook, type Poller } from './watchers.js';

/** Where the Runbooks live and their Remediations are created (as in config/samples/). */
export const RUNBOOK_NAMESPACE = 'default';
const WEBHOOK_TOKEN = 'lab-webhook-token';
/** The chart's default: Runbooks act as the ServiceAccount they name, with its RBAC only. */
const IDENTITY_MODE = 'serviceAccount';
/** Waits for a state, never for a time: generous, because a loaded 2-core CI machine is slow. */
const STATE_TIMEOUT_MS = 90_000;

export interface LabRegion {
  name: string;
  cluster: TestCluster;
  kc: k8s.KubeConfig;
  clients: KubeClients;
  kubelet: FakeKubelet;
}

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ScrapeTarget {
  job: string;
  address: string;
  labels?: Record<string, string>;
}

export interface LabOperator {
  proc: OperatorProcess;
  webhook: string;
  probes: string;
}

export class Lab {
  readonly timeline: Timeline;
  private readonly cleanups: { what: string; fn: () => Promise<void> }[] = [];
  private readonly regionList: LabRegion[] = [];
  private readonly addressLabels: Record<string, string> = {};
  private chatServer: StandIn | undefined;
  operator: LabOperator | undefined;
  prometheus: TestPrometheus | undefined;
  private readonly pollers: Poller[] = [];

  constructor(echo?: (line: string) => void) {
    this.timeline = new Timeline(echo);
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Registers something to stop; cleanup() stops everything in reverse order. */
  onCleanup(what: string, fn: () => Promise<void>): void {
    this.cleanups.push({ what, fn });
  }

  /** Stops every process and server the lab started, newest first; returns what failed. */
  async cleanup(): Promise<string[]> {
    const failed: string[] = [];
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        await c.fn();
      } catch (err) {
        failed.push(`${c.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failed;
  }

  // ---- clusters --------------------------------------------------------------------------

  /** Starts a control plane with the CRDs and a fake kubelet. The first one runs the operator. */
  async region(name: string): Promise<LabRegion> {
    const cluster = await startCluster({ controllerManager: true });
    this.onCleanup(`control plane ${name}`, () => cluster.stop());
    await installCrds(cluster.kubeconfigPath);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const kubelet = startFakeKubelet(kc);
    this.onCleanup(`fake kubelet ${name}`, () => Promise.resolve(kubelet.stop()));
    const region = { name, cluster, kc, clients: makeClients(kc), kubelet };
    this.regionList.push(region);
    this.timeline.add('lab', `control plane ${name} up (pids ${cluster.pids.join(', ')})`);
    return region;
  }

  get primary(): LabRegion {
    const r = this.regionList[0];
    if (!r) throw new Error('no control plane started: call lab.region() first');
    return r;
  }

  async kubectl(args: string[], opts: { input?: string; region?: LabRegion } = {}): Promise<string> {
    const r = opts.region ?? this.primary;
    const res = await execa('kubectl', args, {
      env: { KUBECONFIG: r.cluster.kubeconfigPath, KUBECACHEDIR: join(r.cluster.dir, 'kubectl-cache') },
      input: opts.input,
      reject: false,
      timeout: 60_000,
    });
    if (res.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  }

  /** `kubectl apply` of the objects, in order. */
  async apply(objects: object[], region?: LabRegion): Promise<void> {
    await this.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
      region,
    });
  }

  /**
   * Applies config/samples/<seed>.rbac.yaml (the Runbook's ServiceAccount and its least-privilege
   * Roles) and config/samples/<seed>.runbook.yaml, both as shipped, and waits until the Runbook
   * is Ready. The operator runs in serviceAccount mode, so those Roles are all the Runbook may do.
   */
  async applyRunbookSample(seed: string): Promise<void> {
    const samples = join(REPO_ROOT, 'config', 'samples');
    const rbac = await this.kubectl(['apply', '-f', join(samples, `${seed}.rbac.yaml`)]);
    this.timeline.add(
      'lab',
      `ServiceAccount ${seed} and its Roles applied from config/samples/${seed}.rbac.yaml (${rbac.split('\n').length} objects)`,
    );
    const file = join(samples, `${seed}.runbook.yaml`);
    await this.kubectl(['apply', '-f', file]);
    await this.waitFor(`Runbook ${seed} Ready`, async () => {
      const out = await this.kubectl([
        'get',
        'rb',
        seed,
        '-n',
        RUNBOOK_NAMESPACE,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return out === 'True';
    });
    this.timeline.add('lab', `Runbook ${seed} applied from config/samples/${seed}.runbook.yaml: Ready`);
  }

  // ---- dependencies and stand-ins --------------------------------------------------------

  /** Makes `<name>_host` and `<name>_port` alert labels of every rule of the lab. */
  address(name: string, host: string, port: number): void {
    this.addressLabels[`${name}_host`] = host;
    this.addressLabels[`${name}_port`] = String(port);
  }

  async redis(what: string): Promise<TestRedis> {
    const r = await startRedis();
    this.onCleanup(what, () => r.destroy());
    this.timeline.add('lab', `${what}: redis-server on 127.0.0.1:${r.port} (pid ${r.pid})`);
    return r;
  }

  async postgres(what: string): Promise<TestPostgres> {
    const p = await startPostgres();
    this.onCleanup(what, () => p.destroy());
    this.timeline.add('lab', `${what}: PostgreSQL on 127.0.0.1:${p.port} (pid ${p.pid})`);
    return p;
  }

  async exporter(kind: ExporterKind, url: string): Promise<string> {
    const e = await startExporter(kind, url);
    this.onCleanup(`${kind} exporter`, () => e.stop());
    this.timeline.add('lab', `prometheus-${kind}-exporter on ${e.hostPort} (pid ${e.pid})`);
    return e.hostPort;
  }

  async standIn<T extends StandIn>(s: T): Promise<T> {
    await s.listen();
    this.onCleanup(`stand-in ${s.name}`, () => s.close());
    this.timeline.add('lab', `stand-in for ${s.name} on ${s.hostPort}`);
    return s;
  }

  /** Runs `fn` every `ms` until cleanup (a stand-in's traffic or worker loop). */
  every(what: string, ms: number, fn: () => Promise<void>): void {
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        await fn().catch(() => undefined);
        await new Promise((r) => setTimeout(r, ms));
      }
    })();
    this.onCleanup(what, async () => {
      stopped = true;
      await loop;
    });
  }

  /** Runs the readiness of the pods that `spec` selects against what really answers for them. */
  probe(spec: ProbedPods, region?: LabRegion): Prober {
    const r = region ?? this.primary;
    const p = probePods(r.kc, r.kubelet, spec);
    this.onCleanup(`readiness probes ${spec.namespace}/${spec.selector}`, () => p.stop());
    return p;
  }

  /**
   * A Secret `name` (key `url`) in the Runbooks' namespace pointing at a Slack-compatible
   * stand-in channel, so notify steps post somewhere the timeline can show.
   */
  async notifySecret(name: string, channel: string): Promise<void> {
    if (!this.chatServer) {
      this.chatServer = await this.standIn(new StandIn('Slack-compatible chat webhooks'));
    }
    const chat = this.chatServer;
    chat.route('POST', `/hooks/${channel}`, (req) => {
      const text = (JSON.parse(req.body || '{}') as { text?: string }).text ?? req.body;
      this.timeline.add('app', `#${channel} ← ${text}`);
      return { status: 200, body: { ok: true } };
    });
    await this.apply([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: RUNBOOK_NAMESPACE },
        stringData: { url: `${chat.url}/hooks/${channel}` },
      },
    ]);
  }

  /** Messages posted to a chat channel so far. */
  chatMessages(channel: string): string[] {
    return (this.chatServer?.callsTo('POST', `/hooks/${channel}`) ?? []).map(
      (c) => (JSON.parse(c.body || '{}') as { text?: string }).text ?? '',
    );
  }

  // ---- the alert pipeline ----------------------------------------------------------------

  /**
   * Starts the operator (in the first region), Alertmanager notifying its webhook, and a
   * Prometheus that scrapes `targets` and evaluates `rules`, every rule carrying the lab's
   * address labels. Then the timeline pollers.
   */
  async startPipeline(opts: { targets: ScrapeTarget[]; rules: Rule[] }): Promise<void> {
    const promPort = await freePort();
    this.address('prometheus', '127.0.0.1', promPort);
    const op = await this.startOperator();
    await ensureAlertmanager();
    const am = await startAlertmanager({ webhookUrl: op.webhook, token: WEBHOOK_TOKEN });
    this.onCleanup('alertmanager', () => am.stop());
    this.timeline.add('lab', `Alertmanager on ${am.url}, notifying ${op.webhook}`);
    const rules = opts.rules.map((r) => ({ ...r, labels: { ...r.labels, ...this.addressLabels } }));
    const prom = await startPrometheus({
      targets: opts.targets,
      rules: yaml.dump({ groups: [{ name: 'lab', rules }] }),
      alertmanager: am.url,
      port: promPort,
    });
    this.prometheus = prom;
    this.onCleanup('prometheus', () => prom.destroy());
    // Prometheus hands new targets to its scrapers up to 5 s after it starts: a fault before
    // the first scrape would look like a series that starts high, not like a change.
    await this.waitFor('Prometheus scraping every target', async () => {
      const up = await prom.query('up');
      return up.length === opts.targets.length && up.every((s) => s.value === 1);
    });
    this.timeline.add('lab', `Prometheus on ${prom.url}: ${rules.map((r) => r.alert).join(', ')}`);
    this.poller(watchAlerts(prom.url, this.timeline), 'alert poller');
    this.poller(watchWebhook(op.proc, op.probes, this.timeline), 'webhook poller');
    this.poller(
      watchRemediations(this.primary.clients, RUNBOOK_NAMESPACE, this.timeline),
      'remediation poller',
    );
  }

  private poller(p: Poller, what: string): void {
    this.pollers.push(p);
    this.onCleanup(what, () => p.stop());
  }

  /** Brings the timeline up to date before a check, so it reads in the order things happened. */
  private async catchUp(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.flush()));
  }

  private async startOperator(): Promise<LabOperator> {
    const [wp, pp] = [await freePort(), await freePort()];
    const proc = startOperator({
      env: {
        KUBECONFIG: this.primary.cluster.kubeconfigPath,
        KR_WEBHOOK_HOST: '127.0.0.1',
        KR_WEBHOOK_PORT: String(wp),
        KR_PROBES_HOST: '127.0.0.1',
        KR_PROBES_PORT: String(pp),
        KR_WEBHOOK_BEARER_TOKEN: WEBHOOK_TOKEN,
        KR_LEADER_ELECTION_NAMESPACE: RUNBOOK_NAMESPACE,
        // As the chart installs it (ADR 23): each Runbook acts as its own ServiceAccount.
        KR_IDENTITY_MODE: IDENTITY_MODE,
      },
    });
    this.onCleanup('operator', async () => {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await proc.exited;
      clearTimeout(timer);
    });
    const op = { proc, webhook: `http://127.0.0.1:${wp}/api/v1/alerts`, probes: `http://127.0.0.1:${pp}` };
    await this.waitFor('operator ready', async () => (await fetch(`${op.probes}/readyz`)).ok);
    this.operator = op;
    this.timeline.add(
      'lab',
      `operator bundle running (pid ${proc.pid}, identity.mode ${IDENTITY_MODE}), webhook ${op.webhook}`,
    );
    return op;
  }

  // ---- waiting and checking --------------------------------------------------------------

  async waitFor<T>(
    what: string,
    fn: () => Promise<T | undefined | false | null>,
    timeoutMs = STATE_TIMEOUT_MS,
  ): Promise<T> {
    return waitFor(fn, { what, timeoutMs, intervalMs: 200 }).catch(async (err: unknown) => {
      const tail = this.operator?.proc.logs().slice(-15).join('\n') ?? '';
      const workloads: string[] = [];
      for (const r of this.regionList) {
        const out = await this.kubectl(['get', 'deploy,sts,rs,pods', '-A', '-o', 'wide'], {
          region: r,
        }).catch((e: unknown) => String(e));
        workloads.push(`--- workloads in ${r.name} ---\n${out}`);
      }
      throw new Error(
        `${err instanceof Error ? err.message : String(err)}\n--- timeline ---\n${this.timeline.render()}\n${workloads.join('\n')}\n--- operator log tail ---\n${tail}`,
      );
    });
  }

  /** An assertion of the scenario: recorded on the timeline, thrown when it does not hold. */
  async check(what: string, fn: () => void | Promise<void>): Promise<void> {
    await this.catchUp();
    try {
      await fn();
    } catch (err) {
      this.timeline.add('check', `✗ ${what}`);
      if (err instanceof assert.AssertionError) err.message = `${what}: ${err.message}`;
      throw err;
    }
    this.timeline.add('check', `✓ ${what}`);
  }

  async remediations(): Promise<Remediation[]> {
    return (await remediations(this.primary.clients).list(RUNBOOK_NAMESPACE)).items;
  }

  /** The Remediation created for an alert (for the first to arrive of several), once it exists. */
  async remediationFor(alertnames: string | string[]): Promise<Remediation> {
    const names = Array.isArray(alertnames) ? alertnames : [alertnames];
    return this.waitFor(`a Remediation for ${names.join(' or ')}`, async () =>
      (await this.remediations()).find((r) => names.includes(r.spec.alert?.name ?? '')),
    );
  }

  async waitPhase(name: string, phases: string | string[]): Promise<Remediation> {
    const want = Array.isArray(phases) ? phases : [phases];
    return this.waitFor(`Remediation ${name} in ${want.join(' or ')}`, async () => {
      const r = await remediations(this.primary.clients).get(RUNBOOK_NAMESPACE, name);
      return want.includes(r.status?.phase ?? '') ? r : undefined;
    });
  }

  /** A person approves a Remediation waiting in AwaitingApproval. */
  async approve(name: string, by: string): Promise<void> {
    await this.kubectl(['annotate', '-n', RUNBOOK_NAMESPACE, 'rem', name, `${ANNOTATIONS.approvedBy}=${by}`]);
    this.timeline.add('person', `kubectl annotate rem ${name} ${ANNOTATIONS.approvedBy}=${by}`);
  }

  /** A person approves one step that has `requireApproval` (issue #12). */
  async approveStep(name: string, step: string, by: string): Promise<void> {
    const key = stepApprovalAnnotation(step);
    await this.kubectl(['annotate', '-n', RUNBOOK_NAMESPACE, 'rem', name, `${key}=${by}`]);
    this.timeline.add('person', `kubectl annotate rem ${name} ${key}=${by}`);
  }

  /** Waits until every replica of the workload is updated and ready (`kubectl rollout status`). */
  async rolledOut(
    kind: 'Deployment' | 'StatefulSet',
    namespace: string,
    name: string,
    region?: LabRegion,
  ): Promise<void> {
    const apps = (region ?? this.primary).clients.apps;
    await this.waitFor(`${kind} ${namespace}/${name} rolled out`, async () => {
      const w =
        kind === 'Deployment'
          ? await apps.readNamespacedDeployment({ name, namespace })
          : await apps.readNamespacedStatefulSet({ name, namespace });
      const want = w.spec?.replicas ?? 1;
      const s = w.status ?? {};
      return (
        (s.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0) &&
        (s.updatedReplicas ?? 0) === want &&
        (s.readyReplicas ?? 0) === want &&
        (s.replicas ?? 0) === want
      );
    });
  }

  /** The operator's `kube_remediator_alerts_total` by outcome. */
  async alertOutcomes(): Promise<Record<string, number>> {
    const text = await (await fetch(`${this.operator!.probes}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^kube_remediator_alerts_total\{outcome="([a-z_]+)"\} (\d+)$/gm))
      out[m[1]!] = Number(m[2]);
    return out;
  }

  /** Waits until the operator has answered `n` alerts (in all) with `outcome`. */
  async outcome(outcome: string, n = 1): Promise<void> {
    await this.waitFor(`${n} alert(s) answered ${outcome}`, async () => {
      return ((await this.alertOutcomes())[outcome] ?? 0) >= n;
    });
  }

  /** Firing alerts of the lab's Prometheus with this name. */
  async firing(alertname: string): Promise<boolean> {
    const alerts = await this.prometheus!.alerts();
    return alerts.some((a) => a.labels.alertname === alertname && a.state === 'firing');
  }
}
