/**
 * Regular expressions of Runbooks that run over text we do not control (Redis replies, query
 * values, log lines): RE2 syntax and linear-time matching (re2js), so a pattern cannot stall
 * the operator on a crafted or unlucky line, and a pattern means what it means in Prometheus
 * and Alertmanager, whose users write them.
 */
import { RE2JS } from 're2js';
import { errorMessage } from '../../util/errors.js';

const cache = new Map<string, RE2JS>();
const CACHE_MAX = 1000;

/** The compiled pattern; throws an Error saying what is wrong with it. */
export function compilePattern(pattern: string): RE2JS {
  let re = cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** `<field>: <why the pattern does not compile>`, or undefined when it does. */
export function patternProblem(pattern: string | undefined, field: string): string | undefined {
  if (pattern === undefined) return undefined;
  try {
    compilePattern(pattern);
    return undefined;
  } catch (err) {
    return `${field}: not a valid RE2 regular expression: ${errorMessage(err)}`;
  }
}

/** Whether the pattern matches anywhere in `text`. */
export function patternFinds(pattern: string, text: string): boolean {
  return compilePattern(pattern).matcher(text).find();
}
