/**
 * `npm run test:kind`: the e2e suite on a kind cluster, for machines with a Docker engine (our
 * CI machines have none and use the Debian-built control plane instead; see ADR 2). Creates the
 * cluster, runs the e2e Jest project against it, deletes the cluster. On kind a real kubelet
 * runs pods, so the fake kubelet stands aside (KR_E2E_REAL_KUBELET) and workloads use a real
 * image.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

const name = process.env.KR_KIND_CLUSTER ?? `kr-e2e-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'kr-kind-'));
const kubeconfig = join(dir, 'kubeconfig');

async function main(): Promise<number> {
  await execa('kind', ['create', 'cluster', '--name', name, '--kubeconfig', kubeconfig, '--wait', '120s'], {
    stdio: 'inherit',
  });
  try {
    writeFileSync(join(dir, 'cluster-name'), name);
    const res = await execa('npx', ['jest', '--selectProjects', 'e2e', ...process.argv.slice(2)], {
      stdio: 'inherit',
      reject: false,
      env: {
        NODE_OPTIONS: '--experimental-vm-modules',
        KR_E2E_KUBECONFIG: kubeconfig,
        KR_E2E_REAL_KUBELET: '1',
        KR_TEST_IMAGE: process.env.KR_TEST_IMAGE ?? 'registry.k8s.io/pause:3.9',
      },
    });
    return res.exitCode ?? 1;
  } finally {
    await execa('kind', ['delete', 'cluster', '--name', name], { stdio: 'inherit', reject: false });
  }
}

void main().then((code) => process.exit(code));
