import type { TensorComparison } from './compare.js';
import type { ProducerKind } from './fixture-schema.js';

/** The outcome of one fixture on one engine. */
export interface CaseResult {
  readonly fixture: string;
  readonly framework: string;
  /** Framework plus version profile, the matrix's row, e.g. `mlx 0.32.1`. */
  readonly profile: string;
  readonly engine: string;
  readonly producerKind: ProducerKind;
  readonly status: 'pass' | 'fail' | 'n/a';
  /** Why the case failed or was not applicable. */
  readonly reason?: string;
  readonly comparisons: readonly TensorComparison[];
  /** Gradient checks skipped because the engine has no gradients. */
  readonly gradientsSkipped: number;
  /** Tolerance was widened because the engine computes in a narrower dtype than the fixture. */
  readonly widened?: string;
}

export interface MatrixRow {
  readonly profile: string;
  readonly engine: string;
  readonly passed: number;
  readonly total: number;
  readonly notApplicable: number;
  readonly worstAbs: number;
  readonly worstRel: number;
  readonly realFramework: number;
  readonly published: number;
  /** Expected values computed by another framework: never counted as the framework itself. */
  readonly crossFramework: number;
  readonly oracle: number;
  readonly gradientsSkipped: number;
}

export function summarize(results: readonly CaseResult[]): MatrixRow[] {
  const rows = new Map<string, MatrixRow>();
  for (const r of results) {
    const key = `${r.profile}\u0000${r.engine}`;
    const prev: MatrixRow = rows.get(key) ?? {
      profile: r.profile, engine: r.engine, passed: 0, total: 0, notApplicable: 0, worstAbs: 0, worstRel: 0,
      realFramework: 0, published: 0, crossFramework: 0, oracle: 0, gradientsSkipped: 0,
    };
    const applicable = r.status !== 'n/a';
    const finite = (v: number) => (Number.isFinite(v) ? v : 0);
    rows.set(key, {
      ...prev,
      passed: prev.passed + (r.status === 'pass' ? 1 : 0),
      total: prev.total + (applicable ? 1 : 0),
      notApplicable: prev.notApplicable + (applicable ? 0 : 1),
      worstAbs: Math.max(prev.worstAbs, ...r.comparisons.map((c) => finite(c.maxAbsError))),
      worstRel: Math.max(prev.worstRel, ...r.comparisons.map((c) => finite(c.maxRelError))),
      realFramework: prev.realFramework + (r.producerKind === 'real-framework' ? 1 : 0),
      published: prev.published + (r.producerKind === 'published-vector' ? 1 : 0),
      crossFramework: prev.crossFramework + (r.producerKind === 'cross-framework' ? 1 : 0),
      oracle: prev.oracle + (r.producerKind === 'float64-oracle' || r.producerKind === 'float32-oracle' ? 1 : 0),
      gradientsSkipped: prev.gradientsSkipped + r.gradientsSkipped,
    });
  }
  return [...rows.values()].sort((a, b) => a.profile.localeCompare(b.profile) || a.engine.localeCompare(b.engine));
}

/** The first failing comparison of a failed case, for the error report. */
export function describeFailure(r: CaseResult): string {
  const bad = r.comparisons.find((c) => !c.ok);
  const where = bad
    ? bad.problem
      ? `${bad.label}: ${bad.problem}`
      : `${bad.label}: worst element [${bad.worstIndex}] = ${bad.actual}, expected ${bad.expected} (|err| ${bad.maxAbsError.toExponential(2)})`
    : (r.reason ?? 'failed');
  return `FAIL ${r.fixture} on ${r.engine}: ${where}`;
}
