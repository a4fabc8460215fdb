/**
 * Issue #17 on the real control plane (RBAC on): in identity mode serviceAccount a Runbook can
 * do only what a ServiceAccount of its own namespace may do. The scenario of the issue (a team
 * scales kube-system/coredns to 0 through the operator's rights) is refused with a reason that
 * names the ServiceAccount and what to grant, and coredns is untouched; once the team's
 * ServiceAccount is granted the scale, the same Runbook works; a patch beyond its rights, and a
 * Secret of another namespace, stay out of reach.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONDITION_TYPES, REASONS } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation, RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { findCondition } from '../../../src/api/v1alpha1/conditions.js';
import { isAlreadyExists } from '../../../src/kube/client.js';
import { createDeployment, createNamespace, deleteNamespace, testClients } from '../../support/kube.js';
import {
  createRemediation,
  createRunbook,
  reconcileUntilStable,
  type Harness,
} from '../controller/helpers.js';
import { createServiceAccount, grant, identityHarness } from './helpers.js';

const SYSTEM = 'kube-system';
const coredns = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'coredns', namespace: SYSTEM };

/** The Runbook of the issue: scale kube-system/coredns to 0, "allowed" by its own author. */
const scaleCoredns = (serviceAccountName?: string): RunbookSpec => ({
  ...(serviceAccountName ? { serviceAccountName } : {}),
  target: coredns,
  steps: [{ name: 'scale-down', action: 'scale', scale: { replicas: 0 } }],
  safety: { allowedNamespaces: [SYSTEM], bounds: { minReplicas: 0 } },
});

const failedStep = (rem: Remediation): string => rem.status?.steps?.[0]?.message ?? '';

async function corednsReplicas(): Promise<number | undefined> {
  const d = await testClients().apps.readNamespacedDeployment({ name: 'coredns', namespace: SYSTEM });
  return d.spec?.replicas;
}

