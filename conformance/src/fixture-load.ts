/**
 * Loading fixtures: the manifest (validated by {@link FixtureManifestSchema}), its safetensors
 * file, and a check that every tensor the manifest names exists with a sane shape and dtype.
 */
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { MAX_FIXTURE_BYTES, MAX_MANIFEST_BYTES, type HostTensor, type Int64Tensor } from '@normbridge/core';
import { PROFILES } from '@normbridge/frameworks';
import {
  FixtureError,
  parseFixtureManifest,
  tensorReferences,
  type FixtureManifest,
} from './fixture-schema.js';
import { decodeSafetensors, type FixtureTensor } from './fixture-safetensors.js';

export const MANIFEST_FILE = 'manifest.json';

export interface LoadedFixture {
  readonly manifest: FixtureManifest;
  /** Every tensor of the safetensors file, by name. */
  readonly tensors: Map<string, HostTensor | Int64Tensor>;
  /** safetensors `__metadata__`. */
  readonly metadata: Record<string, string>;
  readonly dir: string;
  readonly manifestPath: string;
}

/**
 * Loads a fixture from its folder or its manifest path. Throws {@link FixtureError} naming the
 * field (or tensor) at fault when the manifest is invalid, a named tensor is missing from the
 * safetensors file, or a tensor has the wrong shape or dtype for its role.
 */
export async function loadFixture(dirOrManifest: string): Promise<LoadedFixture> {
  const path = resolve(dirOrManifest);
  const manifestPath = (await stat(path)).isDirectory() ? join(path, MANIFEST_FILE) : path;
  const dir = dirname(manifestPath);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(await readRegularFile(manifestPath, MAX_MANIFEST_BYTES)));
  } catch (e) {
    throw new FixtureError('(manifest)', `cannot be read as JSON: ${(e as Error).message}`, manifestPath);
  }
  const manifest = parseFixtureManifest(raw, manifestPath);
  if (basename(dir) !== manifest.case) {
    throw new FixtureError('case', `is "${manifest.case}" but the folder is "${basename(dir)}"`, manifestPath);
  }
  const tensorsPath = join(dir, manifest.tensors);
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(tensorsPath, MAX_FIXTURE_BYTES);
  } catch (e) {
    throw new FixtureError('tensors', `names a file that cannot be read: ${(e as Error).message}`, manifestPath);
  }
  return withTensors(manifest, bytes, { dir, manifestPath, tensorsPath });
}

/** What {@link loadFixtureFromBytes} reads: a fixture's two files, already in memory. */
export interface FixtureBytes {
  /** `manifest.json`, as text or UTF-8 bytes. */
  readonly manifest: string | Uint8Array;
  /** The safetensors file the manifest's `tensors` field names. */
  readonly tensors: Uint8Array;
  /** How errors name the fixture (a URL or path). @default '(bytes)' */
  readonly label?: string | undefined;
}

/**
 * Loads a fixture from its bytes, with the checks of {@link loadFixture}: for a browser (the
 * files fetched from a server or dropped on a page) or any source that is not a folder.
 */
export function loadFixtureFromBytes(source: FixtureBytes): LoadedFixture {
  const label = source.label ?? '(bytes)';
  const text = typeof source.manifest === 'string' ? source.manifest : new TextDecoder().decode(source.manifest);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FixtureError('(manifest)', `cannot be read as JSON: ${(e as Error).message}`, label);
  }
  const manifest = parseFixtureManifest(raw, label);
  return withTensors(manifest, source.tensors, { dir: label, manifestPath: label, tensorsPath: `${label} ${manifest.tensors}` });
}

function withTensors(
  manifest: FixtureManifest,
  bytes: Uint8Array,
  where: { readonly dir: string; readonly manifestPath: string; readonly tensorsPath: string },
): LoadedFixture {
  const file = decodeSafetensors(bytes, where.tensorsPath);
  if (manifest.dtype === 'float32') widenCompactFloat32(file.tensors);
  checkSizeArguments(manifest, file.tensors, where.manifestPath);
  checkFixtureTensors(manifest, file.tensors, where.manifestPath, file.storedDtypes);
  return { manifest, tensors: file.tensors, metadata: file.metadata, dir: where.dir, manifestPath: where.manifestPath };
}

/**
 * A float32 fixture may store values that are exact in float16 (or bfloat16) compactly as F16
 * (BF16): every such value is a float32 value, so the tensor is relabelled float32 in place
 * (the reader already widened its data). A float16 fixture's tensors keep their dtype.
 */
