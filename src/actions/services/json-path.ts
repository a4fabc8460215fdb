/**
 * JSONPath singular queries (RFC 9535 §2.3.5.1): `$` followed by name (`.name`, `['name']`)
 * and index (`[0]`, `[-1]`) selectors, which point at one value at most. That is all an
 * assertion `path equals value` needs; wildcards, slices and filters select many values and
 * are refused. Written here rather than taken from a JSONPath library: the popular ones
 * evaluate filter expressions as script, which an operator must never do with Runbook text.
 */

export type PathPart = string | number;

const NAME_FIRST = /[A-Za-z_\u0080-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_\u0080-\uFFFF]/;

function fail(path: string, at: number, what: string): never {
  throw new Error(
    `${what} at position ${at} of "${path}" (a singular query: $ then .name, ['name'] or [index])`,
  );
}

/** A quoted name inside brackets, from its opening quote; returns the name and the index after it. */
function quotedName(path: string, start: number): [string, number] {
  const quote = path[start]!;
  let name = '';
  let i = start + 1;
  while (i < path.length && path[i] !== quote) {
    if (path[i] === '\\') {
      const next = path[i + 1];
      if (next === undefined) fail(path, i, 'unfinished escape');
      const simple: Record<string, string> = {
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        '/': '/',
        '\\': '\\',
        "'": "'",
        '"': '"',
      };
      if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(path.slice(i + 2, i + 6))) {
        name += String.fromCharCode(parseInt(path.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      if (simple[next] === undefined) fail(path, i, `unknown escape \\${next}`);
      name += simple[next];
      i += 2;
      continue;
    }
    name += path[i];
    i += 1;
  }
  if (i >= path.length) fail(path, start, 'unclosed quote');
  return [name, i + 1];
}

/** The parts of a singular query; throws an Error saying where it is wrong (pure). */
export function parseJsonPath(path: string): PathPart[] {
  if (path[0] !== '$') fail(path, 0, 'expected $');
  const parts: PathPart[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i]!;
    if (c === '.') {
      let j = i + 1;
      if (!NAME_FIRST.test(path[j] ?? '')) fail(path, j, 'expected a member name');
      while (j < path.length && NAME_CHAR.test(path[j]!)) j += 1;
      parts.push(path.slice(i + 1, j));
      i = j;
    } else if (c === '[') {
      const q = path[i + 1];
      let end: number;
      if (q === "'" || q === '"') {
        const [name, after] = quotedName(path, i + 1);
        parts.push(name);
        end = after;
      } else {
        const m = /^-?(0|[1-9][0-9]{0,15})/.exec(path.slice(i + 1));
        if (!m || m[0] === '-0') fail(path, i + 1, 'expected a quoted name or an integer index');
        parts.push(Number(m[0]));
        end = i + 1 + m[0].length;
      }
      if (path[end] !== ']') fail(path, end, 'expected ]');
      i = end + 1;
    } else {
      fail(path, i, `unexpected "${c}"`);
    }
  }
  return parts;
}

/** The value the query points at in `doc`, or `found: false` (pure). */
export function selectJsonPath(
  doc: unknown,
  parts: readonly PathPart[],
): { found: boolean; value?: unknown } {
  let cur: unknown = doc;
  for (const part of parts) {
    if (typeof part === 'number') {
      if (!Array.isArray(cur)) return { found: false };
      const idx = part < 0 ? cur.length + part : part;
      if (idx < 0 || idx >= cur.length) return { found: false };
      cur = cur[idx];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return { found: false };
      if (!Object.prototype.hasOwnProperty.call(cur, part)) return { found: false };
      cur = (cur as Record<string, unknown>)[part];
    }
  }
  return { found: true, value: cur };
}

/** A JSON value as text for comparison: a string as it is, anything else as compact JSON. */
export function jsonText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
