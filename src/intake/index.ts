export {
  buildWebhookServer,
  httpStatusOf,
  type WebhookServer,
  type WebhookServerDeps,
  type ErrorBody,
} from './server.js';
export {
  AlertIntake,
  DEFAULT_ALERT_CONCURRENCY,
  type IntakeDeps,
  type RunbookSource,
  type AlertResult,
  type RunbookResult,
  type RemediationCache,
} from './intake.js';
export { resolveMatches, resolveVerdict, type ResolveVerdict } from './resolve-match.js';
export { listRunbookSource } from './runbook-source.js';
export { remediationName, labelValue } from './naming.js';
export { planRunbook, matchingRunbooks, isActive, nameFor } from './plan.js';
export { WebhookPayload, WebhookAlert, SUPPORTED_VERSION } from './payload.js';
export { WebhookAuth } from './auth.js';
