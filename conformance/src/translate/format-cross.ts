import type { CrossResult } from './cross-framework.js';

const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(1));

/**
 * One row per fixture and target: whether the port reproduces the source, else each differing
 * field's worst and final |port − source| and the conventions that explain it.
 */
export function formatCrossTable(results: readonly CrossResult[]): string {
  const rows = results.map((r) => {
    const diff = r.fields
      .filter((f) => !f.ok)
      .map((f) => `${f.field} ${fmt(f.final)} after ${f.steps} ${f.field === 'eval output' ? 'eval' : 'train'} step(s) (worst ${fmt(f.worst)})`)
      .join('; ');
    const result =
      r.status === 'reproduces' ? 'reproduces' : r.status === 'differs' ? (r.explained ? 'differs (explained)' : 'DIFFERS (unexplained)') : r.status;
    const why = r.status === 'differs' ? `${diff} — ${r.conventions.join(', ') || 'no convention differs'}` : r.status === 'reproduces' ? r.conventions.length > 0 ? `(conventions differ but do not show: ${r.conventions.join(', ')})` : '' : (r.reason ?? '');
    return [r.case, r.target, result, why];
  });
  const header = ['fixture', 'as', 'result', 'what differs, and why'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const counts = ['reproduces', 'differs', 'cannot-express', 'n/a'].map((s) => `${results.filter((r) => r.status === s).length} ${s}`).join(', ');
  const unexplained = results.filter((r) => r.status === 'differs' && !r.explained).length;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `${counts}; ${unexplained} unexplained difference(s).`].join('\n');
}
