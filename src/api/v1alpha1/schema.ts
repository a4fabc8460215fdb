/**
 * The one source of truth for the kube-remediator.io/v1alpha1 API.
 *
 * One file per kind, as kubebuilder's `*_types.go`: `runbook-types.ts`, `remediation-types.ts`,
 * with the steps both carry in `step-types.ts` and the small shared pieces in `shared-types.ts`.
 * This file gathers them into one import.
 *
 * Every type is a TypeBox schema: `Static<typeof X>` gives the TypeScript type, the same
 * object validates at run time (Runbook validation, the webhook) and `scripts/gen-crds.ts`
 * turns it into the structural OpenAPI schema of the CRDs in `crds/`. A test fails when
 * `crds/` drifts from these files, so edit them and run `npm run gen:crds`.
 *
 * Kubernetes v1.20 (our oldest supported API server) drops CEL rules, so everything the API
 * server must enforce is written as enum, pattern, min/max and required.
 */
export * from './shared-types.js';
export * from './step-types.js';
export * from './gate-types.js';
export * from './escalation-types.js';
export * from './runbook-types.js';
export * from './remediation-types.js';
export * from './resolve-types.js';
