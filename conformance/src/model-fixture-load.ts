/**
 * Loading model-level fixtures (`"kind": "model"`): the manifest (validated by
 * {@link ModelFixtureManifestSchema}), its safetensors file, and a check that every named tensor
 * exists and that each state path keeps one shape from step to step.
 */
import { basename, dirname, join } from 'node:path';
import { MAX_FIXTURE_BYTES, type HostTensor, type Int64Tensor } from '@normbridge/core';
import { readRegularFile } from './fixture-load.js';
import { FixtureError } from './fixture-schema.js';
import { decodeSafetensors } from './fixture-safetensors.js';
import { modelTensorReferences, parseModelFixtureManifest, type ModelFixtureManifest } from './model-fixture-schema.js';

export interface LoadedModelFixture {
  readonly manifest: ModelFixtureManifest;
  readonly tensors: Map<string, HostTensor | Int64Tensor>;
  readonly dir: string;
  readonly manifestPath: string;
}

/** Whether a parsed manifest declares itself a model-level fixture. */
export function isModelManifest(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { kind?: unknown }).kind === 'model';
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Loads a model fixture from its folder's manifest path (already read as `raw`). */
export async function loadModelFixture(manifestPath: string, raw: unknown): Promise<LoadedModelFixture> {
  const manifest = parseModelFixtureManifest(raw, manifestPath);
  const dir = dirname(manifestPath);
  if (basename(dir) !== manifest.case) throw new FixtureError('case', `is "${manifest.case}" but the folder is "${basename(dir)}"`, manifestPath);
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(join(dir, manifest.tensors), MAX_FIXTURE_BYTES);
  } catch (e) {
    throw new FixtureError('tensors', `names a file that cannot be read: ${(e as Error).message}`, manifestPath);
  }
  const { tensors } = decodeSafetensors(bytes, join(dir, manifest.tensors));
  const shapes = new Map<string, readonly number[]>();
  for (const { field, name, role } of modelTensorReferences(manifest)) {
    const t = tensors.get(name);
    if (!t) throw new FixtureError(field, `names tensor "${name}", which is not in ${manifest.tensors}`, manifestPath);
    if (role !== 'state') continue;
    const path = field.replace(/^(initialState|steps\.\d+\.state)\./, '');
    const seen = shapes.get(path);
    if (seen === undefined) shapes.set(path, t.shape);
    else if (seen.join() !== t.shape.join()) {
      throw new FixtureError(field, `tensor "${name}" has shape ${fmt(t.shape)}; initialState has ${fmt(seen)}`, manifestPath);
    }
  }
  return { manifest, tensors, dir, manifestPath };
}
