/**
 * `kube-remediator plan --cluster` on the real control plane: plan() reads the live Deployment,
 * every change goes to the API server as a server-side dry run, and nothing is persisted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { runPlanCommand } from '../../../src/cli/plan.js';
import { createDeployment, createNamespace, deleteNamespace, testClients } from '../../support/kube.js';

let ns: string;
const dir = mkdtempSync(join(tmpdir(), 'kr-plan-e2e-'));

beforeAll(async () => {
  ns = await createNamespace('plan-cluster');
  await createDeployment(ns, 'web', { replicas: 3, env: [{ name: 'MODE', value: 'normal' }] });
  writeFileSync(
    join(dir, 'runbook.yaml'),
    yaml.dump({
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Runbook',
      metadata: { name: 'web-degrade', namespace: ns },
      spec: {
        triggers: [{ alertname: 'WebSlow' }],
        params: [{ name: 'deployment', from: 'labels.deployment' }],
        target: { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' },
        steps: [
          { name: 'scale-down', action: 'scale', scale: { replicas: 1 } },
          { name: 'degrade', action: 'setEnv', setEnv: { env: [{ name: 'MODE', value: 'degraded' }] } },
          { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} },
        ],
      },
    }),
  );
  writeFileSync(join(dir, 'alert.yaml'), yaml.dump({ labels: { alertname: 'WebSlow', deployment: 'web' } }));
});

afterAll(async () => {
  await deleteNamespace(ns);
});

describe('kube-remediator plan --cluster', () => {
  it('plans on the live objects, sends the changes as server-side dry runs, persists nothing', async () => {
    let out = '';
    let err = '';
    const code = await runPlanCommand(
      [
        '--runbook',
        join(dir, 'runbook.yaml'),
        '--alert',
        join(dir, 'alert.yaml'),
        '--cluster',
        '--kubeconfig',
        process.env.KUBECONFIG ?? '',
        '-o',
        'json',
      ],
      { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    const got = JSON.parse(out) as {
      runbooks: {
        remediation: {
          phase: string;
          steps: { name: string; before?: unknown; after?: unknown; message?: string }[];
        };
      }[];
    };
    const rem = got.runbooks[0]!.remediation;
    expect(rem.phase).toBe('Succeeded');
    expect(rem.steps[0]).toMatchObject({ before: { replicas: 3 }, after: { replicas: 1 } });
    expect(rem.steps[0]!.message).toContain('would scale');
    expect(rem.steps[1]).toMatchObject({
      before: { containers: { main: { MODE: { value: 'normal', index: 0 } } } },
      after: { containers: { main: { MODE: { value: 'degraded' } } } },
    });
    expect(rem.steps[2]!.message).toContain('would restart');

    // Nothing was persisted.
    const d = await testClients().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.template.spec?.containers[0]?.env).toEqual([{ name: 'MODE', value: 'normal' }]);
    expect(d.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeUndefined();
  });
});
