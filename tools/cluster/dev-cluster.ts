/**
 * `npm run cluster`: starts one control plane for manual tries, installs the CRDs, starts the
 * fake kubelet and prints the `export KUBECONFIG=...` line. Ctrl-C stops everything.
 */
import * as k8s from '@kubernetes/client-node';
import { ensureControlPlane } from './build.js';
import { startCluster } from './cluster.js';
import { installCrds } from './crds.js';
import { startFakeKubelet } from './fake-kubelet.js';

async function main(): Promise<void> {
  await ensureControlPlane().done;
  const cluster = await startCluster({ controllerManager: true });
  await installCrds(cluster.kubeconfigPath);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const kubelet = startFakeKubelet(kc);
  console.log(`control plane ready at ${cluster.server}; pods are marked Ready by a fake kubelet.`);
  console.log(`export KUBECONFIG=${cluster.kubeconfigPath}`);
  console.log('Press Ctrl-C to stop the cluster.');
  const stop = (): void => {
    kubelet.stop();
    void cluster.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (process.argv.includes('--smoke')) stop();
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
