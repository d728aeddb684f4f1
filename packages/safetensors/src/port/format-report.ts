import { escapeControl, formatBytes, formatNumber, formatShape, table } from '../format-util.js';
import type { ConversionReport } from './report.js';

export interface FormatConversionOptions {
  /**
   * List every converted layer, not just the counts.
   * @default false
   */
  readonly layers?: boolean | undefined;
}

/** A human-readable conversion report for the CLI. */
export function formatConversionReport(report: ConversionReport, options: FormatConversionOptions = {}): string {
  const lines: string[] = [];
  lines.push(`convert ${report.from} → ${report.to}: ${report.ok ? 'OK' : 'WITH PROBLEMS'}`);
  lines.push(`  input:  ${report.input} (${report.sourceTensors} tensors)`);
  lines.push(
    report.output === undefined
      ? `  output: (dry run) ${report.writtenTensors} tensors`
      : `  output: ${report.output} (${report.writtenTensors} tensors, ${formatBytes(report.writtenBytes ?? 0)})`,
  );
  lines.push(`  layers: ${report.counts.batchnorm} BatchNorm, ${report.counts.conv} conv, ${report.counts.linear} dense`);
  const bn = report.layers.filter((l) => l.kind === 'batchnorm');
  if (bn.length > 0) {
    const groups = new Map<string, number>();
    for (const l of bn) {
      const k = `eps ${formatNumber(l.epsilon)}, momentum ${formatNumber(l.momentum)}`;
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
    lines.push(`  BatchNorm config for ${report.to}: ${[...groups].map(([k, n]) => `${k} (${n} layer${n === 1 ? '' : 's'})`).join('; ')}`);
  }
  if (options.layers) {
    lines.push('  converted layers:');
    lines.push(
      ...table(
        [
          ['kind', 'source', 'target', 'shape', 'dtype', 'eps', 'momentum', 'tracked'],
          ...report.layers.map((l) => [
            l.kind,
            l.sourcePath || '(root)',
            l.targetPath || '(root)',
            formatShape(l.shape),
            l.dtype ?? '-',
            l.kind === 'batchnorm' ? formatNumber(l.epsilon) : '',
            l.kind === 'batchnorm' ? formatNumber(l.momentum) : '',
            l.numBatchesTracked === undefined ? '' : String(l.numBatchesTracked),
          ]),
        ],
        '    ',
      ),
    );
  }
  const section = (title: string, items: readonly string[]) => {
    lines.push(`  ${title} (${items.length})${items.length > 0 ? ':' : ''}`);
    for (const i of items) lines.push(`    - ${i}`);
  };
  section('missing', report.missing.map((m) => `${m.key}: ${m.reason}`));
  section('unexpected', report.unexpected.map((u) => `${u.key}: ${u.reason}`));
  section(
    'shape mismatches',
    report.shapeMismatches.map((s) => `${s.key}: expected ${formatShape(s.expected)}, got ${formatShape(s.actual)} (${s.reason})`),
  );
  if (report.invalidValues.length > 0) section('invalid values', report.invalidValues.map((v) => `${v.key}: ${v.reason}`));
  if (report.notes.length > 0) section('notes', report.notes);
  // Keys, paths and reasons quote the file: control characters must not reach the terminal.
  return lines.map(escapeControl).join('\n');
}
