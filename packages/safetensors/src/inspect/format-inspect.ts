import { escapeControl, formatBytes, formatNumber, formatShape, table } from '../format-util.js';
import type { InspectReport, Range } from './inspect.js';

export interface FormatInspectOptions {
  /**
   * Largest number of tensors listed; the rest are summarised in one line.
   * @default Infinity
   */
  readonly maxTensors?: number | undefined;
}

const range = (r: Range | undefined) => (r === undefined ? '-' : `[${formatNumber(r.min)}, ${formatNumber(r.max)}]`);

/** A human-readable inspect report for the CLI. */
export function formatInspectReport(report: InspectReport, options: FormatInspectOptions = {}): string {
  const lines: string[] = [];
  const t = report.totals;
  lines.push(`${report.path}: ${formatBytes(report.fileBytes)}, ${t.tensors} tensors, ${t.elements.toLocaleString('en-US')} values`);
  if (report.files.length > 1) lines.push(`  shards: ${report.files.length}`);
  lines.push(`  framework: ${report.framework ?? 'unknown'} (${report.frameworkReason})`);
  if (report.metadata !== undefined) {
    lines.push('  metadata:');
    for (const k of Object.keys(report.metadata).sort()) {
      const v = report.metadata[k]!;
      lines.push(`    ${k}: ${v.length > 100 ? `${v.slice(0, 97)}...` : v}`);
    }
  }
  lines.push(
    `  dtypes: ${Object.entries(t.byDtype)
      .map(([d, s]) => `${d} ${s!.tensors} tensor${s!.tensors === 1 ? '' : 's'} ${formatBytes(s!.bytes)}`)
      .join('; ')}`,
  );
  const max = options.maxTensors ?? Infinity;
  lines.push('  tensors:');
  const shown = report.tensors.slice(0, max);
  // One row at a time: spreading a million rows into push() overflows the call stack.
  const rows: string[][] = [['name', 'dtype', 'shape', 'bytes']];
  for (const x of shown) rows.push([x.name, x.dtype, formatShape(x.shape), formatBytes(x.bytes)]);
  for (const row of table(rows, '    ')) lines.push(row);
  if (report.tensors.length > shown.length) lines.push(`    ... and ${report.tensors.length - shown.length} more`);
  const c = report.layerCounts;
  lines.push(`  layers: ${c.batchnorm} BatchNorm, ${c.conv} conv, ${c.linear} dense; ${report.otherTensors} other tensor(s)`);
  if (report.batchNorm.length > 0) {
    lines.push('  BatchNorm layers (eps/momentum marked * are framework defaults, not recorded in the file):');
    lines.push(
      ...table(
        [
          ['path', 'C', 'running_mean', 'running_var', 'eps', 'momentum', 'tracked', 'warnings'],
          ...report.batchNorm.map((b) => {
            const star = b.configOrigin === 'default' ? '*' : '';
            return [
              b.path || '(root)',
              b.channels === undefined ? '?' : String(b.channels),
              range(b.runningMean),
              range(b.runningVar),
              formatNumber(b.epsilon) + star,
              formatNumber(b.momentum) + star,
              b.numBatchesTracked === undefined ? '-' : String(b.numBatchesTracked),
              b.warnings.join('; '),
            ];
          }),
        ],
        '    ',
      ),
    );
  }
  for (const n of report.notes) lines.push(`  note: ${n}`);
  // Names and metadata come from the file: control characters must not reach the terminal.
  return lines.map(escapeControl).join('\n');
}
