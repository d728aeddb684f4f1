/**
 * The browser-safe subset: everything that works on bytes in memory, with no Node built-ins
 * (`@normbridge/safetensors/browser`). File access, atomic writes and inspect live in the main
 * entry only.
 */
export * from './errors.js';
export * from './limits.js';
export { SAFETENSORS_DTYPES, dtypeInfo, isSafetensorsDtype, type SafetensorsDtype, type DtypeInfo, type NativeArray } from './format/dtypes.js';
export { METADATA_KEY, parseHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './format/header.js';
export { decodeNative, decodeToFloat32 } from './format/decode.js';
export { encodeValues, type TensorValues } from './format/encode.js';
export type { TensorReader } from './io/reader.js';
export { parseSafetensors, SafetensorsBuffer, type ParseOptions } from './io/memory.js';
export { serializeSafetensors, type SerializeOptions } from './io/serialize-memory.js';
export type { TensorInput, TensorCollection, ValuesTensor, BytesTensor, LazyTensor, TfjsTensorLike } from './io/tensor-input.js';
export { bytesToTfjs, readTfjsTensor, readTfjsTensors, tfjsDtypeOf } from './io/tfjs.js';
export { FRAMEWORKS, isFramework, type Framework } from './port/frameworks/index.js';
export { translateCheckpoint, type TranslateOptions, type TranslationResult } from './port/translate.js';
export { convertSafetensorsBuffer } from './port/convert-buffer.js';
export type { ConversionReport, LayerReport } from './port/report.js';
export { formatConversionReport, type FormatConversionOptions } from './port/format-report.js';
