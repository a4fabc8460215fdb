/**
 * The small, safe template language of Runbooks: `{{ name }}` is replaced by the param
 * `name`. Nothing else is evaluated (no expressions, no code), so an alert label can never
 * run anything. Params come from alert labels/annotations with defaults (Runbook
 * `spec.params`) and may be overridden by a Remediation's `spec.params`.
 *
 * Where a value lands decides how it is checked: names must be DNS-1123, namespaces DNS-1123
 * labels, URLs get the value percent-encoded, and text refuses control characters.
 */
import {
  DNS1123_LABEL,
  DNS1123_SUBDOMAIN,
  type Param,
  type Step,
  type TargetRef,
} from '../api/v1alpha1/schema.js';
import { ERROR_CODES, RemediatorError } from '../util/errors.js';

const TEMPLATE = /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g;
const ANY_TEMPLATE = /\{\{(.*?)\}\}/g;
const DNS1123_LABEL_RE = new RegExp(DNS1123_LABEL);
const DNS1123_SUBDOMAIN_RE = new RegExp(DNS1123_SUBDOMAIN);
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export type ValueContext = 'name' | 'namespace' | 'url' | 'text';

export interface AlertLike {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Names referenced by a template string. Throws on `{{ ... }}` that is not a plain name. */
export function templateRefs(template: string): string[] {
  const refs: string[] = [];
  for (const m of template.matchAll(ANY_TEMPLATE)) {
    const inner = m[1]!.trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(inner)) {
      throw new RemediatorError(
        ERROR_CODES.invalidSpec,
        `template "{{${m[1]}}}" is not a param name: only {{ name }} is supported`,
      );
    }
    refs.push(inner);
  }
  return refs;
}

/**
 * Resolves the Runbook's params from an alert. `overrides` (a Remediation's spec.params) win.
 * Returns the values and the names of required params that have none.
 */
export function resolveParams(
  params: readonly Param[] | undefined,
  alert: AlertLike | undefined,
  overrides: Record<string, string> = {},
): { values: Record<string, string>; missing: string[] } {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const p of params ?? []) {
    let v: string | undefined = overrides[p.name];
    if (v === undefined && p.from) {
      const [source, key] = p.from.split('.', 2) as ['labels' | 'annotations', string];
      v = alert?.[source]?.[key];
    }
    if (v === undefined || v === '') v = p.default;
    if (v === undefined || v === '') {
      if (p.required ?? true) missing.push(p.name);
      continue;
    }
    values[p.name] = v;
  }
  for (const [k, v] of Object.entries(overrides)) if (!(k in values)) values[k] = v;
  return { values, missing };
}

/** Checks a resolved value for the place it lands in; returns a reason or undefined. */
export function checkValue(value: string, ctx: ValueContext): string | undefined {
  switch (ctx) {
    case 'name':
      if (value.length > 253 || !DNS1123_SUBDOMAIN_RE.test(value)) {
        return `"${preview(value)}" is not a valid Kubernetes name (lower case alphanumerics, '-' and '.', at most 253 characters)`;
      }
      return undefined;
    case 'namespace':
      if (value.length > 63 || !DNS1123_LABEL_RE.test(value)) {
        return `"${preview(value)}" is not a valid namespace (DNS-1123 label, at most 63 characters)`;
      }
      return undefined;
    case 'url':
    case 'text':
      if (CONTROL_CHARS.test(value)) return `"${preview(value)}" contains control characters`;
      return undefined;
  }
}

function preview(v: string): string {
  const s = JSON.stringify(v).slice(1, -1);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Renders one template string. Throws KR_ERR_MISSING_PARAM / KR_ERR_INVALID_PARAM. */
export function render(template: string, values: Record<string, string>, ctx: ValueContext = 'text'): string {
  templateRefs(template);
  const out = template.replace(TEMPLATE, (_all, name: string) => {
    const v = values[name];
    if (v === undefined) {
      throw new RemediatorError(
        ERROR_CODES.missingParam,
        `param "${name}" has no value: set it in the alert or give it a default`,
      );
    }
    const valueCtx: ValueContext = ctx === 'url' ? 'text' : ctx;
    const problem = ctx === 'name' || ctx === 'namespace' ? undefined : checkValue(v, valueCtx);
    if (problem) throw new RemediatorError(ERROR_CODES.invalidParam, `param "${name}": ${problem}`);
    return ctx === 'url' ? encodeURIComponent(v) : v;
  });
  if (ctx === 'name' || ctx === 'namespace') {
    const problem = checkValue(out, ctx);
    if (problem) throw new RemediatorError(ERROR_CODES.invalidParam, problem);
  }
  return out;
}

/** Renders a target reference; namespace defaults to `defaultNamespace`. */
export function renderTarget(
  target: TargetRef,
  values: Record<string, string>,
  defaultNamespace: string,
): Required<TargetRef> {
  return {
    apiVersion: target.apiVersion,
    kind: target.kind,
    name: render(target.name, values, 'name'),
    namespace: target.namespace ? render(target.namespace, values, 'namespace') : defaultNamespace,
  };
}

/** Fields of step parameters whose values are URLs (percent-encode params there). */
const URL_FIELDS = new Set(['url', 'alertmanagerUrl']);
/** Fields holding object names. */
const NAME_FIELDS = new Set(['names']);

/**
 * Renders every string inside a step's parameters (deep), choosing the context by field name.
 * The step's `target` is rendered separately with renderTarget.
 */
export function renderStep(step: Step, values: Record<string, string>): Step {
  const walk = (node: unknown, field: string): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('{{')) return node;
      const ctx: ValueContext = URL_FIELDS.has(field) ? 'url' : NAME_FIELDS.has(field) ? 'name' : 'text';
      return render(node, values, ctx);
    }
    if (Array.isArray(node)) return node.map((n) => walk(n, field));
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, k)]));
    }
    return node;
  };
  const { target, ...rest } = step;
  const rendered = walk(rest, '') as Step;
  return target ? { ...rendered, target } : rendered;
}

/** Every param name a step refers to (for validation). */
export function stepRefs(step: Step): string[] {
  const refs = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node === 'string') templateRefs(node).forEach((r) => refs.add(r));
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') Object.values(node).forEach(walk);
  };
  walk(step);
  return [...refs];
}
