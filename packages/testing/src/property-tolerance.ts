import type { Tolerance } from './compare.js';

/**
 * Engine (float32) against the float64 reference, for the property tests:
 * |engine − reference| ≤ 2e-5 · (1 + |reference|).
 *
 * Why this size: float32's unit roundoff is u = 2⁻²⁴ ≈ 6e-8. The generated data keeps every
 * channel well spread (mean in [-1, 1], spread ≥ 0.5), so normalising amplifies the rounding
 * of x and of the mean by |x|·rsqrt(var + eps) ≲ 10, and reductions over at most 768 terms
 * add about √n·u: together some tens of u relative to (1 + |value|). The worst seen over
 * 6,000 calibration cases (both backends) was 3.4e-6, so 2e-5 leaves a margin of about 6×.
 * The same bound covers outputs, statistics, running statistics and gradients (dScale and
 * dBias are sums, so their scale is already in |reference|).
 */
export const PROPERTY_TOLERANCE: Tolerance = { atol: 2e-5, rtol: 2e-5 };
