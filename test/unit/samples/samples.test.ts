/**
 * config/samples/: one Runbook and one Remediation per seed runbook. Each file must pass the
 * TypeBox schema (the same one the CRDs are made from) and make sense as a pair: the
 * Remediation names its Runbook, its alert matches a trigger, every param resolves, every
 * template renders and every target lies in the Runbook's allowed namespaces.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect } from '@jest/globals';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import yaml from 'js-yaml';
import {
  ACTIONS,
  API_VERSION,
  DNS1123_SUBDOMAIN,
  RemediationSpec,
  RunbookSpec,
} from '../../../src/api/v1alpha1/index.js';
import type { Remediation, Runbook, Step } from '../../../src/api/v1alpha1/index.js';
import { matchTriggers } from '../../../src/runbook/match.js';
import {
  renderStep,
  renderTarget,
  resolveParams,
  stepRefs,
  templateRefs,
} from '../../../src/runbook/template.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

const SAMPLES = join(REPO_ROOT, 'config', 'samples');

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface RbacObject {
  kind: string;
  metadata: { name: string; namespace: string };
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace: string }[];
}
const SEEDS = [
  'data-storage-service',
  'dedup-store-outage',
  'fluxa-pipeline',
  'multi-region-failover',
  'redis-outage',
];
const REVERSIBLE = new Set(['setEnv', 'scale', 'patch']);

// RFC 3339 date-time, as the API server checks `format: date-time`.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (v) =>
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(v) && !Number.isNaN(Date.parse(v)),
  );
}

function load<T>(file: string): T {
  return yaml.load(readFileSync(join(SAMPLES, file), 'utf8')) as T;
}

function schemaErrors(schema: typeof RunbookSpec | typeof RemediationSpec, value: unknown): string[] {
  return [...Value.Errors(schema, value)].map(
    (e) => `${e.path}: ${e.message} (got ${JSON.stringify(e.value)})`,
  );
}

/** The one-of rule the Runbook controller enforces: the member named after `action` is set, no other. */
function stepShapeErrors(step: Step): string[] {
  const errs: string[] = [];
  const s = step as unknown as Record<string, unknown>;
  if (s[step.action] === undefined)
    errs.push(`step ${step.name}: action ${step.action} without member ${step.action}`);
  for (const a of ACTIONS)
    if (a !== step.action && s[a] !== undefined)
      errs.push(`step ${step.name}: member ${a} but action ${step.action}`);
  if (step.revertOnResolve && !REVERSIBLE.has(step.action))
    errs.push(`step ${step.name}: revertOnResolve on ${step.action}`);
  return errs;
}

