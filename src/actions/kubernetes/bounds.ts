/**
 * The Runbook's declared bounds, checked before anything is sent (pure).
 * A violation names the bound and the offending value, so the refusal is actionable.
 */
import type { Bounds } from '../../api/v1alpha1/schema.js';
import { isUnder, splitPointer } from './json-pointer.js';
import type { Leaf, PatchEffect } from './patch-paths.js';
import { compareQuantity, isQuantity } from './quantity.js';

export interface BoundViolation {
  bound: keyof Bounds;
  path: string;
  message: string;
}

type QuantityBound = 'maxMemory' | 'maxCpu' | 'maxStorage';

/** Which bound caps a resource name inside `resources.requests|limits`. */
const RESOURCE_BOUNDS: Record<string, QuantityBound> = {
  memory: 'maxMemory',
  cpu: 'maxCpu',
  storage: 'maxStorage',
};

export function checkReplicas(
  replicas: number,
  bounds: Bounds | undefined,
  path = 'replicas',
): BoundViolation | undefined {
  if (bounds?.minReplicas !== undefined && replicas < bounds.minReplicas) {
    return {
      bound: 'minReplicas',
      path,
      message: `${path} ${replicas} is below the bound minReplicas ${bounds.minReplicas}`,
    };
  }
  if (bounds?.maxReplicas !== undefined && replicas > bounds.maxReplicas) {
    return {
      bound: 'maxReplicas',
      path,
      message: `${path} ${replicas} is above the bound maxReplicas ${bounds.maxReplicas}`,
    };
  }
  return undefined;
}

/** The quantity bound that applies at a path, e.g. `.../resources/limits/memory` → maxMemory. */
export function quantityBoundFor(path: string): QuantityBound | undefined {
  const segs = splitPointer(path);
  const [res, kind, name] = segs.slice(-3);
  if (segs.length < 3 || res !== 'resources' || (kind !== 'limits' && kind !== 'requests')) return undefined;
  return name === undefined ? undefined : RESOURCE_BOUNDS[name];
}

export function checkLeaf(leaf: Leaf, bounds: Bounds): BoundViolation | undefined {
  if (leaf.path === '/spec/replicas') {
    if (typeof leaf.value !== 'number' || !Number.isInteger(leaf.value)) {
      if (bounds.minReplicas === undefined && bounds.maxReplicas === undefined) return undefined;
      return {
        bound: bounds.maxReplicas !== undefined ? 'maxReplicas' : 'minReplicas',
        path: leaf.path,
        message: `${leaf.path} ${JSON.stringify(leaf.value)} is not an integer, so the replica bounds cannot be checked`,
      };
    }
    return checkReplicas(leaf.value, bounds, leaf.path);
  }
  const bound = quantityBoundFor(leaf.path);
  const limit = bound ? bounds[bound] : undefined;
  if (!bound || limit === undefined) return undefined;
  if (!isQuantity(leaf.value)) {
    return {
      bound,
      path: leaf.path,
      message: `${leaf.path} ${JSON.stringify(leaf.value)} is not a quantity, so the bound ${bound} ${limit} cannot be checked`,
    };
  }
  if (compareQuantity(leaf.value as string | number, limit) > 0) {
    return {
      bound,
      path: leaf.path,
      message: `${leaf.path} ${String(leaf.value)} is above the bound ${bound} ${limit}`,
    };
  }
  return undefined;
}

export function checkPaths(
  touched: readonly string[],
  allowed: readonly string[] | undefined,
): BoundViolation | undefined {
  if (!allowed || allowed.length === 0) return undefined;
  const outside = touched.find((p) => !allowed.some((a) => isUnder(p, a)));
  if (outside === undefined) return undefined;
  return {
    bound: 'allowedPatchPaths',
    path: outside,
    message: `${outside || '/'} is outside the bound allowedPatchPaths [${allowed.join(', ')}]`,
  };
}

/** The first bound the patch would break, or undefined when it stays within all of them. */
export function checkPatchBounds(
  effect: PatchEffect,
  bounds: Bounds | undefined,
): BoundViolation | undefined {
  if (!bounds) return undefined;
  const pathViolation = checkPaths(effect.touched, bounds.allowedPatchPaths);
  if (pathViolation) return pathViolation;
  for (const leaf of effect.leaves) {
    const v = checkLeaf(leaf, bounds);
    if (v) return v;
  }
  return undefined;
}
