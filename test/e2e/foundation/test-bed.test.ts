/** The test bed itself: a real control plane, the controller-manager and the fake kubelet. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import { startCluster } from '../../../tools/cluster/cluster.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubectl,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';

describe('test bed', () => {
  let ns: string;
  let kubelet: FakeKubelet;

  beforeAll(async () => {
    ns = await createNamespace('testbed');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
  });
  afterAll(async () => {
    kubelet.stop();
    await deleteNamespace(ns);
  });

  it('runs Deployments to Ready through the controller-manager and the fake kubelet', async () => {
    await createDeployment(ns, 'web', { replicas: 2 });
    const d = await waitDeploymentReady(ns, 'web');
    expect(d.status?.readyReplicas).toBe(2);
    const res = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=30s'], { namespace: ns });
    expect(res.exitCode).toBe(0);
  });

  it('injects crash loops, OOMKilled and never-ready per workload', async () => {
    kubelet.setFault(ns, 'crashy-', 'crashLoop');
    kubelet.setFault(ns, 'oomy-', 'oomKilled');
    kubelet.setFault(ns, 'slow-', 'neverReady');
    await Promise.all([
      createDeployment(ns, 'crashy', { replicas: 1 }),
      createDeployment(ns, 'oomy', { replicas: 1 }),
      createDeployment(ns, 'slow', { replicas: 1 }),
    ]);
    const podOf = (prefix: string) =>
      waitFor(
        async () => {
          const pods = await testClients().core.listNamespacedPod({ namespace: ns });
          return pods.items.find(
            (p) => p.metadata!.name!.startsWith(prefix) && p.status?.phase === 'Running',
          );
        },
        { what: `${prefix} pod running` },
      );
    const crashy = await podOf('crashy-');
    expect(crashy.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('CrashLoopBackOff');
    expect(crashy.status?.containerStatuses?.[0]?.restartCount).toBeGreaterThan(0);
    const oomy = await podOf('oomy-');
    expect(oomy.status?.containerStatuses?.[0]?.lastState?.terminated?.reason).toBe('OOMKilled');
    const slow = await podOf('slow-');
    expect(slow.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    const d = await testClients().apps.readNamespacedDeployment({ name: 'slow', namespace: ns });
    expect(d.status?.readyReplicas ?? 0).toBe(0);
  });

  it('runs a second cluster side by side and stops it by pid', async () => {
    const other = await startCluster({ controllerManager: false });
    try {
      expect(other.server).not.toBe(testKubeConfig().getCurrentCluster()?.server);
      const res = await kubectl(['--kubeconfig', other.kubeconfigPath, 'get', 'namespaces', '-o', 'name']);
      expect(res.stdout).toContain('namespace/default');
    } finally {
      await other.stop();
    }
    for (const pid of other.pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