describe('config/samples', () => {
  it('holds exactly one Runbook, one Remediation and one RBAC file per seed, and a README', () => {
    const files = readdirSync(SAMPLES).sort();
    const expected = SEEDS.flatMap((s) => [`${s}.rbac.yaml`, `${s}.remediation.yaml`, `${s}.runbook.yaml`]);
    expect(files.filter((f) => f.endsWith('.yaml'))).toEqual(expected.sort());
    const readme = readFileSync(join(SAMPLES, 'README.md'), 'utf8');
    for (const f of expected) expect(readme).toContain(f);
    for (const s of SEEDS) expect(readme).toContain(`${s}.md`);
  });

  describe.each(SEEDS)('%s', (seed) => {
    const rb = load<Runbook>(`${seed}.runbook.yaml`);
    const rem = load<Remediation>(`${seed}.remediation.yaml`);

    it('Runbook passes the schema', () => {
      expect(rb.apiVersion).toBe(API_VERSION);
      expect(rb.kind).toBe('Runbook');
      expect(rb.metadata.name).toBe(seed);
      expect(rb.metadata.name).toMatch(new RegExp(DNS1123_SUBDOMAIN));
      expect(schemaErrors(RunbookSpec, rb.spec)).toEqual([]);
      expect(Value.Check(RunbookSpec, rb.spec)).toBe(true);
    });

    it('Remediation passes the schema', () => {
      expect(rem.apiVersion).toBe(API_VERSION);
      expect(rem.kind).toBe('Remediation');
      expect(rem.metadata.name).toMatch(new RegExp(DNS1123_SUBDOMAIN));
      expect(rem.metadata.name!.length).toBeLessThanOrEqual(63);
      expect(schemaErrors(RemediationSpec, rem.spec)).toEqual([]);
      expect(Value.Check(RemediationSpec, rem.spec)).toBe(true);
    });

    it('Runbook steps are well formed: one-of members, unique names, declared params', () => {
      const steps = rb.spec.steps;
      expect(steps.flatMap(stepShapeErrors)).toEqual([]);
      expect(new Set(steps.map((s) => s.name)).size).toBe(steps.length);
      const declared = new Set((rb.spec.params ?? []).map((p) => p.name));
      const refs = new Set(steps.flatMap(stepRefs));
      for (const t of [rb.spec.target, ...steps.map((s) => s.target)]) {
        if (t) for (const v of [t.name, t.namespace ?? '']) templateRefs(v).forEach((r) => refs.add(r));
      }
      if (rb.spec.onFailure?.notify)
        templateRefs(rb.spec.onFailure.notify.message).forEach((r) => refs.add(r));
      expect([...refs].filter((r) => !declared.has(r))).toEqual([]);
      expect(rb.spec.triggers?.length).toBeGreaterThan(0);
      expect(rb.spec.safety?.allowedNamespaces?.length).toBeGreaterThan(0);
      expect(rb.spec.safety?.cooldown).toBeDefined();
      expect(rb.spec.safety?.maxPerHour).toBeDefined();
      expect(rb.spec.safety?.maxConcurrent).toBeDefined();
    });

    it('Remediation references its Runbook in the same namespace with a realistic firing alert', () => {
      expect(rem.spec.runbookRef?.name).toBe(rb.metadata.name);
      expect(rem.spec.steps).toBeUndefined();
      expect(rem.metadata.namespace ?? 'default').toBe(rb.metadata.namespace ?? 'default');
      const alert = rem.spec.alert!;
      expect(alert).toBeDefined();
      expect(alert.status).toBe('firing');
      expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(Date.parse(alert.startsAt!)).not.toBeNaN();
      expect(alert.labels?.alertname).toBe(alert.name);
      expect(Object.keys(alert.annotations ?? {})).toContain('summary');
      expect(matchTriggers(rb.spec.triggers, alert.labels ?? {})).toBeDefined();
      const declared = new Set((rb.spec.params ?? []).map((p) => p.name));
      expect(Object.keys(rem.spec.params ?? {}).filter((k) => !declared.has(k))).toEqual([]);
    });

    it('every param resolves from the alert alone, and every step renders inside the allowed namespaces', () => {
      const allowed = rb.spec.safety?.allowedNamespaces ?? [rb.metadata.namespace ?? 'default'];
      for (const overrides of [{}, rem.spec.params ?? {}]) {
        const { values, missing } = resolveParams(rb.spec.params, rem.spec.alert, overrides);
        expect(missing).toEqual([]);
        for (const step of rb.spec.steps) {
          expect(() => renderStep(step, values)).not.toThrow();
          const target = step.target ?? rb.spec.target;
          if (!target) continue;
          const t = renderTarget(target, values, rem.metadata.namespace ?? 'default');
          expect(allowed).toContain(t.namespace);
        }
      }
    });

    it('every address a step calls is a host and a port param with an in-cluster default (ADR 16)', () => {
      const params = new Map((rb.spec.params ?? []).map((p) => [p.name, p]));
      const urls = rb.spec.steps.flatMap((s) => {
        const member = (s as unknown as Record<string, { url?: string } | undefined>)[s.action];
        return member?.url ? [member.url] : [];
      });
      for (const url of urls) {
        const m = /^[a-z]+:\/\/\{\{ ([a-z_]+)_host \}\}:\{\{ \1_port \}\}(\/|$)/.exec(url);
        expect(m).not.toBeNull();
        const host = params.get(`${m![1]}_host`);
        const port = params.get(`${m![1]}_port`);
        expect(host).toMatchObject({
          from: `labels.${m![1]}_host`,
          default: expect.stringMatching(/\.svc$/),
        });
        expect(port).toMatchObject({ from: `labels.${m![1]}_port`, default: expect.stringMatching(/^\d+$/) });
      }
    });

    it('names a ServiceAccount that its RBAC file creates, with namespaced least-privilege grants (ADR 23)', () => {
      const ns = rb.metadata.namespace ?? 'default';
      const sa = rb.spec.serviceAccountName;
      expect(sa).toBeDefined();
      const objects = yaml
        .loadAll(readFileSync(join(SAMPLES, `${seed}.rbac.yaml`), 'utf8'))
        .filter(Boolean) as RbacObject[];
      expect(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata)).toEqual([
        { name: sa, namespace: ns },
      ]);
      // Namespaced only: nothing cluster-wide, no wildcard, no write verb beyond patch.
      expect(
        objects.map((o) => o.kind).filter((k) => !['ServiceAccount', 'Role', 'RoleBinding'].includes(k)),
      ).toEqual([]);
      const roles = new Map(
        objects
          .filter((o) => o.kind === 'Role')
          .map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]),
      );
      const granted: { ns: string; rule: PolicyRule }[] = [];
      for (const b of objects.filter((o) => o.kind === 'RoleBinding')) {
        expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: ns }]);
        const role = roles.get(`${b.metadata.namespace}/${b.roleRef!.name}`);
        expect(role).toBeDefined();
        for (const rule of role!.rules ?? []) granted.push({ ns: b.metadata.namespace, rule });
      }
      for (const { rule } of granted) {
        expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
        expect(rule.verbs.filter((v) => !['get', 'list', 'patch'].includes(v))).toEqual([]);
      }
      // The target, by name, in the namespace the Runbook's defaults name.
      const { values } = resolveParams(rb.spec.params, undefined, {});
      const target = renderTarget(rb.spec.target!, values, ns);
      const plural = `${target.kind.toLowerCase()}s`;
      const onTarget = granted.filter(
        (g) => g.ns === target.namespace && g.rule.resources.some((r) => r.split('/')[0] === plural),
      );
      expect(onTarget.length).toBeGreaterThan(0);
      for (const g of onTarget) expect(g.rule.resourceNames).toEqual([target.name]);
      // Exactly the Secrets the Runbook refers to, read-only, in its own namespace.
      const refs = [...JSON.stringify(rb.spec).matchAll(/"secretKeyRef":\{"name":"([^"]+)"/g)].map(
        (m) => m[1],
      );
      const secrets = granted.filter((g) => g.rule.resources.includes('secrets'));
      expect(secrets.every((g) => g.ns === ns && g.rule.verbs.join() === 'get')).toBe(true);
      expect(secrets.flatMap((g) => g.rule.resourceNames ?? []).sort()).toEqual([...new Set(refs)].sort());
    });

    it('scale steps stay within the bounds, and the params of the alert equal those the Remediation sets', () => {
      const b = rb.spec.safety?.bounds ?? {};
      for (const s of rb.spec.steps.filter((x) => x.action === 'scale')) {
        expect(b.minReplicas).toBeDefined();
        expect(b.maxReplicas).toBeDefined();
        expect(s.scale!.replicas).toBeGreaterThanOrEqual(b.minReplicas!);
        expect(s.scale!.replicas).toBeLessThanOrEqual(b.maxReplicas!);
      }
      const fromAlert = resolveParams(rb.spec.params, rem.spec.alert).values;
      const withOverrides = resolveParams(rb.spec.params, rem.spec.alert, rem.spec.params).values;
      expect(withOverrides).toEqual(fromAlert);
    });
  });

  it('covers the actions the seeds call for', () => {
    const actionsOf = (seed: string): string[] =>
      load<Runbook>(`${seed}.runbook.yaml`).spec.steps.map((s) => s.action);
    expect(actionsOf('dedup-store-outage')).toEqual(
      expect.arrayContaining(['setEnv', 'waitForRollout', 'redisCheck', 'notify']),
    );
    expect(actionsOf('redis-outage')).toEqual(
      expect.arrayContaining(['rolloutRestart', 'waitForRollout', 'redisCheck']),
    );
    expect(actionsOf('fluxa-pipeline')).toEqual(
      expect.arrayContaining(['postgresCheck', 'postgresQuery', 'scale', 'waitForRollout', 'httpCall']),
    );
    expect(actionsOf('data-storage-service')).toEqual(
      expect.arrayContaining(['rolloutUndo', 'waitForRollout', 'httpCheck']),
    );
    expect(actionsOf('multi-region-failover')).toEqual(
      expect.arrayContaining(['setEnv', 'prometheusQuery', 'notify']),
    );
    const mrf = load<Runbook>('multi-region-failover.runbook.yaml');
    // Issue #12: the RPO guard skips (not fails) below the RPO; the destructive step waits for a person within the RTO.
    expect(mrf.spec.guard?.onNotMet).toBe('SkipRemediation');
    expect(mrf.spec.guard?.checks[0]?.prometheusQuery?.noData).toBe('Fail');
    expect(mrf.spec.steps.find((s) => s.action === 'setEnv')?.requireApproval).toEqual({
      timeout: '5m',
      onTimeout: 'Fail',
    });
    const ds = load<Runbook>('data-storage-service.runbook.yaml');
    // Runbook 6 "P0: Service Down": PostgreSQL is checked first, a rollback only for a recent deploy.
    expect(ds.spec.triggers?.map((t) => t.alertname)).toEqual([
      'KubeDeploymentRolloutStuck',
      'DataStorageServiceDown',
    ]);
    expect(
      ds.spec.steps[0]?.guard?.checks.map((c) => Object.keys(c).find((k) => k !== 'name' && k !== 'timeout')),
    ).toEqual(['postgresCheck', 'rollout']);
    expect(ds.spec.steps[0]?.guard?.onNotMet).toBe('SkipRemediation');
    expect(ds.spec.escalation?.[0]?.after).toBe('15m');
    expect(load<Runbook>('dedup-store-outage.runbook.yaml').spec.escalation?.[0]?.after).toBe('1h');
    const dedup = load<Runbook>('dedup-store-outage.runbook.yaml');
    expect(dedup.spec.steps.find((s) => s.action === 'setEnv')?.revertOnResolve).toBe(true);
  });
});
