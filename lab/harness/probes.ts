/**
 * What the kubelet would do with the lab's pods, done by the lab on top of the fake kubelet:
 * run each pod's readiness probe against what really answers for it (a lab Redis, a stand-in
 * endpoint) and write the result as the pod's status, and start the pod's process again when
 * the pod is created anew (a restart). So a pod is Ready exactly when its real process answers.
 */
import * as k8s from '@kubernetes/client-node';
import type { FakeKubelet, PodFault } from '../../tools/cluster/fake-kubelet.js';

const PROBE_INTERVAL_MS = 300;

export interface ProbedPods {
  namespace: string;
  /** Label selector of the pods, e.g. `app=redis`. */
  selector: string;
  /**
   * The start of their names, e.g. `redis-master-`: a new pod shows `failing` until its first
   * probe passes, as a kubelet reports a container not ready before its readiness probe ran.
   */
  podPrefix: string;
  /** The readiness probe: true when the pod's process answers. */
  ready(pod: k8s.V1Pod): Promise<boolean>;
  /** The status a failing pod shows: never ready (default) or crash-looping. */
  failing?: PodFault;
  /** Called once for each new pod (new uid) before it is probed: a container start. */
  onNewPod?(pod: k8s.V1Pod): Promise<void>;
}

export interface Prober {
  /** The uids of every pod seen so far, in order (a restart adds one per replica). */
  readonly seen: string[];
  stop(): Promise<void>;
}

export function probePods(kc: k8s.KubeConfig, kubelet: FakeKubelet, spec: ProbedPods): Prober {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const written = new Map<string, PodFault>(); // pod name → fault last set
  const seen: string[] = [];
  let stopped = false;
  // The fake kubelet applies the newest matching rule: this one until a pod has its own.
  kubelet.setFault(spec.namespace, spec.podPrefix, spec.failing ?? 'neverReady');

  const once = async (): Promise<void> => {
    const pods = await core.listNamespacedPod({ namespace: spec.namespace, labelSelector: spec.selector });
    let changed = false;
    for (const pod of pods.items) {
      if (pod.metadata?.deletionTimestamp) continue;
      const uid = pod.metadata!.uid!;
      const name = pod.metadata!.name!;
      if (!seen.includes(uid)) {
        seen.push(uid);
        await spec.onNewPod?.(pod);
      }
      const fault: PodFault = (await spec.ready(pod).catch(() => false))
        ? 'none'
        : (spec.failing ?? 'neverReady');
      if (written.get(name) === fault) continue;
      written.set(name, fault);
      // The fake kubelet matches by name prefix: the whole name is the narrowest rule.
      kubelet.setFault(spec.namespace, name, fault);
      changed = true;
    }
    if (changed) await kubelet.resync();
  };
  const done = (async () => {
    while (!stopped) {
      await once().catch(() => undefined);
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
