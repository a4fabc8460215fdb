/**
 * Jest global setup of the e2e project: one real control plane for the run, CRDs installed
 * and Established, KUBECONFIG exported to every test file. Teardown (and Ctrl-C) stops every
 * process by its own pid.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type TestCluster } from './cluster.js';
import { installCrds } from './crds.js';

declare global {
  var __KR_CLUSTER__: TestCluster | undefined;
}

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  // The kind path (test/kind/run.ts) brings its own cluster: use it as it is.
  if (process.env.KR_E2E_KUBECONFIG) {
    process.env.KUBECONFIG = process.env.KR_E2E_KUBECONFIG;
    await installCrds(process.env.KR_E2E_KUBECONFIG);
    return;
  }
  const cluster = await startCluster({ controllerManager: true });
  globalThis.__KR_CLUSTER__ = cluster;
  const stopAndExit = (signal: NodeJS.Signals): void => {
    void cluster.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stopAndExit);
  process.once('SIGTERM', stopAndExit);
  process.env.KUBECONFIG = cluster.kubeconfigPath;
  process.env.KR_TEST_CLUSTER_DIR = cluster.dir;
  // kubectl keeps a discovery cache; a fresh cluster must not see another one's.
  process.env.KUBECACHEDIR = join(cluster.dir, 'kubectl-cache');
  await installCrds(cluster.kubeconfigPath);
  writeFileSync(join(cluster.dir, 'ready'), String(Date.now() - started));
  console.log(`\n[e2e] control plane up at ${cluster.server} in ${Date.now() - started} ms (${cluster.dir})`);
}
