export { RunbookReconciler, type RunbookReconcilerDeps } from './reconciler.js';
