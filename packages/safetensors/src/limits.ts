/**
 * Limits on hostile input. Each is checked before the memory or work it guards is spent, and
 * each says why it has the value it has.
 */

/**
 * Largest accepted header, in bytes. The Rust reference implementation refuses headers over
 * 100 MB; real headers are a few kB to a few MB (about 100 bytes per tensor), so a larger one
 * is either an attack or not a safetensors file, and we must not allocate it.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Deepest JSON nesting accepted in a header or a sharded index. A valid header is three levels
 * deep (root, tensor entry, shape array); the limit keeps the recursive parser far from the
 * engine's stack limit on inputs like `[[[[...`.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Largest accepted tensor rank. NumPy's compile-time maximum (NPY_MAXDIMS) is 64, so no
 * framework can produce more; it also bounds the per-dimension work of size checks.
 */
export const MAX_RANK = 64;

/**
 * Largest accepted `model.safetensors.index.json`. Real indexes list one short line per
 * tensor (a few hundred kB for the largest public models); the file is read whole.
 */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/**
 * Largest single `read` issued on a file handle. Node refuses reads above 2 GiB - 1
 * (kIoMaxLength), so longer tensors are read in chunks of this size.
 */
export const MAX_READ_CHUNK_BYTES = 1024 * 1024 * 1024;

/**
 * Largest accepted number of shards in an index. Each shard is a file handle held open while
 * the checkpoint is; the largest public checkpoints have a few hundred shards, and the default
 * per-process descriptor limit on Linux is 1024.
 */
export const MAX_SHARDS = 512;
