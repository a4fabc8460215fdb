/**
 * The sandbox `npm start` runs the operator on when no cluster is configured: the project's own
 * control plane (etcd, kube-apiserver, kube-controller-manager v1.20, tools/cluster/) with the
 * fake kubelet, the CRDs, and the tour's workload and Runbook (docs/tour/). Everything lives in
 * one folder that stop() removes; every process is stopped by its own pid.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { makeClients } from '../../src/kube/client.js';
import { runbooks } from '../../src/kube/resources.js';
import { kubeconfigYaml, startCluster, type TestCluster } from '../cluster/cluster.js';
import { installCrds } from '../cluster/crds.js';
import { startFakeKubelet, type FakeKubelet } from '../cluster/fake-kubelet.js';

export const TOUR_DIR = 'docs/tour';
const TOUR_FILES = ['backend.yaml', 'rbac.yaml', 'runbook.yaml'];

export interface Tour {
  namespace: string;
  runbook: string;
  /** `kind/name` of every object applied, for the log. */
  applied: string[];
}

export interface Sandbox {
  readonly cluster: TestCluster;
  /** The kubeconfig a person exports; its context's namespace is the tour's. */
  readonly kubeconfigPath: string;
  /** The webhook's bearer token, and the file the operator reads it from. */
  readonly token: string;
  readonly tokenFile: string;
  readonly tour?: Tour;
  stop(): Promise<void>;
}

export async function startSandbox(root: string, opts: { tour: boolean }): Promise<Sandbox> {
  const cluster = await startCluster({ controllerManager: true, detached: true });
  let kubelet: FakeKubelet | undefined;
  const stop = async (): Promise<void> => {
    kubelet?.stop();
    await cluster.stop();
  };
  try {
    await installCrds(cluster.kubeconfigPath);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    kubelet = startFakeKubelet(kc);
    const tour = opts.tour ? await applyTour(kc, join(root, TOUR_DIR)) : undefined;
    // `kubectl get rem -w` then shows the tour's namespace without -n.
    if (tour)
      writeFileSync(cluster.kubeconfigPath, kubeconfigYaml(cluster.server, cluster.token, tour.namespace), {
        mode: 0o600,
      });
    const token = randomBytes(16).toString('hex');
    const tokenFile = join(cluster.dir, 'webhook-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    return {
      cluster,
      kubeconfigPath: cluster.kubeconfigPath,
      token,
      tokenFile,
      ...(tour ? { tour } : {}),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The tour's namespace, workload, ServiceAccount with its Role, and Runbook, as `kubectl apply -f docs/tour/` would. */
async function applyTour(kc: k8s.KubeConfig, dir: string): Promise<Tour> {
  const objects = TOUR_FILES.flatMap((f) =>
    yaml.loadAll(readFileSync(join(dir, f), 'utf8')).filter(Boolean),
  ) as k8s.KubernetesObject[];
  const namespace = objects[0]?.metadata?.namespace ?? 'default';
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  for (const obj of objects) await api.create(obj);
  const runbook = objects.find((o) => o.kind === 'Runbook')?.metadata?.name ?? '';
  return {
    namespace,
    runbook,
    applied: [
      `namespace/${namespace}`,
      ...objects.map((o) => `${o.kind!.toLowerCase()}/${o.metadata!.name!}`),
    ],
  };
}

/**
 * Waits for the operator to validate the tour's Runbook: an alert fired before that would find
 * no Runbook to match. Returns the Ready condition's message when the Runbook is invalid.
 */
export async function waitRunbookReady(
  sandbox: Sandbox,
  stopped: () => boolean,
): Promise<{ ready: boolean; message?: string }> {
  if (!sandbox.tour) return { ready: true };
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.kubeconfigPath);
  const api = runbooks(makeClients(kc));
  while (!stopped()) {
    try {
      const rb = await api.get(sandbox.tour.namespace, sandbox.tour.runbook);
      const ready = rb.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return { ready: true };
      if (ready?.status === 'False')
        return { ready: false, ...(ready.message ? { message: ready.message } : {}) };
    } catch {
      /* the API server is busy starting: look again */
    }
    await sleep(200);
  }
  return { ready: false };
}
