/**
 * Local application of JSON patch (RFC 6902) and JSON merge patch (RFC 7386), used by plan to
 * say what a patch will leave behind and to refuse a patch that cannot apply, before sending.
 */
import { isPlainObject, splitPointer, stableJson } from './json-pointer.js';
import type { JsonPatchOp } from './patch-paths.js';

type Container = Record<string, unknown> | unknown[];

function locate(doc: unknown, pointer: string): { parent: Container; key: string } {
  const segs = splitPointer(pointer);
  if (segs.length === 0) throw new Error('the root cannot be patched in place');
  let cur: unknown = doc;
  for (const seg of segs.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isPlainObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw new Error(`path ${pointer} does not exist (missing ${seg})`);
  }
  if (!Array.isArray(cur) && !isPlainObject(cur))
    throw new Error(`path ${pointer}: parent is not an object or array`);
  return { parent: cur, key: segs[segs.length - 1]! };
}

function index(arr: unknown[], key: string, pointer: string, forAdd: boolean): number {
  if (forAdd && key === '-') return arr.length;
  const i = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : NaN;
  if (Number.isNaN(i) || i > arr.length || (!forAdd && i === arr.length))
    throw new Error(`path ${pointer}: index out of range`);
  return i;
}

function read(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) return parent[index(parent, key, pointer, false)];
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw new Error(`path ${pointer} does not exist`);
  return parent[key];
}

function add(doc: unknown, pointer: string, value: unknown): void {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) parent.splice(index(parent, key, pointer, true), 0, value);
  else parent[key] = value;
}

function remove(doc: unknown, pointer: string): void {
  read(doc, pointer);
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
}

/** Applies a JSON patch to a copy of `doc`; throws with the reason when an op cannot apply. */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const out = structuredClone(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        add(out, op.path, structuredClone(op.value));
        break;
      case 'remove':
        remove(out, op.path);
        break;
      case 'replace':
        remove(out, op.path);
        add(out, op.path, structuredClone(op.value));
        break;
      case 'move': {
        const v = read(out, op.from ?? '');
        remove(out, op.from ?? '');
        add(out, op.path, v);
        break;
      }
      case 'copy':
        add(out, op.path, structuredClone(read(out, op.from ?? '')));
        break;
      case 'test':
        if (stableJson(read(out, op.path)) !== stableJson(op.value))
          throw new Error(`test failed at ${op.path}`);
        break;
    }
  }
  return out;
}

/** RFC 7386: objects merge, null deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
