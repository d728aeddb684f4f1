import type { Framework } from './frameworks/index.js';
import type { InvalidValue, MissingKey, ShapeMismatch, UnexpectedKey } from './issues.js';
import type { ConfigOrigin, LayerKind } from './model.js';
import type { SafetensorsDtype } from '../format/dtypes.js';

export interface LayerReport {
  readonly kind: LayerKind;
  /** Module path as the source spells it. */
  readonly sourcePath: string;
  /** Module path as the target spells it (after `mapPath`). */
  readonly targetPath: string;
  /** BatchNorm: [channels]; conv/linear: the kernel's shape in the target layout. */
  readonly shape: readonly number[];
  readonly dtype: SafetensorsDtype | undefined;
  /** BatchNorm only: the eps the target layer must be built with. */
  readonly epsilon?: number | undefined;
  /** BatchNorm only: momentum in the target's convention (`null`: cumulative). */
  readonly momentum?: number | null | undefined;
  readonly configOrigin?: ConfigOrigin | undefined;
  readonly numBatchesTracked?: number | undefined;
}

/** What a conversion did, and everything it could not do. */
export interface ConversionReport {
  readonly from: Framework;
  readonly to: Framework;
  readonly input: string;
  /** Undefined for a dry run. */
  readonly output: string | undefined;
  readonly sourceTensors: number;
  readonly writtenTensors: number;
  /** Size of the written file; undefined for a dry run. */
  readonly writtenBytes: number | undefined;
  readonly layers: readonly LayerReport[];
  readonly counts: Readonly<Record<LayerKind, number>>;
  /** Keys the target should have but the source could not provide (or the template has and the output lacks). */
  readonly missing: readonly MissingKey[];
  /** Source keys that were not converted, and output keys the template does not have. */
  readonly unexpected: readonly UnexpectedKey[];
  readonly shapeMismatches: readonly ShapeMismatch[];
  /** Values that cannot be carried as the source means them (a negative or out-of-range batch counter). */
  readonly invalidValues: readonly InvalidValue[];
  /** Policies applied (counters dropped or created, defaults assumed, eps to set by hand, ...). */
  readonly notes: readonly string[];
  /** No missing, unexpected, mis-shaped or invalid keys. */
  readonly ok: boolean;
  /** The output's `__metadata__`. */
  readonly metadata: Readonly<Record<string, string>>;
}
