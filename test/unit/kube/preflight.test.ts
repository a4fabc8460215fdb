/**
 * What the start checks with SelfSubjectAccessReviews: everything the operator needs to start,
 * and nothing its shipped RBAC (config/rbac/) does not grant, so a correct install always passes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import type { Access } from '../../../src/kube/diagnose.js';
import { requiredAccess } from '../../../src/kube/preflight.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const rules = (file: string): Rule[] =>
  (yaml.load(readFileSync(join(REPO_ROOT, 'config/rbac', file), 'utf8')) as { rules: Rule[] }).rules;

const grants = (rs: Rule[], a: Access): boolean =>
  rs.some(
    (r) =>
      r.apiGroups.includes(a.group) &&
      r.resources.includes(a.subresource ? `${a.resource}/${a.subresource}` : a.resource) &&
      r.verbs.includes(a.verb),
  );

describe('requiredAccess', () => {
  it('checks our kinds in the watched namespace, the Lease in its namespace, the CRDs only with --install-crds', () => {
    const scoped = requiredAccess({ watchNamespace: 'dash', leaseNamespace: 'ops', installCrds: false });
    expect(scoped.filter((a) => a.group === 'kube-remediator.io').every((a) => a.namespace === 'dash')).toBe(
      true,
    );
    expect(scoped.filter((a) => a.resource === 'leases').map((a) => `${a.verb} ${a.namespace}`)).toEqual([
      'get ops',
      'create ops',
      'update ops',
    ]);
    expect(scoped.some((a) => a.resource === 'customresourcedefinitions')).toBe(false);
    const all = requiredAccess({ watchNamespace: '', installCrds: true });
    expect(all.filter((a) => a.group === 'kube-remediator.io').every((a) => a.namespace === undefined)).toBe(
      true,
    );
    expect(all.some((a) => a.resource === 'leases')).toBe(false);
    expect(all.filter((a) => a.resource === 'customresourcedefinitions')).toHaveLength(3);
  });

  it("is granted by the shipped RBAC (the CRDs are the chart's job, not the operator's)", () => {
    const shipped = [...rules('role.yaml'), ...rules('leader_election_role.yaml')];
    const needs = requiredAccess({
      watchNamespace: '',
      leaseNamespace: 'kube-remediator-system',
      installCrds: false,
    });
    expect(needs.filter((a) => !grants(shipped, a))).toEqual([]);
  });
});
