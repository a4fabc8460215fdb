/**
 * Runbook validation, as a pure function shared by the Runbook controller (Ready condition)
 * and the intake. Each problem names the exact field (`steps[2].scale: ...`) so a person can
 * fix it from `kubectl describe rb` alone. The API server already enforces the structural
 * schema; this adds what a schema cannot say: templates refer to declared params, regexes
 * compile, each step carries the parameters of its action, bounds are sane, scope is valid.
 */
import { Value } from '@sinclair/typebox/value';
import { ACTIONS, RunbookSpec, type ActionName, type Step, type TargetRef } from '../api/v1alpha1/schema.js';
import type { Action } from '../actions/types.js';
import { TARGETED_ACTIONS, getAction } from '../actions/index.js';
import { parseQuantity } from '../actions/kubernetes/quantity.js';
import { compileMatcherRegex } from './match.js';
import { outOfScopeMessage, runbookScope } from './scope.js';
import { checkValue, templateRefs } from './template.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { REVERT_GATE_STEP } from '../api/v1alpha1/schema.js';
import { validateChecks } from '../actions/checks/evaluate.js';
import { MIN_INTERVAL_MS } from '../actions/checks/hold.js';
import { checkGates } from './validate-gates.js';
import { errorMessage } from '../util/errors.js';

/** Finds an action by name; the registry of src/actions by default. */
export type ActionLookup = (name: ActionName) => Pick<Action, 'validate' | 'reversible'> | undefined;

const defaultLookup: ActionLookup = (name) => getAction(name);

/** Problems listed at most, so a broken Runbook cannot produce a condition too big to store. */
const MAX_PROBLEMS = 20;

/** Actions whose parameter member has required fields, so it must be present. */
const MEMBER_REQUIRED: ReadonlySet<ActionName> = new Set<ActionName>([
  'scale',
  'setEnv',
  'patch',
  'deletePod',
  'httpCheck',
  'httpCall',
  'redisCommand',
  'postgresQuery',
  'prometheusQuery',
  'notify',
  'silence',
  'hold',
  'waitUntil',
]);

/** `/steps/2/scale/replicas` → `steps[2].scale.replicas`. */
export function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
}

/** A schema error as people read it: an enum (a union of literals) lists its values. */
export function schemaMessage(e: { message: string; schema: unknown }): string {
  const anyOf = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (anyOf?.length && anyOf.every((s) => typeof s.const === 'string'))
    return `must be one of ${anyOf.map((s) => String(s.const)).join(', ')}`;
  return e.message;
}

/** Every template string below `node`, checked against the declared params. */
function checkTemplates(node: unknown, path: string, declared: ReadonlySet<string>, out: string[]): void {
  if (typeof node === 'string') {
    if (!node.includes('{{')) return;
    try {
      for (const ref of templateRefs(node)) {
        if (!declared.has(ref))
          out.push(`${path}: refers to param "${ref}", which spec.params does not declare`);
      }
    } catch (err) {
      out.push(`${path}: ${errorMessage(err)}`);
    }
  } else if (Array.isArray(node)) {
    node.forEach((n, i) => checkTemplates(n, `${path}[${i}]`, declared, out));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) checkTemplates(v, path ? `${path}.${k}` : k, declared, out);
  }
}

function checkStep(
  step: Step,
  i: number,
  runbookTarget: TargetRef | undefined,
  lookup: ActionLookup,
  out: string[],
  at = `steps[${i}]`,
): void {
  const hasTarget = step.target !== undefined || runbookTarget !== undefined;
  if (!(ACTIONS as readonly string[]).includes(step.action)) {
    out.push(`${at}.action: unknown action "${String(step.action)}" (known: ${ACTIONS.join(', ')})`);
    return;
  }
  for (const other of ACTIONS) {
    if (other !== step.action && step[other] !== undefined)
      out.push(`${at}.${other}: set, but the action is ${step.action}`);
  }
  if (step.timeout) {
    try {
      if (parseDuration(step.timeout) <= 0) out.push(`${at}.timeout: must be longer than 0`);
    } catch (err) {
      out.push(`${at}.timeout: ${errorMessage(err)}`);
    }
  }
  if (!hasTarget && TARGETED_ACTIONS.has(step.action)) {
    out.push(`${at}.target: action ${step.action} needs a target: set ${at}.target or spec.target`);
  }
  const action = lookup(step.action);
  if (!action) {
    out.push(`${at}.action: action ${step.action} is not available in this build`);
    if (MEMBER_REQUIRED.has(step.action) && step[step.action] === undefined) {
      out.push(`${at}.${step.action}: the parameters of action ${step.action} are missing`);
    }
    return;
  }
  // A step without a target of its own acts on spec.target: its kind is checked as the step's.
  const inherited = step.target === undefined && runbookTarget !== undefined;
  for (const problem of action.validate(inherited ? { ...step, target: runbookTarget } : step)) {
    if (inherited && problem.startsWith('target.'))
      out.push(`${problem} (the target of ${at}, ${step.action})`);
    else out.push(problem.startsWith('steps[') ? problem : `${at}.${problem}`);
  }
  if (step.revertOnResolve && !action.reversible)
    out.push(`${at}.revertOnResolve: action ${step.action} cannot be reverted`);
}