function widenCompactFloat32(tensors: Map<string, HostTensor | Int64Tensor>): void {
  for (const [name, t] of tensors) {
    if (t.dtype === 'float16' || t.dtype === 'bfloat16') tensors.set(name, { ...t, dtype: 'float32' });
  }
}

/**
 * Layer arguments that size allocations (`num_features`) are checked against the tensors before
 * any binding passes them to a constructor: every real fixture's feature count is the size of
 * one of its tensors (its statistics, or an input's channels), so a larger one is refused and a
 * 40-byte manifest cannot make a layer allocate gigabytes.
 */
function checkSizeArguments(manifest: FixtureManifest, tensors: ReadonlyMap<string, FixtureTensor>, file: string): void {
  const args = manifest.layer.args as Record<string, unknown>;
  const n = args['num_features'];
  if (typeof n !== 'number') return;
  let largest = 0;
  for (const t of tensors.values()) largest = Math.max(largest, t.data.length, ...t.shape);
  if (n > largest) {
    throw new FixtureError('layer.args.num_features', `is ${n}, more than any tensor of the fixture holds (${largest}); a layer that size would be allocated for nothing`, file);
  }
}

/**
 * Reads a whole fixture file after checking that it is a regular file (a FIFO would block, a
 * link to /dev/zero never ends) no larger than `maxBytes`. Symbolic links to regular files are
 * followed. O_NONBLOCK keeps `open` of a FIFO from waiting for a writer.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Uint8Array> {
  // Flags read here, not at import: a browser bundle stubs node:fs.
  const fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new Error(`${path} is not a regular file (a directory, FIFO, device or socket)`);
    if (s.size > maxBytes) throw new Error(`${path} is ${s.size} bytes, more than the limit of ${maxBytes}`);
    const out = new Uint8Array(s.size);
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await fh.read(out, done, out.length - done, done);
      if (bytesRead === 0) throw new Error(`${path} ended early (it changed while being read)`);
      done += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Feature axes of an input of the given rank, per the manifest's layout. `[]` for ONNX 1-D. */
export function fixtureFeatureAxes(manifest: Pick<FixtureManifest, 'layout' | 'featureAxes'>, rank: number): number[] {
  if (manifest.layout === 'custom') return [...manifest.featureAxes!];
  if (manifest.layout === 'N') return [];
  if (manifest.layout === 'NC*') return [1];
  if (manifest.layout === 'N*C') return [rank - 1];
  return [manifest.layout.indexOf('C')].map((a) => (a < 0 ? rank + a : a));
}

