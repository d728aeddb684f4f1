/**
 * Fixture tensors from a safetensors file, read by `@normbridge/safetensors` (the same strict
 * reader users get: offsets tile the data exactly, no unknown header keys, no duplicate names,
 * every limit of `@normbridge/core`'s limits.ts). This file only narrows the dtypes a fixture
 * may use and brings the tensors to the forms the runner takes:
 *
 * - float tensors as core `HostTensor`s (float16/bfloat16 widened into a Float32Array);
 * - I64 as an `Int64Tensor`;
 * - BOOL (Flax masks) as a float32 0/1 `HostTensor`, the mask form core's reference takes.
 *
 * Every refusal is a {@link FixtureError} naming the tensor's header field, with the reader's
 * `SafetensorsError` (and its code) as the cause.
 */
import type { HostTensor, Int64Tensor } from '@normbridge/core';
import { parseSafetensors, SafetensorsError, type SafetensorsBuffer, type SafetensorsErrorCode } from '@normbridge/safetensors';
import { FixtureError } from './fixture-schema.js';

export type FixtureTensor = HostTensor | Int64Tensor;

/** The safetensors dtypes a fixture may store. */
const FIXTURE_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'BOOL'] as const;

export interface SafetensorsFile {
  readonly tensors: Map<string, FixtureTensor>;
  /** safetensors dtype code of each tensor as stored (BOOL masks are converted on read). */
  readonly storedDtypes: Map<string, string>;
  readonly metadata: Record<string, string>;
}

/** The header field a reader error is about, in the names the fixture format uses. */
function fieldOf(e: SafetensorsError): string {
  const byCode: Partial<Record<SafetensorsErrorCode, string>> = {
    'file-too-small': '(header length)',
    'header-too-large': '(header length)',
    'header-length-exceeds-file': '(header length)',
    'data-truncated': '(data)',
    'data-trailing-bytes': '(data)',
    'metadata-invalid': '__metadata__',
  };
  const whole = byCode[e.code];
  if (whole !== undefined) return whole;
  if (e.key === undefined) return '(header)';
  const entryField: Partial<Record<SafetensorsErrorCode, string>> = {
    'unknown-dtype': 'dtype',
    'invalid-shape': 'shape',
    'size-overflow': 'shape',
    'invalid-offsets': 'data_offsets',
    'offsets-reversed': 'data_offsets',
    'size-mismatch': 'data_offsets',
    'offsets-overlap': 'data_offsets',
    'offsets-gap': 'data_offsets',
  };
  const sub = entryField[e.code];
  return sub === undefined ? e.key : `${e.key}.${sub}`;
}

function parse(bytes: Uint8Array, file: string | undefined): SafetensorsBuffer {
  try {
    return parseSafetensors(bytes, { name: file ?? '<fixture>' });
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    const error = new FixtureError(fieldOf(e), `is refused by the safetensors reader (${e.code}): ${e.message}`, file);
    error.cause = e;
    throw error;
  }
}

/** Parses a fixture's safetensors bytes. `file` only labels errors. */
export function decodeSafetensors(bytes: Uint8Array, file?: string): SafetensorsFile {
  const reader = parse(bytes, file);
  const tensors = new Map<string, FixtureTensor>();
  const storedDtypes = new Map<string, string>();
  for (const info of reader.tensors) {
    const { name, dtype } = info;
    const shape = [...info.shape];
    if (!(FIXTURE_DTYPES as readonly string[]).includes(dtype)) {
      throw new FixtureError(`${name}.dtype`, `${JSON.stringify(dtype)} is not a fixture dtype (${FIXTURE_DTYPES.join(', ')})`, file);
    }
    storedDtypes.set(name, dtype);
    switch (dtype) {
      case 'F64':
        tensors.set(name, { shape, data: reader.nativeSync(name) as Float64Array, dtype: 'float64' });
        break;
      case 'I64':
        tensors.set(name, { shape, data: reader.nativeSync(name) as BigInt64Array, dtype: 'int64' });
        break;
      case 'BOOL': {
        const raw = reader.view(name);
        const bad = raw.findIndex((b) => b > 1);
        if (bad >= 0) throw new FixtureError(name, `BOOL byte ${bad} is ${raw[bad]}, not 0 or 1`, file);
        tensors.set(name, { shape, data: reader.float32Sync(name), dtype: 'float32' });
        break;
      }
      default:
        // F32 as it is; F16 and BF16 widened exactly (core's widenHalfFloats), keeping their dtype.
        tensors.set(name, { shape, data: reader.float32Sync(name), dtype: dtype === 'F16' ? 'float16' : dtype === 'BF16' ? 'bfloat16' : 'float32' });
    }
  }
  return { tensors, storedDtypes, metadata: { ...reader.metadata } };
}
