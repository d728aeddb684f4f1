import type { CrossResult } from './cross-framework.js';

const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(1));

/** Each differing field's final and worst |port − source| and the conventions that explain it. */
function differences(r: CrossResult): string {
  const diff = r.fields
    .filter((f) => !f.ok)
    .map((f) => `${f.field} ${fmt(f.final)} after ${f.steps} ${f.field === 'eval output' ? 'eval' : 'train'} step(s) (worst ${fmt(f.worst)})`)
    .join('; ');
  if (diff === '') return r.conventions.length > 0 ? `within tolerance (conventions differ but do not show: ${r.conventions.join(', ')})` : 'within tolerance';
  return `${diff} — ${r.conventions.join(', ') || 'no convention differs'}`;
}

/** Whether a measured difference lacks a convention that explains it. */
export function isUnexplained(r: CrossResult): boolean {
  return (r.status === 'differs' || r.status === 'cannot-express') && !r.explained;
}

/**
 * One row per fixture and target: whether the port reproduces the source, else each differing
 * field's worst and final |port − source| and the conventions that explain it. A source the
 * target cannot express is measured on the nearest configuration it can (named in the row).
 */
export function formatCrossTable(results: readonly CrossResult[]): string {
  const rows = results.map((r) => {
    const unexplained = isUnexplained(r);
    const result =
      r.status === 'reproduces'
        ? 'reproduces'
        : r.status === 'differs'
          ? unexplained ? 'DIFFERS (unexplained)' : 'differs (explained)'
          : r.status === 'cannot-express' && r.nearest !== undefined
            ? unexplained ? 'cannot-express, DIFFERS (unexplained)' : 'cannot-express, measured'
            : r.status;
    const why =
      r.status === 'differs'
        ? differences(r)
        : r.status === 'reproduces'
          ? r.conventions.length > 0 ? `(conventions differ but do not show: ${r.conventions.join(', ')})` : ''
          : r.nearest !== undefined
            ? `${r.reason}; as the nearest it can express, ${r.nearest}: ${differences(r)}`
            : (r.reason ?? '');
    return [r.case, r.target, result, why];
  });
  const header = ['fixture', 'as', 'result', 'what differs, and why'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const counts = ['reproduces', 'differs', 'cannot-express', 'n/a'].map((s) => `${results.filter((r) => r.status === s).length} ${s}`).join(', ');
  const measured = results.filter((r) => r.status === 'cannot-express' && r.nearest !== undefined).length;
  const unexplained = results.filter(isUnexplained).length;
  // The last column's rule is as long as its heading: its cells are free text of any length.
  const rule = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? header[i]!.length : w));
  return [line(header), line(rule), ...rows.map(line), '', `${counts}; ${measured} cannot-express cell(s) measured on the nearest expressible configuration; ${unexplained} unexplained difference(s).`].join('\n');
}
