/**
 * What a patch touches, computed from the patch and the observed object (pure).
 *
 * `touched` are the JSON pointers whose prior values are recorded in `before` and written back
 * on revert. Where a change shifts array elements (insert, remove, keyed items added or
 * deleted, whole-list replacement) the whole array is touched, because restoring one index
 * of a shifted array would not restore the array. `leaves` are the scalar values the patch
 * writes, with their paths, for the bounds check.
 */
import {
  getAt,
  isPlainObject,
  joinPointer,
  parentPointer,
  splitPointer,
  stableJson,
} from './json-pointer.js';

export type PatchType = 'merge' | 'strategic' | 'json';

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export interface Leaf {
  path: string;
  value: unknown;
}

export interface PatchEffect {
  touched: string[];
  leaves: Leaf[];
}

/** A recorded prior value: present with its value, or absent. */
export type PriorValue = { value: unknown } | { absent: true };

/** Merge keys of the strategic lists our users patch; others default to `name`. */
const MERGE_KEYS: Record<string, string> = {
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
};

export function patchEffect(type: PatchType, patch: unknown, current: unknown): PatchEffect {
  const acc: PatchEffect = { touched: [], leaves: [] };
  if (type === 'json') jsonEffect(patch as JsonPatchOp[], current, acc);
  else objectEffect(type, patch, current, [], acc);
  return { touched: dedupeNested(acc.touched), leaves: acc.leaves };
}

/** Every scalar inside `value`, with its pointer under `base`. */
export function flatten(value: unknown, base: string, out: Leaf[] = []): Leaf[] {
  if (Array.isArray(value)) value.forEach((v, i) => flatten(v, `${base}/${i}`, out));
  else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value))
      if (!k.startsWith('$')) flatten(v, `${base}${joinPointer([k])}`, out);
  } else out.push({ path: base, value });
  return out;
}

function jsonEffect(ops: JsonPatchOp[], current: unknown, acc: PatchEffect): void {
  for (const op of ops) {
    if (op.op === 'test') continue;
    const path = resolveAppend(op.path, current);
    acc.touched.push(shifts(op, path, current) ? parentPointer(path) : path);
    if (op.op === 'move' && op.from !== undefined) acc.touched.push(shiftsFrom(op.from, current));
    const written = op.op === 'copy' || op.op === 'move' ? lookupValue(current, op.from) : op.value;
    if (op.op !== 'remove') flatten(written, path, acc.leaves);
  }
}

function lookupValue(current: unknown, pointer: string | undefined): unknown {
  if (pointer === undefined) return undefined;
  const l = getAt(current, pointer);
  return l.found ? l.value : undefined;
}

/** `/x/-` appends: it names the index after the last element. */
function resolveAppend(path: string, current: unknown): string {
  if (!path.endsWith('/-')) return path;
  const parent = path.slice(0, -2);
  const arr = getAt(current, parent);
  return `${parent}/${arr.found && Array.isArray(arr.value) ? arr.value.length : 0}`;
}

function parentIsArray(path: string, current: unknown): boolean {
  if (splitPointer(path).length === 0) return false;
  const p = getAt(current, parentPointer(path));
  return p.found && Array.isArray(p.value);
}

function shifts(op: JsonPatchOp, path: string, current: unknown): boolean {
  const shifting = op.op === 'add' || op.op === 'remove' || op.op === 'move' || op.op === 'copy';
  return shifting && parentIsArray(path, current);
}

function shiftsFrom(from: string, current: unknown): string {
  return parentIsArray(from, current) ? parentPointer(from) : from;
}

function objectEffect(
  type: PatchType,
  patch: unknown,
  current: unknown,
  at: string[],
  acc: PatchEffect,
): void {
  const here = joinPointer(at);
  if (
    !isPlainObject(patch) ||
    !isPlainObject(current) ||
    patch.$patch !== undefined ||
    '$retainKeys' in patch
  ) {
    acc.touched.push(here);
    if (patch !== null) flatten(patch, here, acc.leaves);
    return;
  }
  for (const [key, value] of Object.entries(patch)) {
    const directive = /^\$(setElementOrder|deleteFromPrimitiveList)\/(.+)$/.exec(key);
    if (directive) {
      acc.touched.push(joinPointer([...at, directive[2]!]));
      continue;
    }
    if (key.startsWith('$')) continue;
    const cur = current[key];
    if (type === 'strategic' && Array.isArray(value)) listEffect(key, value, cur, [...at, key], acc);
    else objectEffect(type, value, cur, [...at, key], acc);
  }
}

