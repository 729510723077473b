/**
 * @module
 * Small statistics for benchmark rounds: median with min–max spread, and ratios.
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** How many values. */
  n: number;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  };
}

/** The value at quantile q (0..1) of a list, by linear interpolation (q = 0.5 is the median). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/**
 * A distribution-free confidence interval for the median of n values: the order statistics
 * whose ranks bracket it with about 95 % coverage (binomial, normal approximation). With fewer
 * than 6 values it is the min–max range.
 */
export function medianInterval(values: readonly number[]): { lo: number; hi: number } {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { lo: Number.NaN, hi: Number.NaN };
  if (n < 6) return { lo: sorted[0]!, hi: sorted[n - 1]! };
  const half = 1.96 * Math.sqrt(n) * 0.5;
  const lo = Math.max(0, Math.floor(n / 2 - half));
  const hi = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  return { lo: sorted[lo]!, hi: sorted[hi]! };
}

/** Fits t = c · n^k through the points (least squares on logs); returns k. */
export function growthExponent(points: ReadonlyArray<{ n: number; t: number }>): number {
  const xs = points.map((p) => Math.log(p.n));
  const ys = points.map((p) => Math.log(p.t));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}
