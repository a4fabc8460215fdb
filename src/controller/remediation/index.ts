/** What the operator wires: the reconciler, its watch mappings, and the pure pieces intake may reuse. */
export {
  RemediationReconciler,
  MAX_CONFLICT_RETRIES,
  type RemediationReconcilerDeps,
  type RemediationReconcilerConfig,
  type ActionRegistry,
} from './reconciler.js';
export { remediationsForRunbook, runbookForRemediation, isFinal } from './mapping.js';
export {
  decide,
  afterPlan,
  afterApply,
  afterRevert,
  type Observed,
  type Decision,
  type Operation,
} from './decide.js';
