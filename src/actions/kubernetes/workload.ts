/** Workload targets (Deployment, StatefulSet, DaemonSet) and reading plain JSON objects. */
import type { ActionContext } from '../types.js';
import type { Step } from '../../api/v1alpha1/schema.js';
import type { KubeObject, ObjectRef } from '../../kube/raw-object.js';
import { ERROR_CODES } from '../../util/errors.js';
import { failed, isFailed, type Failed } from '../outcome.js';
import { requireTarget } from '../step-input.js';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export function requireWorkload(
  ctx: ActionContext,
  kinds: readonly WorkloadKind[] = WORKLOAD_KINDS,
): ObjectRef | Failed {
  const t = requireTarget(ctx);
  if (isFailed(t)) return t;
  if (!(kinds as readonly string[]).includes(t.kind)) {
    return failed(
      ERROR_CODES.invalidSpec,
      'UnsupportedKind',
      `${ctx.step.action} works on ${kinds.join(', ')}, not ${t.kind}`,
      false,
    );
  }
  return t;
}

/** The Kubernetes checks of a target kind in `step.target`, if the step names one. */
export function validateTargetKind(step: Step, kinds: readonly string[]): string[] {
  const kind = step.target?.kind;
  if (kind !== undefined && !kinds.includes(kind))
    return [`target.kind: ${step.action} works on ${kinds.join(', ')}, not ${kind}`];
  return [];
}

/** A value read from an object at a dotted path of keys. */
export function dig(obj: unknown, ...keys: string[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function annotationsOf(obj: unknown, ...keys: string[]): Record<string, string> {
  return (dig(obj, ...keys, 'annotations') as Record<string, string> | undefined) ?? {};
}

/** Turns a Kubernetes label selector into the query-string form. */
export function selectorString(sel: unknown): string {
  const s = (sel ?? {}) as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export function isControlledBy(obj: KubeObject, ownerUid: string | undefined): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.uid === ownerUid);
}
