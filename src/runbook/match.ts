/**
 * Alert matching, with Alertmanager's semantics: `=` / `!=` compare strings, `=~` / `!~`
 * match a regular expression anchored at both ends, and a missing label is the empty string.
 */
import type { Matcher, Trigger } from '../api/v1alpha1/schema.js';

const cache = new Map<string, RegExp>();

/** Compiles an anchored regex, as Alertmanager does (`^(?:re)$`). Throws on a bad pattern. */
export function compileMatcherRegex(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    // 'u' refuses the odd escapes RE2 refuses too; 's' lets '.' match newlines like RE2's (?s).
    re = new RegExp(`^(?:${pattern})$`, 'su');
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

export function matcherMatches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.label] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return compileMatcherRegex(m.value).test(v);
    case '!~':
      return !compileMatcherRegex(m.value).test(v);
  }
}

export function triggerMatches(t: Trigger, labels: Record<string, string>): boolean {
  if ((labels.alertname ?? '') !== t.alertname) return false;
  return (t.matchers ?? []).every((m) => matcherMatches(m, labels));
}

/** The first trigger of the list that matches, or undefined. */
export function matchTriggers(
  triggers: readonly Trigger[] | undefined,
  labels: Record<string, string>,
): Trigger | undefined {
  return (triggers ?? []).find((t) => triggerMatches(t, labels));
}
