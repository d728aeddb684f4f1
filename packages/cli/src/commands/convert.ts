import { convertCheckpoint, formatConversionReport, type Framework } from '@normbridge/safetensors';
import { parseRenameRules } from './rename.js';

export interface ConvertCommandOptions {
  readonly from: Framework;
  readonly to: Framework;
  /** eps of layers without metadata. @default the source framework's default */
  readonly eps?: string | undefined;
  /** momentum (source convention; `none` = cumulative) of layers without metadata. @default the source framework's default */
  readonly momentum?: string | undefined;
  /** `FROM=TO` module path rules. @default [] */
  readonly rename?: readonly string[] | undefined;
  /** Report only, write nothing. @default false */
  readonly dryRun?: boolean | undefined;
  /** Exit 0 even when the report lists missing, unexpected or mis-shaped tensors. @default false */
  readonly allowProblems?: boolean | undefined;
}

/** Exit codes: 0 converted cleanly, 1 the report has problems (nothing else changes: the file is still written unless --dry-run), 2 usage. */
export async function convert(input: string, output: string | undefined, opts: ConvertCommandOptions): Promise<number> {
  if (output === undefined && !opts.dryRun) {
    process.stderr.write('normbridge convert: give an <output> file, or --dry-run to only report\n');
    return 2;
  }
  const assume = {
    ...(opts.eps !== undefined ? { epsilon: number(opts.eps, '--eps') } : {}),
    ...(opts.momentum !== undefined ? { momentum: opts.momentum === 'none' ? null : number(opts.momentum, '--momentum') } : {}),
  };
  const report = await convertCheckpoint({
    from: opts.from,
    to: opts.to,
    input,
    output: opts.dryRun ? undefined : output,
    ...(Object.keys(assume).length > 0 ? { assume } : {}),
    ...(opts.rename?.length ? { mapPath: parseRenameRules(opts.rename) } : {}),
  });
  process.stdout.write(`${formatConversionReport(report)}\n`);
  if (opts.dryRun) process.stdout.write('dry run: nothing written\n');
  if (!report.ok && !opts.allowProblems) {
    process.stderr.write('normbridge convert: the report lists problems (exit 1); pass --allow-problems to accept them\n');
    return 1;
  }
  return 0;
}

function number(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a non-negative number, got ${JSON.stringify(text)}`);
  return n;
}
