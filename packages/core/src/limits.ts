/**
 * Limits on hostile input, in one place. Each is checked before the memory or work it guards is
 * spent, and each says why it has the value it has. Files, fixtures and host tensors all meet
 * these; `@normbridge/safetensors` re-exports the file-format ones.
 */

/**
 * Largest accepted safetensors header, in bytes. The Rust reference implementation refuses
 * headers over 100 MB; real headers are a few kB to a few MB (about 100 bytes per tensor), so a
 * larger one is either an attack or not a safetensors file, and we must not allocate it.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Deepest JSON nesting accepted in a header, a sharded index or a fixture manifest. A valid
 * header is three levels deep (root, tensor entry, shape array); the limit keeps the recursive
 * parser far from the engine's stack limit on inputs like `[[[[...`.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Largest accepted tensor rank. NumPy's compile-time maximum (NPY_MAXDIMS) is 64, so no
 * framework can produce more; it also bounds the per-dimension work of size checks.
 */
export const MAX_RANK = 64;

/**
 * Largest product of a shape's dimensions, checked after every multiplication (not just at the
 * end, where `[2^40, 2^40, 0]` would pass as 0). Element counts and byte offsets are JavaScript
 * numbers, exact only up to 2^53 - 1; the Rust reference refuses a product that overflows its
 * 64-bit `usize`, so this is at least as strict.
 */
export const MAX_DIMS_PRODUCT = Number.MAX_SAFE_INTEGER;

/**
 * Most tensors accepted in one safetensors file. The largest public checkpoints (mixture-of-
 * experts models with a few hundred experts per layer) hold about 10^5 tensors in all, across
 * shards; ten times that leaves room while bounding the per-tensor metadata kept in memory
 * (about 200 bytes each) to a few hundred MB. The header cap alone would allow ~2 million.
 */
export const MAX_TENSORS = 1_000_000;

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

/**
 * Largest fixture `manifest.json`. Manifests describe a few steps of one layer (a few kB); the
 * file is read whole and parsed, so it is capped like an index.
 */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Largest fixture tensor file. Conformance fixtures are small by design (the committed ones
 * are under 1 MB each; they are replayed on every engine in CI) and are read whole into memory.
 */
export const MAX_FIXTURE_BYTES = 256 * 1024 * 1024;

/**
 * Most features (channels) one BatchNorm layer may have. Each feature costs up to four float64
 * state tensors (32 bytes) before any input arrives, and a constructor argument (or a fixture
 * manifest's `num_features`) is not backed by any data that would bound it. Real networks use
 * at most a few thousand channels; 2^24 keeps the state of one layer under 512 MB.
 */
export const MAX_NUM_FEATURES = 2 ** 24;