function checkBounds(spec: RunbookSpec, out: string[]): void {
  const b = spec.safety?.bounds;
  if (!b) return;
  if (b.minReplicas !== undefined && b.maxReplicas !== undefined && b.minReplicas > b.maxReplicas) {
    out.push(`safety.bounds: minReplicas (${b.minReplicas}) is greater than maxReplicas (${b.maxReplicas})`);
  }
  for (const key of ['maxMemory', 'maxCpu', 'maxStorage'] as const) {
    const q = b[key];
    if (q === undefined) continue;
    try {
      if (parseQuantity(q) <= 0n) out.push(`safety.bounds.${key}: must be greater than 0`);
    } catch (err) {
      out.push(`safety.bounds.${key}: ${errorMessage(err)}`);
    }
  }
  (b.allowedPatchPaths ?? []).forEach((p, i) => {
    if (!p.startsWith('/'))
      out.push(`safety.bounds.allowedPatchPaths[${i}]: "${p}" is not a JSON pointer (must start with /)`);
  });
}

function checkScope(spec: RunbookSpec, namespace: string, out: string[]): void {
  const allowed = spec.safety?.allowedNamespaces ?? [];
  allowed.forEach((ns, i) => {
    if (checkValue(ns, 'namespace') !== undefined)
      out.push(`safety.allowedNamespaces[${i}]: "${ns}" is not a valid namespace name`);
  });
  const scope = runbookScope(namespace, spec.safety);
  const literal = (ns: string | undefined, path: string): void => {
    if (ns && !ns.includes('{{') && !scope.has(ns)) {
      out.push(`${path}: ${outOfScopeMessage(ns, scope)}`);
    }
  };
  literal(spec.target?.namespace, 'target.namespace');
  spec.steps?.forEach((s, i) => literal(s.target?.namespace, `steps[${i}].target.namespace`));
  for (const { step, at } of resolveSteps(spec)) literal(step.target?.namespace, `${at}.target.namespace`);
}

function checkTriggers(spec: RunbookSpec, out: string[]): void {
  spec.triggers?.forEach((t, i) =>
    t.matchers?.forEach((m, j) => {
      if (m.op !== '=~' && m.op !== '!~') return;
      try {
        compileMatcherRegex(m.value);
      } catch (err) {
        out.push(`triggers[${i}].matchers[${j}].value: invalid regular expression: ${errorMessage(err)}`);
      }
    }),
  );
}

/** The steps of `onResolve`, each with the path a problem names. */
function resolveSteps(spec: RunbookSpec): { step: Step; at: string }[] {
  const r = spec.onResolve;
  return [
    ...(r?.before ?? []).map((step, i) => ({ step, at: `onResolve.before[${i}]` })),
    ...(r?.after ?? []).map((step, i) => ({ step, at: `onResolve.after[${i}]` })),
  ];
}

function durationProblem(text: string | undefined, path: string, minMs: number): string | undefined {
  if (text === undefined) return undefined;
  try {
    if (parseDuration(text) < minMs) return `${path}: at least ${formatDuration(Math.max(1, minMs))}`;
  } catch (err) {
    return `${path}: ${errorMessage(err)}`;
  }
  return undefined;
}

/**
 * `onResolve`: its steps by the rules of steps (and none marked revertOnResolve: work after
 * resolve is never reverted), the gate's checks, timeout and interval, and a name for the
 * gate's record that no step uses.
 */
