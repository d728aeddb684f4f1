import { NormbridgeError } from '@normbridge/core';

export type PortErrorCode =
  /** The checkpoint's framework could not be told from its names or metadata; pass `from`. */
  | 'unknown-source-framework'
  /** eps/momentum of some layers are in neither the metadata nor the options, and the defaults differ. */
  | 'batchnorm-config-unknown'
  /** The target framework cannot express a layer's momentum (PyTorch's cumulative average elsewhere). */
  | 'momentum-unsupported'
  /** A scale without a bias (or the reverse) for a target with one `affine` switch (PyTorch, MLX). */
  | 'affine-unsupported'
  /** BatchNorm tensors of the wrong shape or dtype. */
  | 'invalid-checkpoint';

/** Why a checkpoint could not be built into adapter layers; the message names the layers and fields. */
export class PortError extends NormbridgeError {
  constructor(
    override readonly code: PortErrorCode,
    message: string,
    /** Module paths (in the target's spelling) the error is about. */
    readonly layers: readonly string[] = [],
  ) {
    super(code, message);
  }
}
