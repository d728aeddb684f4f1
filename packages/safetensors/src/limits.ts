/**
 * The file-format limits on hostile input. They live with every other limit in
 * `@normbridge/core`'s `limits.ts` (one place, each with its reason); re-exported here for the
 * format code and its users.
 */
export {
  MAX_DIMS_PRODUCT,
  MAX_HEADER_BYTES,
  MAX_INDEX_BYTES,
  MAX_JSON_DEPTH,
  MAX_RANK,
  MAX_READ_CHUNK_BYTES,
  MAX_SHARDS,
  MAX_TENSORS,
} from '@normbridge/core';
