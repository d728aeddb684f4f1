import type { ConformanceReport } from './runner.js';
import { describeFailure, summarize, type MatrixRow } from './results.js';

function sci(v: number): string {
  return v === 0 ? '0' : v.toExponential(1);
}

function cells(r: MatrixRow): string[] {
  const provenance = [
    r.realFramework ? `${r.realFramework} real` : '',
    r.published ? `${r.published} published` : '',
    r.crossFramework ? `${r.crossFramework} cross-framework` : '',
    r.oracle ? `${r.oracle} oracle` : '',
  ].filter(Boolean).join(', ');
  return [
    r.profile,
    r.engine,
    `${r.passed}/${r.total}`,
    r.notApplicable ? String(r.notApplicable) : '',
    sci(r.worstAbs),
    sci(r.worstRel),
    provenance,
    r.gradientsSkipped ? String(r.gradientsSkipped) : '',
  ];
}

const HEADER = ['framework', 'engine', 'passed', 'n/a', 'worst abs', 'worst rel', 'fixtures (provenance)', 'grad n/a'];

function align(rows: string[][]): string[] {
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The matrix as plain text, followed by failures and not-applicable reasons. */
export function formatMatrix(report: ConformanceReport): string {
  const rows = summarize(report.results);
  const lines = align(rows.map(cells));
  lines.push('(worst rel counts only elements whose absolute error exceeds the fixture\'s atol; 0 = none did)');
  const failures = report.results.filter((r) => r.status === 'fail');
  const passed = report.results.filter((r) => r.status === 'pass').length;
  const applicable = report.results.filter((r) => r.status !== 'n/a').length;
  lines.push('', `${passed}/${applicable} cases passed on ${report.engines.filter((e) => e.available).map((e) => e.name).join(', ') || 'no engine'}` +
    ` (${report.results.length - applicable} not applicable).`);
  const oracleOnly = [...new Set(rows.filter((r) => r.oracle + r.crossFramework > 0 && r.realFramework === 0 && r.published === 0).map((r) => r.profile))];
  if (oracleOnly.length) {
    lines.push(`Covered only by oracles or another framework's values (no real-framework fixtures yet): ${oracleOnly.join(', ')}.`);
  }
  const bugRecords = new Set(report.results.filter((r) => r.status === 'pass' && r.reason?.startsWith('framework bug not inherited')).map((r) => r.fixture));
  if (bugRecords.size) lines.push(`Framework bugs recorded and not inherited (checked against the float64 reference): ${[...bugRecords].join(', ')}.`);
  for (const e of report.engines.filter((x) => !x.available)) lines.push(`Engine ${e.name} unavailable: ${e.reason}`);
  const widened = new Map<string, number>();
  for (const r of report.results) if (r.widened) widened.set(r.widened, (widened.get(r.widened) ?? 0) + 1);
  for (const [why, count] of widened) lines.push(`Tolerance widened x${count}: ${why}.`);
  const reasons = new Map<string, number>();
  for (const r of report.results) if (r.status === 'n/a' && r.reason) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
  for (const [reason, count] of reasons) lines.push(`n/a x${count}: ${reason}`);
  for (const bad of report.invalid) lines.push(`INVALID ${bad.path}: ${bad.reason}`);
  for (const f of failures) lines.push(describeFailure(f));
  return lines.join('\n');
}

/** The matrix as a Markdown table. */
export function formatMarkdown(report: ConformanceReport): string {
  const rows = summarize(report.results).map(cells);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** Non-zero when anything failed or a fixture was invalid. */
export function exitCodeOf(report: ConformanceReport): number {
  // No case at all (an empty folder, a framework no fixture has) is a failure, not "0/0 passed".
  if (report.results.length === 0) return 1;
  return report.invalid.length > 0 || report.results.some((r) => r.status === 'fail') ? 1 : 0;
}
