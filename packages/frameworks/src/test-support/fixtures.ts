/**
 * Reads the committed fixtures (fixtures/<framework>/<case>/) for the profile tests. A minimal
 * safetensors reader for float32/float64/int64 tensors: @normbridge/safetensors depends on this
 * package, so it cannot be a dependency of its tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '@normbridge/core';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'fixtures');

export interface Step {
  readonly mode: 'train' | 'eval';
  readonly call: Record<string, unknown>;
  readonly input: string;
  readonly output?: string;
  readonly mask?: string;
  readonly loss?: string;
  readonly error?: { type: string; message: string };
  readonly stateBefore?: Record<string, string>;
  readonly state?: Record<string, string>;
}

export interface Manifest {
  readonly case: string;
  readonly framework: { readonly name: string; readonly version: string };
  readonly producer: { readonly kind: string };
  readonly layer: { readonly class: string; readonly args: Record<string, unknown> };
  readonly layout: string;
  /** A framework bug the recording shows and normbridge does not reproduce. */
  readonly frameworkBug?: unknown;
  readonly tags?: readonly string[];
  readonly dtype: string;
  readonly tensors: string;
  readonly initialState: Record<string, string>;
  readonly steps: readonly Step[];
  readonly tolerance: { atol: number; rtol: number; output?: { atol: number; rtol: number }; state?: { atol: number; rtol: number } };
}

export interface Fixture {
  readonly dir: string;
  readonly manifest: Manifest;
  tensor(name: string): HostTensor;
}

const DTYPES = { F32: Float32Array, F64: Float64Array, I64: BigInt64Array } as const;

function readTensors(file: string): Map<string, HostTensor> {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, HostTensor>();
  for (const [name, t] of Object.entries(header)) {
    const Type = DTYPES[t.dtype as keyof typeof DTYPES];
    if (name === '__metadata__' || Type === undefined) continue;
    const raw = bytes.subarray(8 + headerLength + t.data_offsets[0], 8 + headerLength + t.data_offsets[1]);
    const view = new Type(new Uint8Array(raw).buffer);
    const data = view instanceof BigInt64Array ? Float64Array.from(view, Number) : view;
    out.set(name, { shape: t.shape, data, dtype: t.dtype === 'F64' ? 'float64' : 'float32' });
  }
  return out;
}

/** Every committed single-layer fixture of one framework folder. */
export function fixturesOf(framework: string): Fixture[] {
  const root = join(FIXTURES, framework);
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => {
      const dir = join(root, e.name);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
      let tensors: Map<string, HostTensor> | undefined;
      return {
        dir,
        manifest,
        tensor(name: string) {
          tensors ??= readTensors(join(dir, manifest.tensors));
          const t = tensors.get(name);
          if (t === undefined) throw new Error(`${dir}: no tensor ${name}`);
          return t;
        },
      };
    });
}

/** Largest |a - e| - (atol + rtol·|e|); positive means outside the tolerance. */
export function excess(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { atol: number; rtol: number }): number {
  let worst = -Infinity;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    worst = Math.max(worst, Math.abs(actual[i]! - e) - (tol.atol + tol.rtol * Math.abs(e)));
  }
  return worst;
}
