import { parseSafetensors } from '../io/memory.js';
import { serializeSafetensors } from '../io/serialize-memory.js';
import type { BytesTensor } from '../io/tensor-input.js';
import type { ConversionReport } from './report.js';
import { translateCheckpoint, type TranslateOptions } from './translate.js';

/**
 * In-memory conversion (browsers, tests): a whole safetensors file in, a whole file out. The
 * report's `output` is `<memory>`.
 */
export async function convertSafetensorsBuffer(
  input: Uint8Array,
  options: TranslateOptions & { readonly name?: string | undefined },
): Promise<{ bytes: Uint8Array; report: ConversionReport }> {
  const reader = parseSafetensors(input, { name: options.name });
  const { tensors, metadata, report } = await translateCheckpoint(reader, options);
  const resolved = new Map<string, BytesTensor>();
  for (const [key, t] of tensors) resolved.set(key, { dtype: t.dtype, shape: t.shape, bytes: await t.read() });
  const bytes = serializeSafetensors(resolved, { metadata });
  return { bytes, report: { ...report, output: '<memory>', writtenBytes: bytes.length } };
}
