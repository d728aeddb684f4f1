export * from './errors.js';
export * from './limits.js';
export { SAFETENSORS_DTYPES, dtypeInfo, isSafetensorsDtype, type SafetensorsDtype, type DtypeInfo, type NativeArray } from './format/dtypes.js';
export { METADATA_KEY, parseHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './format/header.js';
export { decodeNative, decodeToFloat32 } from './format/decode.js';
export { encodeValues, type TensorValues } from './format/encode.js';
export {
  BF16_FORMAT,
  decodeMiniFloat,
  encodeMiniFloat,
  F16_FORMAT,
  F8_E4M3_FORMAT,
  F8_E5M2_FORMAT,
  type MiniFloatFormat,
} from '@normbridge/core';
export { parseStrictJson, JsonDecimal, JsonSyntaxError, type JsonValue, type JsonObject } from './format/strict-json.js';
export type { TensorReader } from './io/reader.js';
export { parseSafetensors, SafetensorsBuffer, type ParseOptions } from './io/memory.js';
export { openSafetensors, SafetensorsFile } from './io/file-reader.js';
export { openShardedSafetensors, ShardedSafetensors } from './io/sharded.js';
export { openCheckpoint } from './io/open-checkpoint.js';
export { readCheckpoint, type ReadCheckpointOptions } from './io/read-checkpoint.js';
export { serializeSafetensors, type SerializeOptions } from './io/serialize-memory.js';
export { writeSafetensorsFile, type WriteOptions, type WriteResult } from './io/file-writer.js';
export type { TensorInput, TensorCollection, ValuesTensor, BytesTensor, LazyTensor, TfjsTensorLike } from './io/tensor-input.js';
export { bytesToTfjs, readTfjsTensor, readTfjsTensors, tfjsDtypeOf } from './io/tfjs.js';
export { FRAMEWORKS, isFramework, type Framework } from './port/frameworks/index.js';
export type { FrameworkNaming, ConvLayout, LinearLayout, MomentumConvention, Role, KeyParts } from './port/naming.js';
export { NAMINGS } from './port/frameworks/index.js';
export type { Layer, LayerKind, BatchNormLayer, ConvLayer, LinearLayer, BatchNormConfig, ConfigOrigin } from './port/model.js';
export type { MissingKey, UnexpectedKey, ShapeMismatch } from './port/issues.js';
export { parseKeys, type ParseResult } from './port/parse.js';
export { emitLayers, type EmittedTensor } from './port/emit.js';
export { permuteRef, permuteBytes, inversePerm, type TensorRef } from './port/tensor-ref.js';
export { NORMBRIDGE_METADATA_KEY, readConfigMetadata, writeConfigMetadata, type LayerConfigRecord } from './port/config.js';
export { compareKeySets, type KeyComparison, type KeyShape } from './port/compare.js';
export { translateCheckpoint, type TranslateOptions, type TranslationResult } from './port/translate.js';
export { convertCheckpoint, StrictConversionError, type ConvertOptions } from './port/convert.js';
export { convertSafetensorsBuffer } from './port/convert-buffer.js';
export type { ConversionReport, LayerReport } from './port/report.js';
export { formatConversionReport, type FormatConversionOptions } from './port/format-report.js';
export { detectFramework, type FrameworkGuess } from './inspect/detect-framework.js';
export {
  inspectCheckpoint,
  inspectReader,
  type InspectOptions,
  type InspectReport,
  type TensorSummary,
  type BatchNormSummary,
  type Range,
} from './inspect/inspect.js';
export { formatInspectReport, type FormatInspectOptions } from './inspect/format-inspect.js';
export { escapeControl } from './format-util.js';
