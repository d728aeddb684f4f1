/** Problems found while translating, reported instead of silently dropped. */

/** A key the target should have but the source cannot provide. */
export interface MissingKey {
  readonly key: string;
  readonly reason: string;
}

/** A key that was not converted (source side) or that the target does not expect (template). */
export interface UnexpectedKey {
  readonly key: string;
  readonly reason: string;
}

export interface ShapeMismatch {
  readonly key: string;
  readonly expected: readonly number[];
  readonly actual: readonly number[];
  readonly reason: string;
}

/** A value the target cannot hold as the source means it (a negative or out-of-range counter). */
export interface InvalidValue {
  readonly key: string;
  readonly reason: string;
}

export interface Issues {
  readonly missing: MissingKey[];
  readonly unexpected: UnexpectedKey[];
  readonly shapeMismatches: ShapeMismatch[];
  readonly invalidValues: InvalidValue[];
  readonly notes: string[];
}

export function emptyIssues(): Issues {
  return { missing: [], unexpected: [], shapeMismatches: [], invalidValues: [], notes: [] };
}
