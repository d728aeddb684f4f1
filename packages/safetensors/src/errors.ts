import { NormbridgeError } from '@normbridge/core';

/**
 * Why a safetensors file, index or write was refused. Codes are stable; tests and callers
 * switch on them, people read the message (which names the file, key, tensor or offset).
 */
export type SafetensorsErrorCode =
  // The 8-byte prefix and the header as a whole.
  | 'file-too-small'
  | 'header-too-large'
  | 'header-length-exceeds-file'
  | 'header-invalid-utf8'
  | 'header-invalid-json'
  | 'header-too-deep'
  | 'header-not-object'
  | 'too-many-tensors'
  | 'duplicate-key'
  // `__metadata__`.
  | 'metadata-invalid'
  // One tensor entry.
  | 'tensor-info-invalid'
  | 'unknown-dtype'
  | 'invalid-shape'
  | 'size-overflow'
  | 'invalid-offsets'
  | 'offsets-reversed'
  | 'size-mismatch'
  // The offsets taken together against the data region.
  | 'offsets-overlap'
  | 'offsets-gap'
  | 'data-truncated'
  | 'data-trailing-bytes'
  // Reading, converting and writing.
  | 'tensor-not-found'
  | 'read-failed'
  | 'not-a-regular-file'
  | 'outside-directory'
  | 'file-changed'
  | 'dtype-unsupported'
  | 'tensor-too-large'
  | 'invalid-argument'
  | 'write-failed'
  | 'target-refused'
  | 'write-aborted'
  | 'closed'
  | 'dependency-missing'
  // Sharded checkpoints.
  | 'index-invalid'
  | 'index-mismatch';

/** A safetensors file, sharded index or write request that normbridge refuses. */
export class SafetensorsError extends NormbridgeError {
  declare readonly code: SafetensorsErrorCode;
  /** The file at fault, when there is one (`<memory>` for in-memory buffers). */
  readonly file: string | undefined;
  /** The header key or tensor name at fault, when there is one. */
  readonly key: string | undefined;
  /** The byte offset at fault (in the file for prefix/header errors, in the data region otherwise). */
  readonly offset: number | undefined;

  constructor(
    code: SafetensorsErrorCode,
    message: string,
    where: { file?: string | undefined; key?: string | undefined; offset?: number | undefined; cause?: unknown } = {},
  ) {
    const location = [
      where.file !== undefined ? where.file : undefined,
      where.key !== undefined ? `tensor ${JSON.stringify(where.key)}` : undefined,
      where.offset !== undefined ? `offset ${where.offset}` : undefined,
    ].filter((s) => s !== undefined);
    super(code, location.length > 0 ? `${location.join(', ')}: ${message}` : message, { cause: where.cause });
    this.file = where.file;
    this.key = where.key;
    this.offset = where.offset;
  }
}

/** Why a checkpoint conversion was refused (as opposed to a malformed file, which is a {@link SafetensorsError}). */
export type ConversionErrorCode =
  | 'unknown-framework'
  | 'path-ambiguous'
  | 'key-collision'
  | 'invalid-config'
  | 'strict-check-failed';

export class ConversionError extends NormbridgeError {
  declare readonly code: ConversionErrorCode;
  /** The key or module path at fault, when there is one. */
  readonly key: string | undefined;
  constructor(code: ConversionErrorCode, message: string, key?: string, options?: { cause?: unknown }) {
    super(code, key !== undefined ? `${JSON.stringify(key)}: ${message}` : message, options);
    this.key = key;
  }
}
