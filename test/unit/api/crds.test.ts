/** The CRDs in crds/ are generated from src/api/v1alpha1: they must agree, and be documented. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { Value } from '@sinclair/typebox/value';
import { renderCrds } from '../../../scripts/gen-crds.js';
import { allCrds } from '../../../src/api/v1alpha1/crd.js';
import { RemediationSpec, RunbookSpec } from '../../../src/api/v1alpha1/schema.js';

type Node = Record<string, unknown>;

function walk(node: Node, path: string, visit: (n: Node, p: string) => void): void {
  visit(node, path);
  for (const [k, v] of Object.entries((node.properties as Record<string, Node>) ?? {}))
    walk(v, `${path}.${k}`, visit);
  if (node.items) walk(node.items as Node, `${path}[]`, visit);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    walk(node.additionalProperties as Node, `${path}{}`, visit);
  }
}

function schemaOf(crd: Node): Node {
  const versions = (crd.spec as Node).versions as Node[];
  return (versions[0]!.schema as Node).openAPIV3Schema as Node;
}

describe('CRDs', () => {
  it('crds/ is what `npm run gen:crds` generates from src/api', () => {
    for (const [path, text] of renderCrds()) expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('documents every field of spec and status (kubectl explain)', () => {
    const undocumented: string[] = [];
    for (const crd of allCrds()) {
      const root = schemaOf(crd);
      for (const part of ['spec', 'status']) {
        walk(
          (root.properties as Record<string, Node>)[part]!,
          `${(crd.spec as Node & { names: { kind: string } }).names.kind}.${part}`,
          (n, p) => {
            if (!p.endsWith('{}') && !p.endsWith('[]') && typeof n.description !== 'string')
              undocumented.push(p);
          },
        );
      }
    }
    expect(undocumented).toEqual([]);
  });

  it('no category is also a resource name (kubectl would expand the category instead)', () => {
    const names = allCrds().map((crd) => (crd.spec as { names: Record<string, unknown> }).names);
    const resourceNames = names.flatMap((n) => [
      n.plural as string,
      n.singular as string,
      (n.kind as string).toLowerCase(),
      ...(n.shortNames as string[]),
    ]);
    const categories = names.flatMap((n) => n.categories as string[]);
    expect(categories).toEqual(['kube-remediator', 'kube-remediator']);
    expect(categories.filter((c) => resourceNames.includes(c))).toEqual([]);
  });

  it('is structural: every node has a type unless it preserves unknown fields', () => {
    const untyped: string[] = [];
    for (const crd of allCrds()) {
      walk(schemaOf(crd), 'root', (n, p) => {
        if (!n.type && !n['x-kubernetes-preserve-unknown-fields'] && !n['x-kubernetes-int-or-string'])
          untyped.push(p);
        for (const banned of ['anyOf', 'oneOf', 'patternProperties', 'const', '$id']) {
          if (banned in n) untyped.push(`${p}: ${banned}`);
        }
      });
    }
    expect(untyped).toEqual([]);
  });

  it('the TypeScript types and the schema accept the same objects', () => {
    const runbook: RunbookSpec = {
      triggers: [
        { alertname: 'RedisDown', matchers: [{ label: 'severity', op: '=~', value: 'critical|page' }] },
      ],
      params: [{ name: 'ns', from: 'labels.namespace', default: 'default' }],
      steps: [
        {
          name: 'restart',
          action: 'rolloutRestart',
          rolloutRestart: {},
          target: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'redis', namespace: '{{ ns }}' },
        },
      ],
      safety: { cooldown: '10m', maxPerHour: 3, bounds: { maxMemory: '2Gi' } },
    };
    expect([...Value.Errors(RunbookSpec, runbook)]).toEqual([]);
    const rem: RemediationSpec = { runbookRef: { name: 'redis' }, params: { ns: 'dash' }, dryRun: true };
    expect([...Value.Errors(RemediationSpec, rem)]).toEqual([]);
    expect(Value.Check(RunbookSpec, { steps: [{ name: 's', action: 'reboot' }] })).toBe(false);
    expect(
      Value.Check(RunbookSpec, { steps: [{ name: 's', action: 'scale', scale: { replicas: -1 } }] }),
    ).toBe(false);
  });
});
