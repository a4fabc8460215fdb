export { RunbookReconciler, stampClearBlock, type RunbookReconcilerDeps } from './reconciler.js';
export { validateRunbook, validateSteps, type ActionLookup } from './validate.js';
