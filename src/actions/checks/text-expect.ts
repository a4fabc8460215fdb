/**
 * Expectations on the text a check read (a Redis reply, the first value of a query): exact,
 * contains, matches. Every expectation given must hold.
 */
import { patternFinds, patternProblem } from '../services/pattern.js';

export interface TextExpect {
  expect?: string;
  expectContains?: string;
  expectMatch?: string;
}

/** How a reply is quoted in messages: its start only, on one line. */
export function quoted(text: string, max = 200): string {
  const one = text.replace(/\r?\n/g, '\\n');
  return `"${one.length > max ? `${one.slice(0, max)}…` : one}"`;
}

/** Why `text` does not satisfy the expectations, or undefined when it does (pure). */
export function textProblem(text: string, e: TextExpect): string | undefined {
  if (e.expect !== undefined && text !== e.expect) return `answered ${quoted(text)}, expected "${e.expect}"`;
  if (e.expectContains !== undefined && !text.includes(e.expectContains))
    return `answered ${quoted(text)}, which does not contain "${e.expectContains}"`;
  if (e.expectMatch !== undefined && !patternFinds(e.expectMatch, text))
    return `answered ${quoted(text)}, which does not match /${e.expectMatch}/`;
  return undefined;
}

export function validateTextExpect(e: TextExpect, field: string): string[] {
  const problem = patternProblem(e.expectMatch, `${field}.expectMatch`);
  return problem ? [problem] : [];
}
