import { formatInspectReport, inspectCheckpoint } from '@normbridge/safetensors';

export interface InspectCommandOptions {
  /** BatchNorm layers and totals only, no tensor list. @default false */
  readonly summary?: boolean | undefined;
  /** Print the whole report as JSON instead. @default false */
  readonly json?: boolean | undefined;
}

export async function inspect(file: string, opts: InspectCommandOptions): Promise<number> {
  const report = await inspectCheckpoint(file);
  const text = opts.json
    ? JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v), 2)
    : formatInspectReport(report, opts.summary ? { maxTensors: 0 } : {});
  process.stdout.write(`${text}\n`);
  return 0;
}
