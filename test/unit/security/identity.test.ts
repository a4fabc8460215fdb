import { describe, expect, it } from '@jest/globals';
import type { Remediation, Runbook } from '../../../src/api/v1alpha1/schema.js';
import {
  identityOf,
  identityText,
  parseServiceAccountUser,
  resolveIdentity,
  type IdentitySettings,
} from '../../../src/security/identity.js';
import { denialMessage, parseDenial } from '../../../src/security/forbidden.js';

const SA: IdentitySettings = { mode: 'serviceAccount', defaultServiceAccount: 'default' };
const OP: IdentitySettings = { mode: 'operator', defaultServiceAccount: 'default' };

const rem = (spec: Partial<Remediation['spec']>, identity?: string): Remediation => ({
  apiVersion: 'kube-remediator.io/v1alpha1',
  kind: 'Remediation',
  metadata: { name: 'r', namespace: 'team-a' },
  spec: { ...spec },
  ...(identity ? { status: { identity } } : {}),
});
const runbook = (serviceAccountName?: string): Pick<Runbook, 'spec'> => ({
  spec: { steps: [], ...(serviceAccountName ? { serviceAccountName } : {}) },
});

describe('resolveIdentity', () => {
  it.each<[string, IdentitySettings, Remediation, Pick<Runbook, 'spec'> | undefined, string]>([
    [
      'operator mode ignores the Runbook',
      OP,
      rem({ runbookRef: { name: 'x' } }),
      runbook('fixer'),
      'operator',
    ],
    [
      "the Runbook's ServiceAccount",
      SA,
      rem({ runbookRef: { name: 'x' } }),
      runbook('fixer'),
      'system:serviceaccount:team-a:fixer',
    ],
    [
      'the default ServiceAccount when the Runbook names none',
      SA,
      rem({ runbookRef: { name: 'x' } }),
      runbook(),
      'system:serviceaccount:team-a:default',
    ],
    [
      'a changed default',
      { mode: 'serviceAccount', defaultServiceAccount: 'runbooks' },
      rem({ runbookRef: { name: 'x' } }),
      runbook(),
      'system:serviceaccount:team-a:runbooks',
    ],
    [
      "inline steps: the Remediation's",
      SA,
      rem({ steps: [], serviceAccountName: 'oneoff' }),
      undefined,
      'system:serviceaccount:team-a:oneoff',
    ],
    [
      "with a runbookRef the Remediation's own name is ignored (the Runbook decides)",
      SA,
      rem({ runbookRef: { name: 'x' }, serviceAccountName: 'other' }),
      runbook(),
      'system:serviceaccount:team-a:default',
    ],
  ])('%s', (_name, settings, r, rb, want) => {
    expect(identityText(resolveIdentity(settings, r, rb))).toBe(want);
  });
});

describe('identityOf', () => {
  it.each<[string, IdentitySettings, Remediation, Pick<Runbook, 'spec'> | undefined, string]>([
    [
      'the identity fixed at the start wins over a Runbook changed since',
      SA,
      rem({ runbookRef: { name: 'x' } }, 'system:serviceaccount:team-a:fixer'),
      runbook('admin'),
      'system:serviceaccount:team-a:fixer',
    ],
    [
      'a Runbook deleted mid-run: still the recorded one',
      SA,
      rem({ runbookRef: { name: 'x' } }, 'system:serviceaccount:team-a:fixer'),
      undefined,
      'system:serviceaccount:team-a:fixer',
    ],
    [
      'a recorded identity of another namespace is never used',
      SA,
      rem({ runbookRef: { name: 'x' } }, 'system:serviceaccount:kube-system:admin'),
      runbook(),
      'system:serviceaccount:team-a:default',
    ],
    [
      'a recorded `operator` under serviceAccount mode is not trusted',
      SA,
      rem({ runbookRef: { name: 'x' } }, 'operator'),
      runbook('fixer'),
      'system:serviceaccount:team-a:fixer',
    ],
    [
      'operator mode: the operator, whatever was recorded',
      OP,
      rem({ runbookRef: { name: 'x' } }, 'system:serviceaccount:team-a:fixer'),
      runbook(),
      'operator',
    ],
  ])('%s', (_name, settings, r, rb, want) => {
    expect(identityText(identityOf(settings, r, rb))).toBe(want);
  });
});

describe('parseServiceAccountUser', () => {
  it.each<[string, string | undefined]>([
    ['system:serviceaccount:team-a:fixer', 'team-a/fixer'],
    ['system:serviceaccount:team-a', undefined],
    ['system:serviceaccount:a:b:c', undefined],
    ['alice', undefined],
    ['system:admin', undefined],
  ])('%s', (user, want) => {
    const sa = parseServiceAccountUser(user);
    expect(sa ? `${sa.namespace}/${sa.name}` : undefined).toBe(want);
  });
});

describe('denialMessage', () => {
  const msg = (user: string, rest: string): string =>
    `deployments.apps "coredns" is forbidden: User "${user}" ${rest}`;

  it('names the ServiceAccount, verb, resource and namespace, and how to grant it', () => {
    const m = denialMessage(
      msg(
        'system:serviceaccount:team-a:default',
        'cannot patch resource "deployments/scale" in API group "apps" in the namespace "kube-system"',
      ),
    );
    expect(m).toContain('ServiceAccount team-a/default');
    expect(m).toContain('may not patch deployments.apps/scale in namespace kube-system');
    expect(m).toContain('kubectl -n kube-system create role');
    expect(m).toContain('--verb=patch --resource=deployments.apps/scale');
    expect(m).toContain('--serviceaccount=team-a:default');
  });

  it('the core group has no suffix', () => {
    expect(
      denialMessage(
        'secrets "db" is forbidden: User "system:serviceaccount:team-a:x" cannot get resource "secrets" in API group "" in the namespace "other"',
      ),
    ).toContain('may not get secrets in namespace other');
  });

  it('cluster scope grants with a ClusterRole', () => {
    const m = denialMessage(
      'nodes "n1" is forbidden: User "system:serviceaccount:team-a:x" cannot patch resource "nodes" in API group "" at the cluster scope',
    );
    expect(m).toContain('at the cluster scope');
    expect(m).toContain('kubectl create clusterrole');
  });

  it.each([
    // The operator's own rights: the old message applies.
    msg('system:serviceaccount:kr:kube-remediator', 'is not a parseable denial'),
    msg('alice', 'cannot get resource "deployments" in API group "apps" in the namespace "x"'),
    'some other error',
  ])('undefined when not a ServiceAccount denial: %s', (m) => {
    expect(denialMessage(m)).toBeUndefined();
  });

  it('parseDenial reads every part', () => {
    expect(parseDenial(msg('u', 'cannot list resource "pods" in API group "" in the namespace "n"'))).toEqual(
      { user: 'u', verb: 'list', resource: 'pods', group: '', namespace: 'n' },
    );
  });
});
