/**
 * Kubernetes resource quantities (`512Mi`, `1.5Gi`, `250m`, `2`, `1e3`), compared exactly.
 *
 * Values are held as BigInt nano-units, because floats cannot compare `0.1` with `100m` or
 * `1Gi` with `1073741824` reliably. Like the API server, fractions below a nano-unit round up.
 */
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

const DECIMAL_EXP: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_EXP: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** The quantity in nano-units; throws on text that is not a quantity. */
export function parseQuantity(q: string | number): bigint {
  const text = typeof q === 'number' ? numberText(q) : q.trim();
  const m = QUANTITY.exec(text);
  if (!m) throw new Error(`"${text}" is not a Kubernetes quantity (e.g. 512Mi, 1.5Gi, 250m, 2)`);
  const [, sign, number, suffix = '', exponent] = m as unknown as [
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  const [intPart = '', fracPart = ''] = number.split('.');
  const digits = BigInt(`${intPart}${fracPart}` || '0');
  const exp10 =
    9 + (exponent !== undefined ? Number(exponent) : (DECIMAL_EXP[suffix] ?? 0)) - fracPart.length;
  const binary = 2n ** BigInt(BINARY_EXP[suffix] ?? 0);
  const value = scale(digits * binary, exp10);
  return sign === '-' ? -value : value;
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`${n} is not a Kubernetes quantity`);
  return String(n);
}

/** digits * 10^exp, rounded up when exp is negative. */
function scale(digits: bigint, exp: number): bigint {
  if (exp >= 0) return digits * 10n ** BigInt(exp);
  const div = 10n ** BigInt(-exp);
  return (digits + div - 1n) / div;
}

export function isQuantity(q: unknown): boolean {
  if (typeof q !== 'string' && typeof q !== 'number') return false;
  try {
    parseQuantity(q);
    return true;
  } catch {
    return false;
  }
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantity(a: string | number, b: string | number): number {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
