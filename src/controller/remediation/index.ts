/** What the operator wires: the reconciler, its watch mappings, and the pure pieces intake may reuse. */
export {
  RemediationReconciler,
  MAX_CONFLICT_RETRIES,
  type RemediationReconcilerDeps,
  type RemediationReconcilerConfig,
  type ActionRegistry,
} from './reconciler.js';
export { remediationsForRunbook, runbookForRemediation } from './mapping.js';
export { isFinal } from '../../api/v1alpha1/lifecycle.js';
export { next, needsPeers } from './protocol.js';
export type { Decision, Effect, Observed, Operation } from './decision.js';