describe('identity mode serviceAccount: a Runbook acts with its ServiceAccount’s rights', () => {
  let team: string;
  let other: string;
  let h: Harness;
  let n = 0;
  const run = async (spec: RunbookSpec): Promise<Remediation> => {
    const name = `rb-${++n}`;
    await createRunbook(team, name, spec);
    await createRemediation(team, `${name}-rem`, { runbookRef: { name } });
    return reconcileUntilStable(h, { namespace: team, name: `${name}-rem` });
  };

  beforeAll(async () => {
    team = await createNamespace('team-a');
    other = await createNamespace('team-b');
    h = identityHarness({ mode: 'serviceAccount', defaultServiceAccount: 'default' });
    try {
      await createDeployment(SYSTEM, 'coredns', { replicas: 2 });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    await createServiceAccount(team, 'fixer');
  });

  afterAll(async () => {
    await testClients()
      .apps.deleteNamespacedDeployment({ name: 'coredns', namespace: SYSTEM })
      .catch(() => undefined);
    await deleteNamespace(team);
    await deleteNamespace(other);
  });

  it('refuses the coredns scenario with a reason naming the ServiceAccount, and leaves coredns alone', async () => {
    const rem = await run(scaleCoredns());
    expect(rem.status?.phase).toBe('Failed');
    expect(rem.status?.identity).toBe(`system:serviceaccount:${team}:default`);
    const msg = failedStep(rem);
    expect(msg).toContain(`ServiceAccount ${team}/default`);
    expect(msg).toMatch(/may not get deployments\.apps(\/scale)? in namespace kube-system/);
    expect(msg).toContain(`--serviceaccount=${team}:default`);
    expect(findCondition(rem.status?.conditions, CONDITION_TYPES.succeeded)?.reason).toBeDefined();
    expect(await corednsReplicas()).toBe(2);
  });

  it('works once the team’s ServiceAccount is granted the scale in kube-system', async () => {
    // Before the grant: refused, naming `fixer`.
    const before = await run(scaleCoredns('fixer'));
    expect(before.status?.phase).toBe('Failed');
    expect(failedStep(before)).toContain(`ServiceAccount ${team}/fixer`);
    expect(await corednsReplicas()).toBe(2);

    await grant(
      SYSTEM,
      `scale-coredns-${team}`,
      [
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'], resourceNames: ['coredns'] },
        {
          apiGroups: ['apps'],
          resources: ['deployments/scale'],
          verbs: ['get', 'patch'],
          resourceNames: ['coredns'],
        },
      ],
      { serviceAccount: 'fixer', namespace: team },
    );
    const after = await run(scaleCoredns('fixer'));
    expect(after.status?.phase).toBe('Succeeded');
    expect(await corednsReplicas()).toBe(0);
    await testClients().apps.patchNamespacedDeploymentScale(
      { name: 'coredns', namespace: SYSTEM, body: { spec: { replicas: 2 } } },
      (await import('../../../src/kube/client.js')).PATCH.merge,
    );
  });

  it('refuses a patch outside the ServiceAccount’s rights (scale granted, not patch)', async () => {
    const image = async (): Promise<string | undefined> =>
      (await testClients().apps.readNamespacedDeployment({ name: 'coredns', namespace: SYSTEM })).spec
        ?.template.spec?.containers[0]?.image;
    const was = await image();
    const rem = await run({
      serviceAccountName: 'fixer',
      target: coredns,
      steps: [
        {
          name: 'swap-image',
          action: 'patch',
          patch: {
            type: 'strategic',
            patch: { spec: { template: { spec: { containers: [{ name: 'main', image: 'evil:latest' }] } } } },
          },
        },
      ],
      safety: { allowedNamespaces: [SYSTEM] },
    });
    expect(rem.status?.phase).toBe('Failed');
    expect(failedStep(rem)).toMatch(
      new RegExp(`ServiceAccount ${team}/fixer .*may not patch deployments\\.apps in namespace kube-system`),
    );
    expect(await image()).toBe(was);
  });

  it('cannot read a Secret of another namespace through a Runbook', async () => {
    await testClients().core.createNamespacedSecret({
      namespace: other,
      body: { metadata: { name: 'db' }, stringData: { password: 'hunter2' } },
    });
    const rem = await run({
      serviceAccountName: 'fixer',
      target: { apiVersion: 'v1', kind: 'Secret', name: 'db', namespace: other },
      steps: [
        {
          name: 'label',
          action: 'patch',
          patch: { type: 'merge', patch: { metadata: { labels: { x: 'y' } } } },
        },
      ],
      safety: { allowedNamespaces: [other] },
    });
    expect(rem.status?.phase).toBe('Failed');
    expect(failedStep(rem)).toMatch(new RegExp(`may not get secrets in namespace ${other}`));
    // Nothing of the Secret was recorded.
    expect(JSON.stringify(rem.status)).not.toContain('hunter2');
    expect(JSON.stringify(rem.status)).not.toContain(Buffer.from('hunter2').toString('base64'));
  });

  it('reads a secretKeyRef under the ServiceAccount too (no `get secrets` in its own namespace: refused)', async () => {
    await testClients().core.createNamespacedSecret({
      namespace: team,
      body: { metadata: { name: 'hook' }, stringData: { url: 'http://127.0.0.1:1/' } },
    });
    const rem = await run({
      serviceAccountName: 'fixer',
      steps: [
        {
          name: 'call',
          action: 'notify',
          notify: { urlFrom: { secretKeyRef: { name: 'hook', key: 'url' } }, message: 'hello' },
        },
      ],
    });
    expect(rem.status?.phase).toBe('Failed');
    expect(failedStep(rem)).toMatch(
      new RegExp(
        `notify.urlFrom: cannot read Secret hook: ServiceAccount ${team}/fixer .*may not get secrets in namespace ${team}`,
      ),
    );
  });

  it('single-tenant mode keeps today’s behaviour: the operator’s rights', async () => {
    const single = identityHarness({ mode: 'operator', defaultServiceAccount: 'default' });
    await createDeployment(team, 'web', { replicas: 1 });
    await createRunbook(team, 'single', {
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      steps: [{ name: 'up', action: 'scale', scale: { replicas: 2 } }],
    });
    await createRemediation(team, 'single-rem', { runbookRef: { name: 'single' } });
    const rem = await reconcileUntilStable(single, { namespace: team, name: 'single-rem' });
    expect(rem.status?.phase).toBe('Succeeded');
    expect(rem.status?.identity).toBeUndefined();
    expect(REASONS.forbidden).toBe('Forbidden');
  });
});