/** Shape of per-feature tensors (parameters, running statistics) for an input shape. */
export function fixtureFeatureShape(manifest: Pick<FixtureManifest, 'layout' | 'featureAxes'>, inputShape: readonly number[]): number[] {
  if (manifest.layout === 'N') return [1];
  return fixtureFeatureAxes(manifest, inputShape.length).map((a) => inputShape[a]!);
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Checks that every tensor a manifest names exists in `tensors` with the shape and dtype its
 * role implies: inputs, outputs, cotangents and input gradients shaped like the step's input;
 * parameters, statistics and their gradients shaped like the features; PyTorch's
 * `num_batches_tracked` an int64 scalar; masks broadcastable to the input.
 */
export function checkFixtureTensors(
  manifest: FixtureManifest,
  tensors: ReadonlyMap<string, FixtureTensor>,
  file?: string,
  storedDtypes?: ReadonlyMap<string, string>,
): void {
  for (const { field, name } of tensorReferences(manifest)) {
    if (!tensors.has(name)) throw new FixtureError(field, `names tensor "${name}", which is not in ${manifest.tensors}`, file);
  }
  const get = (name: string) => tensors.get(name)!;
  const fw = manifest.framework.name;
  const counter = PROFILES[fw].counter;
  const expectFloat = (field: string, name: string, shape: readonly number[] | undefined, dtype?: string) => {
    const t = get(name);
    if (t.dtype === 'int64') throw new FixtureError(field, `tensor "${name}" is int64; expected a float tensor`, file);
    if (dtype !== undefined && t.dtype !== dtype) {
      throw new FixtureError(field, `tensor "${name}" is ${t.dtype}; the fixture's dtype is ${dtype}`, file);
    }
    if (shape && !sameShape(t.shape, shape)) {
      throw new FixtureError(field, `tensor "${name}" has shape ${fmt(t.shape)}; expected ${fmt(shape)}`, file);
    }
  };
  const expectState = (prefix: string, map: Record<string, string> | undefined, featureShape: readonly number[] | undefined) => {
    for (const [key, name] of Object.entries(map ?? {})) {
      const field = `${prefix}.${key}`;
      const t = get(name);
      if (key === counter) {
        if (t.dtype !== 'int64' || t.shape.length !== 0) {
          throw new FixtureError(field, `tensor "${name}" must be an int64 scalar (shape []), got ${t.dtype} ${fmt(t.shape)}`, file);
        }
        continue;
      }
      expectFloat(field, name, featureShape);
    }
  };

  let featureShape: number[] | undefined;
  const anyRank = manifest.layout === 'custom' || manifest.layout === 'NC*' || manifest.layout === 'N*C';
  const rankOf = (layoutLen: number) => (anyRank ? undefined : layoutLen);
  manifest.steps.forEach((step, i) => {
    const p = `steps.${i}`;
    const x = get(step.input);
    if (x.dtype === 'int64') throw new FixtureError(`${p}.input`, `tensor "${step.input}" is int64; expected a float tensor`, file);
    if (step.error) return; // an error step's input may be deliberately malformed
    expectFloat(`${p}.input`, step.input, undefined, manifest.dtype);
    const wantRank = rankOf(manifest.layout.length);
    if (wantRank !== undefined && x.shape.length !== wantRank) {
      throw new FixtureError(`${p}.input`, `tensor "${step.input}" has rank ${x.shape.length}; layout ${manifest.layout} needs ${wantRank}`, file);
    }
    if ((manifest.layout === 'NC*' || manifest.layout === 'N*C') && x.shape.length < 2) {
      throw new FixtureError(`${p}.input`, `tensor "${step.input}" has rank ${x.shape.length}; layout ${manifest.layout} needs rank 2 or more`, file);
    }
    if (manifest.layout === 'custom' && manifest.featureAxes!.some((a) => a >= x.shape.length)) {
      throw new FixtureError('featureAxes', `${fmt(manifest.featureAxes!)} is out of range for input rank ${x.shape.length} (step ${i})`, file);
    }
    const fs = fixtureFeatureShape(manifest, x.shape);
    if (featureShape === undefined) featureShape = fs;
    else if (!sameShape(fs, featureShape)) {
      throw new FixtureError(`${p}.input`, `has features ${fmt(fs)}; earlier steps have ${fmt(featureShape)}`, file);
    }
    if (step.output !== undefined) expectFloat(`${p}.output`, step.output, x.shape);
    if (step.target !== undefined) expectFloat(`${p}.target`, step.target, x.shape);
    if (step.loss !== undefined) expectFloat(`${p}.loss`, step.loss, []);
    if (step.cotangent !== undefined) expectFloat(`${p}.cotangent`, step.cotangent, x.shape);
    for (const [key, name] of Object.entries(step.gradients ?? {})) {
      expectFloat(`${p}.gradients.${key}`, name, key === 'input' ? x.shape : fs);
    }
    if (step.mask !== undefined) {
      const m = get(step.mask);
      // Flax broadcasts a mask from the right; Keras 3 adds a last axis (`expand_dims(mask, -1)`).
      const off = fw === 'keras' ? (m.shape.length === x.shape.length - 1 ? 0 : -1) : x.shape.length - m.shape.length;
      if (m.dtype === 'int64' || off < 0 || m.shape.some((d, k) => d !== 1 && d !== x.shape[k + off])) {
        throw new FixtureError(`${p}.mask`, `tensor "${step.mask}" (${m.dtype} ${fmt(m.shape)}) does not broadcast to the input ${fmt(x.shape)}`, file);
      }
      const stored = storedDtypes?.get(step.mask);
      if (stored !== undefined && stored !== 'BOOL') {
        throw new FixtureError(`${p}.mask`, `tensor "${step.mask}" is stored as ${stored}; masks are stored as BOOL`, file);
      }
    }
  });
  expectState('initialState', manifest.initialState, featureShape);
  manifest.steps.forEach((step, i) => {
    expectState(`steps.${i}.stateBefore`, step.stateBefore, featureShape);
    expectState(`steps.${i}.state`, step.state, featureShape);
  });
}

/** Every fixture folder (one holding a manifest.json) under `root`, sorted, as paths relative to `root`. */
export async function listFixtureDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    // Any entry named manifest.json makes a fixture folder, whatever it is (a directory, FIFO or
    // dangling link): loading it then reports the problem instead of skipping the fixture.
    if (entries.some((e) => e.name === MANIFEST_FILE)) {
      out.push(relative(root, dir).split(sep).join('/'));
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'generators' && !e.name.startsWith('.')) {
        await walk(join(dir, e.name));
      }
    }
  };
  await walk(resolve(root));
  return out.sort();
}
