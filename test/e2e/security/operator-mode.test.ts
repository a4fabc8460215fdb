/**
 * The built operator (dist/, a separate process) in identity mode serviceAccount: it says so at
 * start, refuses a step its Runbook's ServiceAccount may not do, and serves the verified
 * approval endpoint on the webhook port, which `kube-remediator approve` reaches.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runApproveCommand } from '../../../src/cli/approve.js';
import { remediations } from '../../../src/kube/resources.js';
import { freePort } from '../../../tools/cluster/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  testClients,
  waitFor,
} from '../../support/kube.js';
import { createRemediation, createRunbook } from '../controller/helpers.js';
import { createServiceAccount, grant, serviceAccountToken, tokenKubeconfig } from './helpers.js';

describe('the operator in identity mode serviceAccount', () => {
  let ns: string;
  let dir: string;
  let proc: OperatorProcess;
  let url: string;

  const phase = async (name: string): Promise<string | undefined> =>
    (await remediations(testClients()).get(ns, name)).status?.phase;

  beforeAll(async () => {
    ns = await createNamespace('sa-mode');
    dir = mkdtempSync(join(process.env.KR_TEST_CLUSTER_DIR ?? tmpdir(), 'kr-sa-mode-'));
    const [wp, pp] = [await freePort(), await freePort()];
    proc = startOperator({
      env: {
        KR_WATCH_NAMESPACE: ns,
        KR_LEADER_ELECTION: 'false',
        KR_WEBHOOK_HOST: '127.0.0.1',
        KR_WEBHOOK_PORT: String(wp),
        KR_PROBES_HOST: '127.0.0.1',
        KR_PROBES_PORT: String(pp),
        KR_WEBHOOK_BEARER_TOKEN: 'e2e',
        KR_IDENTITY_MODE: 'serviceAccount',
      },
    });
    url = `http://127.0.0.1:${wp}`;
    await proc.waitForLog('operator started', 60_000);
  });

  afterAll(async () => {
    proc.kill('SIGKILL');
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
    await deleteNamespace(ns);
  });

  it('logs the mode at start, without the single-tenant warning', () => {
    expect(proc.logs().join('\n')).toContain('identity mode serviceAccount');
    expect(proc.logs().join('\n')).not.toContain('identity mode operator');
  });

  it('refuses a scale its ServiceAccount may not do, and leaves the Deployment alone', async () => {
    await createDeployment(ns, 'web', { replicas: 1 });
    await createRunbook(ns, 'up', {
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      steps: [{ name: 'up', action: 'scale', scale: { replicas: 3 } }],
    });
    await createRemediation(ns, 'up-1', { runbookRef: { name: 'up' } });
    await waitFor(async () => (await phase('up-1')) === 'Failed', { what: 'up-1 Failed', timeoutMs: 60_000 });
    const rem = await remediations(testClients()).get(ns, 'up-1');
    expect(rem.status?.steps?.[0]?.message).toContain(`ServiceAccount ${ns}/default`);
    const d = await testClients().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.replicas).toBe(1);
  });

  it('records an approval made with kube-remediator approve under the verified user name', async () => {
    await createServiceAccount(ns, 'lead');
    await grant(
      ns,
      'approver',
      [{ apiGroups: ['kube-remediator.io'], resources: ['remediations'], verbs: ['approve'] }],
      { serviceAccount: 'lead', namespace: ns },
    );
    const kubeconfig = tokenKubeconfig(dir, 'lead', await serviceAccountToken(ns, 'lead'));
    await createRunbook(ns, 'gated', {
      steps: [{ name: 'tell', action: 'notify', notify: { message: 'go' } }],
      safety: { requireApproval: true },
    });
    await createRemediation(ns, 'gated-1', { runbookRef: { name: 'gated' } });
    await waitFor(async () => (await phase('gated-1')) === 'AwaitingApproval', {
      what: 'gated-1 AwaitingApproval',
      timeoutMs: 60_000,
    });
    let out = '';
    const code = await runApproveCommand(
      'approve',
      ['gated-1', '-n', ns, '--url', url, '--kubeconfig', kubeconfig],
      {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (out += s) },
        env: {},
      },
    );
    expect([code, out]).toEqual([0, expect.stringContaining(`approved by system:serviceaccount:${ns}:lead`)]);
    await waitFor(async () => (await phase('gated-1')) === 'Succeeded', {
      what: 'gated-1 Succeeded',
      timeoutMs: 60_000,
    });
    const rem = await remediations(testClients()).get(ns, 'gated-1');
    expect(rem.status?.approval).toMatchObject({ by: `system:serviceaccount:${ns}:lead`, verified: true });
  });
});
