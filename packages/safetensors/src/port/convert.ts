/**
 * File-to-file conversion: `normbridge convert --from torch --to flax IN OUT`.
 */
import { ConversionError } from '../errors.js';
import { writeSafetensorsFile } from '../io/file-writer.js';
import { openCheckpoint } from '../io/open-checkpoint.js';
import type { TensorReader } from '../io/reader.js';
import { compareKeySets } from './compare.js';
import type { ConversionReport } from './report.js';
import { translateCheckpoint, type TranslateOptions } from './translate.js';

export interface ConvertOptions extends TranslateOptions {
  /** A safetensors file, or a sharded checkpoint's `model.safetensors.index.json`. */
  readonly input: string;
  /**
   * Where to write the converted checkpoint (one file, replaced atomically).
   * @default undefined: a dry run that only reports
   */
  readonly output?: string | undefined;
  /**
   * A checkpoint of the target model in the target framework (e.g. freshly initialised and
   * saved); the output's keys and shapes are compared with it like a strict `load_state_dict`.
   * @default undefined: no comparison
   */
  readonly template?: string | undefined;
  /**
   * Refuse to write when anything is missing, unexpected or mis-shaped; the error carries the
   * report.
   * @default false
   */
  readonly strict?: boolean | undefined;
  /**
   * Progress of the write, in bytes; throwing aborts it and leaves `output` untouched.
   * @default undefined
   */
  readonly onProgress?: ((bytesWritten: number, totalBytes: number) => void) | undefined;
  /**
   * Aborts the write between tensors; `output` is left untouched.
   * @default undefined
   */
  readonly signal?: AbortSignal | undefined;
}

/** A conversion refused by `strict`, with the report that explains why. */
export class StrictConversionError extends ConversionError {
  constructor(readonly report: ConversionReport) {
    const n = report.missing.length + report.unexpected.length + report.shapeMismatches.length + report.invalidValues.length;
    super(
      'strict-check-failed',
      `${n} problem(s) converting ${report.input} (${report.missing.length} missing, ${report.unexpected.length} unexpected, ` +
        `${report.shapeMismatches.length} shape mismatches, ${report.invalidValues.length} invalid values); nothing was written`,
    );
  }
}

export async function convertCheckpoint(options: ConvertOptions): Promise<ConversionReport> {
  const reader = await openCheckpoint(options.input);
  try {
    const { tensors, metadata, report } = await translateCheckpoint(reader, options);
    const missing = [...report.missing];
    const unexpected = [...report.unexpected];
    const shapeMismatches = [...report.shapeMismatches];
    const notes = [...report.notes];
    if (options.template !== undefined) {
      const template = await openCheckpoint(options.template);
      try {
        const cmp = compareKeySets(new Map(tensors), shapesOf(template), options.template);
        missing.push(...cmp.missing);
        unexpected.push(...cmp.unexpected);
        shapeMismatches.push(...cmp.shapeMismatches);
        if (cmp.dtypeDifferences.length > 0) {
          notes.push(`${cmp.dtypeDifferences.length} tensor(s) keep the source's dtype, which differs from the template's (e.g. ${cmp.dtypeDifferences[0]!.key}: ${cmp.dtypeDifferences[0]!.actual} vs ${cmp.dtypeDifferences[0]!.expected}).`);
        }
      } finally {
        await template.close();
      }
    }
    const ok = missing.length === 0 && unexpected.length === 0 && shapeMismatches.length === 0 && report.invalidValues.length === 0;
    const draft: ConversionReport = { ...report, missing, unexpected, shapeMismatches, notes, ok, output: undefined, writtenBytes: undefined };
    if (options.strict && !ok) throw new StrictConversionError(draft);
    if (options.output === undefined) return draft;
    const written = await writeSafetensorsFile(options.output, tensors, {
      metadata,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    return { ...draft, output: options.output, writtenBytes: written.bytes };
  } finally {
    await reader.close();
  }
}

function shapesOf(reader: TensorReader) {
  return new Map(reader.tensors.map((t) => [t.name, { shape: t.shape, dtype: t.dtype }]));
}
