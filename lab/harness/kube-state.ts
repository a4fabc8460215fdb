/**
 * A stand-in for kube-state-metrics (a Go binary that Debian does not package): the handful
 * of its series the seeds' alert rules read, with the same names and labels, computed from
 * the lab cluster at each scrape.
 */
import * as k8s from '@kubernetes/client-node';
import { Gauge } from 'prom-client';
import { StandIn } from './stand-in.js';

const CONDITION_STATUSES = ['true', 'false', 'unknown'] as const;

export async function startKubeState(
  kc: k8s.KubeConfig,
  opts: { namespaces: string[]; labels?: Record<string, string> },
): Promise<StandIn> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const s = new StandIn('kube-state-metrics');
  const extra = opts.labels ?? {};
  const extraNames = Object.keys(extra);
  const gauge = (name: string, help: string, labels: string[]): Gauge =>
    new Gauge({ name, help, labelNames: [...labels, ...extraNames], registers: [s.registry] });
  const d = ['namespace', 'deployment'];
  const sts = ['namespace', 'statefulset'];
  const spec = gauge('kube_deployment_spec_replicas', 'Desired replicas.', d);
  const available = gauge('kube_deployment_status_replicas_available', 'Available replicas.', d);
  const updated = gauge('kube_deployment_status_replicas_updated', 'Updated replicas.', d);
  const generation = gauge('kube_deployment_metadata_generation', 'Generation.', d);
  const observed = gauge('kube_deployment_status_observed_generation', 'Observed generation.', d);
  const condition = gauge('kube_deployment_status_condition', 'Conditions.', [...d, 'condition', 'status']);
  const stsReplicas = gauge('kube_statefulset_replicas', 'Desired replicas.', sts);
  const stsReady = gauge('kube_statefulset_status_replicas_ready', 'Ready replicas.', sts);
  const all = [spec, available, updated, generation, observed, condition, stsReplicas, stsReady];

  const collect = async (): Promise<void> => {
    for (const g of all) g.reset();
    for (const namespace of opts.namespaces) {
      for (const dep of (await apps.listNamespacedDeployment({ namespace })).items) {
        const l = { namespace, deployment: dep.metadata!.name!, ...extra };
        spec.set(l, dep.spec?.replicas ?? 1);
        available.set(l, dep.status?.availableReplicas ?? 0);
        updated.set(l, dep.status?.updatedReplicas ?? 0);
        generation.set(l, dep.metadata?.generation ?? 0);
        observed.set(l, dep.status?.observedGeneration ?? 0);
        for (const c of dep.status?.conditions ?? [])
          for (const st of CONDITION_STATUSES)
            condition.set({ ...l, condition: c.type, status: st }, c.status.toLowerCase() === st ? 1 : 0);
      }
      for (const set of (await apps.listNamespacedStatefulSet({ namespace })).items) {
        const l = { namespace, statefulset: set.metadata!.name!, ...extra };
        stsReplicas.set(l, set.spec?.replicas ?? 1);
        stsReady.set(l, set.status?.readyReplicas ?? 0);
      }
    }
  };
  s.route('GET', '/metrics', async () => {
    await collect();
    return { status: 200, body: await s.registry.metrics() };
  });
  return s.listen();
}