function checkOnResolve(
  spec: RunbookSpec,
  declared: ReadonlySet<string>,
  names: ReadonlySet<string>,
  lookup: ActionLookup,
  out: string[],
): void {
  const r = spec.onResolve;
  if (!r) return;
  if (!r.before && !r.gate && !r.after)
    out.push('onResolve: give at least one of before, gate, after (or leave onResolve out)');
  for (const { step, at } of resolveSteps(spec)) {
    checkTemplates(step, at, declared, out);
    checkStep(step, 0, spec.target, lookup, out, at);
    if (step.revertOnResolve)
      out.push(
        `${at}.revertOnResolve: a step of onResolve runs after the alert resolved and is not reverted`,
      );
  }
  const g = r.gate;
  if (!g) return;
  checkTemplates(g, 'onResolve.gate', declared, out);
  if (!g.checks || g.checks.length === 0) out.push('onResolve.gate.checks: give at least one check');
  out.push(...validateChecks(g.checks, 'onResolve.gate.checks'));
  if (g.timeout === undefined) out.push('onResolve.gate.timeout: required, e.g. 30m');
  for (const p of [
    durationProblem(g.timeout, 'onResolve.gate.timeout', 1),
    durationProblem(g.interval, 'onResolve.gate.interval', MIN_INTERVAL_MS),
  ])
    if (p) out.push(p);
  if (names.has(REVERT_GATE_STEP))
    out.push(
      `onResolve.gate: its record is the step "${REVERT_GATE_STEP}", a name a step already uses; rename that step`,
    );
}

/**
 * All problems of a Runbook spec; [] when it is valid. `namespace` is the Runbook's own
 * (the default scope). `lookup` replaces the action registry (tests).
 */
export function validateRunbook(
  spec: RunbookSpec,
  namespace: string,
  lookup: ActionLookup = defaultLookup,
): string[] {
  const out: string[] = [];
  for (const e of Value.Errors(RunbookSpec, spec)) {
    out.push(`${fieldPath(e.path) || 'spec'}: ${schemaMessage(e)}`);
    if (out.length >= MAX_PROBLEMS) return out;
  }
  // Structural errors make the finer checks below unreliable (and may throw).
  if (out.length > 0) return out;

  const params = spec.params ?? [];
  const declared = new Set<string>();
  params.forEach((p, i) => {
    if (declared.has(p.name)) out.push(`params[${i}].name: "${p.name}" is declared twice`);
    declared.add(p.name);
  });
  const names = new Set<string>();
  const all = [...spec.steps.map((step, i) => ({ step, at: `steps[${i}]` })), ...resolveSteps(spec)];
  for (const { step, at } of all) {
    if (names.has(step.name))
      out.push(`${at}.name: "${step.name}" is used by an earlier step; step names must be unique`);
    names.add(step.name);
  }
  if (spec.target) checkTemplates(spec.target, 'target', declared, out);
  spec.steps.forEach((s, i) => {
    checkTemplates(s, `steps[${i}]`, declared, out);
    checkStep(s, i, spec.target, lookup, out);
  });
  checkOnResolve(spec, declared, names, lookup, out);
  if (spec.guard) checkTemplates(spec.guard, 'guard', declared, out);
  if (spec.escalation) checkTemplates(spec.escalation, 'escalation', declared, out);
  checkGates(spec, out);
  checkTriggers(spec, out);
  checkBounds(spec, out);
  checkScope(spec, namespace, out);
  if (spec.safety?.cooldown) {
    try {
      parseDuration(spec.safety.cooldown);
    } catch (err) {
      out.push(`safety.cooldown: ${errorMessage(err)}`);
    }
  }
  return out.slice(0, MAX_PROBLEMS);
}

/** Inline steps of a Remediation, checked with the same rules (no params, own namespace). */
export function validateSteps(
  steps: readonly Step[],
  namespace: string,
  opts: { params?: readonly string[]; target?: TargetRef } = {},
  lookup: ActionLookup = defaultLookup,
): string[] {
  const spec: RunbookSpec = { steps: [...steps], params: (opts.params ?? []).map((name) => ({ name })) };
  if (opts.target) spec.target = opts.target;
  return validateRunbook(spec, namespace, lookup);
}
