/**
 * The operator's kinds as the generic runtime (src/runtime) watches them, and the read-only
 * caches the two controllers get. The runtime knows no kind of its own: this is where ours
 * are named.
 */
import type { TargetReader } from '../actions/types.js';
import { GROUP, RESOURCES, VERSION } from '../api/v1alpha1/constants.js';
import type { Remediation, Runbook } from '../api/v1alpha1/schema.js';
import type { ResourceKind } from '../runtime/informer.js';
import type { Cache } from '../runtime/types.js';

/** Kind name → object type, the type parameter of the Manager. */
export type Kinds = {
  remediation: Remediation;
  runbook: Runbook;
};

export const KINDS: { readonly [K in keyof Kinds]: ResourceKind } = {
  remediation: { group: GROUP, version: VERSION, plural: RESOURCES.remediation.plural },
  runbook: { group: GROUP, version: VERSION, plural: RESOURCES.runbook.plural },
};

export interface Caches {
  readonly remediations: Cache<Remediation>;
  readonly runbooks: Cache<Runbook>;
  /** The workloads plan() reads (controller.targetCache); absent: every read is a GET. */
  readonly targets?: TargetReader;
}

/** The controllers' view of a Manager's caches. */
export function cachesOf(m: {
  cache<N extends keyof Kinds>(kind: N): Cache<Kinds[N]>;
  targets(): TargetReader | undefined;
}): Caches {
  const targets = m.targets();
  return {
    remediations: m.cache('remediation'),
    runbooks: m.cache('runbook'),
    ...(targets ? { targets } : {}),
  };
}
