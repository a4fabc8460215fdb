/**
 * A fake kubelet (a test double, named so: the Debian-built control plane has no kubelet).
 * It watches Pods and writes their status as a kubelet would: Running and Ready by default,
 * or a fault per workload: never ready, crash loop (restart count and the CrashLoopBackOff
 * waiting reason), or OOMKilled as the last termination state. On request it also serves the
 * logs of chosen pods to the API server, as a kubelet does (fake-kubelet-logs.ts).
 */
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { FakeKubeletLogs, type LogSource } from './fake-kubelet-logs.js';

export type { LogSource, ServedLog } from './fake-kubelet-logs.js';

export type PodFault = 'none' | 'neverReady' | 'crashLoop' | 'oomKilled';

export interface FakeKubelet {
  /** Pods whose name starts with `podNamePrefix` (e.g. `web-` for Deployment web) in `namespace`. */
  setFault(namespace: string, podNamePrefix: string, fault: PodFault): void;
  /** Re-applies faults to pods that exist now (after setFault on a running workload). */
  resync(): Promise<void>;
  /**
   * Serves the logs of pods whose name starts with `podNamePrefix` in `namespace` through the
   * API server (`kubectl logs`, `pods/log`): they are bound to this kubelet's node. Call it
   * before the pods are created, or resync() after.
   */
  serveLogs(namespace: string, podNamePrefix: string, source: LogSource): Promise<void>;
  /** Removes the node of served logs and the pods bound to it (stop() starts it too). */
  stopLogs(): Promise<void>;
  stop(): void;
}

interface FaultRule {
  namespace: string;
  prefix: string;
  fault: PodFault;
}

function rfc3339(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function podStatusFor(pod: k8s.V1Pod, fault: PodFault): k8s.V1PodStatus {
  const now = rfc3339();
  const containers = pod.spec?.containers ?? [];
  const ready = fault === 'none';
  const containerStatuses = containers.map((c): k8s.V1ContainerStatus => {
    const base = {
      name: c.name,
      image: c.image ?? 'image',
      imageID: `docker://${c.image ?? 'image'}`,
      containerID: `fake://${pod.metadata?.name}/${c.name}`,
    };
    switch (fault) {
      case 'crashLoop':
        return {
          ...base,
          ready: false,
          restartCount: 5,
          state: {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: `back-off 5m0s restarting failed container=${c.name}`,
            },
          },
          lastState: {
            terminated: {
              exitCode: 1,
              reason: 'Error',
              startedAt: now as unknown as Date,
              finishedAt: now as unknown as Date,
            },
          },
        };
      case 'oomKilled':
        return {
          ...base,
          ready: false,
          restartCount: 3,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' } },
          lastState: {
            terminated: {
              exitCode: 137,
              reason: 'OOMKilled',
              startedAt: now as unknown as Date,
              finishedAt: now as unknown as Date,
            },
          },
        };
      case 'neverReady':
        return {
          ...base,
          ready: false,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now as unknown as Date } },
        };
      case 'none':
        return {
          ...base,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now as unknown as Date } },
        };
    }
  });
  const cond = (type: string, status: boolean): k8s.V1PodCondition => ({
    type,
    status: status ? 'True' : 'False',
    lastTransitionTime: now as unknown as Date,
  });
  return {
    phase: 'Running',
    hostIP: '127.0.0.1',
    podIP: '10.244.0.10',
    startTime: now as unknown as Date,
    conditions: [
      cond('Initialized', true),
      cond('Ready', ready),
      cond('ContainersReady', ready),
      cond('PodScheduled', true),
    ],
    containerStatuses,
  };
}

export function startFakeKubelet(
  kc: k8s.KubeConfig,
  opts: {
    namespace?: string;
    /** Holds apiserver.crt and apiserver.key, the certificate logs are served with. */
    certDir?: string;
  } = {},
): FakeKubelet {
  // On kind (test/kind/run.ts) a real kubelet owns pod status; faults cannot be injected there.
  if (process.env.KR_E2E_REAL_KUBELET) {
    return {
      setFault: () => undefined,
      resync: () => Promise.resolve(),
      serveLogs: () =>
        Promise.reject(new Error('on kind the real kubelet serves the logs of real containers')),
      stopLogs: () => Promise.resolve(),
      stop: () => undefined,
    };
  }
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const logs = new FakeKubeletLogs(
    core,
    opts.certDir ?? join(process.env.KR_TEST_CLUSTER_DIR ?? '.', 'certs'),
  );
  const rules: FaultRule[] = [];
  const applied = new Map<string, string>(); // pod uid → fault last written
  let stopped = false;

  const faultOf = (pod: k8s.V1Pod): PodFault => {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    // The most recently set matching rule wins.
    for (let i = rules.length - 1; i >= 0; i--) {
      const r = rules[i]!;
      if (r.namespace === ns && name.startsWith(r.prefix)) return r.fault;
    }
    return 'none';
  };

  const handle = async (pod: k8s.V1Pod): Promise<void> => {
    if (stopped) return;
    if (pod.metadata?.deletionTimestamp) return logs.finishDeletion(pod);
    await logs.bind(pod);
    const uid = pod.metadata?.uid ?? '';
    const fault = faultOf(pod);
    if (applied.get(uid) === fault) return;
    applied.set(uid, fault);
    try {
      await core.patchNamespacedPodStatus(
        {
          name: pod.metadata!.name!,
          namespace: pod.metadata!.namespace!,
          body: { status: podStatusFor(pod, fault) },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    } catch {
      applied.delete(uid); // gone or conflicting: the next event retries
    }
  };

  const path = opts.namespace ? `/api/v1/namespaces/${opts.namespace}/pods` : '/api/v1/pods';
  const list = (): Promise<k8s.V1PodList> =>
    opts.namespace ? core.listNamespacedPod({ namespace: opts.namespace }) : core.listPodForAllNamespaces();
  const informer = k8s.makeInformer(kc, path, list);
  const onPod = (pod: k8s.V1Pod): void => void handle(pod);
  informer.on('add', onPod);
  informer.on('update', onPod);
  informer.on('delete', (pod: k8s.V1Pod) => applied.delete(pod.metadata?.uid ?? ''));
  informer.on('error', () => {
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
  });
  void informer.start().catch(() => undefined);

  return {
    setFault(namespace, prefix, fault) {
      rules.push({ namespace, prefix, fault });
    },
    async resync() {
      const pods = await list();
      await Promise.all(pods.items.map((p) => handle(p)));
    },
    async serveLogs(namespace, prefix, source) {
      await logs.serve(namespace, prefix, source);
      const pods = await list();
      await Promise.all(pods.items.map((p) => logs.bind(p)));
    },
    stopLogs: () => logs.stop(),
    stop() {
      stopped = true;
      void informer.stop();
      void logs.stop().catch(() => undefined);
    },
  };
}