/** A strategic list merges by key; only edits of existing items stay per-item. */
function listEffect(field: string, items: unknown[], current: unknown, at: string[], acc: PatchEffect): void {
  const key = MERGE_KEYS[field] ?? 'name';
  const here = joinPointer(at);
  const cur = Array.isArray(current) ? current : undefined;
  const indexes = items.map((item) =>
    isPlainObject(item) && item[key] !== undefined && item.$patch === undefined && cur
      ? cur.findIndex((c) => isPlainObject(c) && c[key] === item[key])
      : -1,
  );
  if (!cur || indexes.some((i) => i < 0)) {
    acc.touched.push(here);
    flatten(items, here, acc.leaves);
    return;
  }
  items.forEach((item, n) => {
    const { [key]: _key, ...rest } = item as Record<string, unknown>;
    objectEffect('strategic', rest, cur[indexes[n]!], [...at, String(indexes[n])], acc);
  });
}

/** A path below another touched path is already covered by it. */
function dedupeNested(paths: string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && (q === '' || p.startsWith(`${q}/`))));
}

/** The prior values of exactly the touched paths. */
export function priorValues(current: unknown, touched: readonly string[]): Record<string, PriorValue> {
  const out: Record<string, PriorValue> = {};
  for (const p of touched) {
    const l = getAt(current, p);
    out[p] = l.found ? { value: structuredClone(l.value) } : { absent: true };
  }
  return out;
}

/**
 * A JSON patch that writes the recorded prior values back onto `current`: absent paths are
 * removed, present ones replaced, and missing parents re-created.
 */
export function revertOps(prior: Record<string, PriorValue>, current: unknown): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const removals: string[] = [];
  for (const [path, was] of Object.entries(prior)) {
    const now = getAt(current, path);
    if ('absent' in was) {
      if (now.found) removals.push(path);
    } else if (now.found) {
      if (stableJson(now.value) !== stableJson(was.value))
        ops.push({ op: 'replace', path, value: was.value });
    } else {
      ops.push(addWithParents(path, was.value, current));
    }
  }
  // Later array indexes first, so earlier removals do not shift them.
  removals.sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  return [...ops, ...removals.map((path): JsonPatchOp => ({ op: 'remove', path }))];
}

/** A touched path whose value is neither the recorded before nor what the step left there. */
export interface ChangedPath {
  path: string;
  now: PriorValue;
  after?: PriorValue;
}

function sameValue(a: PriorValue, b: PriorValue | undefined): boolean {
  if (b === undefined) return false;
  if ('absent' in a || 'absent' in b) return 'absent' in a && 'absent' in b;
  return stableJson(a.value) === stableJson(b.value);
}

export function describePrior(v: PriorValue | undefined): string {
  if (v === undefined) return 'nothing recorded';
  return 'absent' in v ? 'absent' : stableJson(v.value);
}

/**
 * A compare-and-swap revert (pure): paths already back at `prior` are left alone, paths that
 * still hold the step's `after` are written back, each guarded by a `test` of the value just
 * observed (where there is one), and any other value refuses the whole revert.
 */
export function guardedRevertOps(
  prior: Record<string, PriorValue>,
  after: Record<string, PriorValue> | undefined,
  current: unknown,
): { ops: JsonPatchOp[] } | { changed: ChangedPath } {
  const restore: Record<string, PriorValue> = {};
  const tests: JsonPatchOp[] = [];
  for (const [path, was] of Object.entries(prior)) {
    const l = getAt(current, path);
    const now: PriorValue = l.found ? { value: l.value } : { absent: true };
    if (sameValue(now, was)) continue;
    if (!sameValue(now, after?.[path])) return { changed: { path, now, after: after?.[path] } };
    restore[path] = was;
    if (l.found) tests.push({ op: 'test', path, value: l.value });
  }
  const ops = revertOps(restore, current);
  return { ops: ops.length ? [...tests, ...ops] : [] };
}

function addWithParents(path: string, value: unknown, current: unknown): JsonPatchOp {
  const segs = splitPointer(path);
  let depth = segs.length - 1;
  while (depth > 0 && !getAt(current, joinPointer(segs.slice(0, depth))).found) depth--;
  let wrapped = value;
  for (let i = segs.length - 1; i > depth; i--) wrapped = { [segs[i]!]: wrapped };
  return { op: 'add', path: joinPointer(segs.slice(0, depth + 1)), value: wrapped };
}

/** The values the patch leaves at the touched paths, read from the object after it. */
export function valuesAfter(obj: unknown, touched: readonly string[]): Record<string, PriorValue> {
  return priorValues(obj, touched);
}
