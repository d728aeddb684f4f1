import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureFeatureShape, listFixtureDirs, loadFixture } from './fixture-load.js';
import { serializeSafetensors, type ValuesTensor } from '@normbridge/safetensors';
import { FixtureError, tensorReferences } from './fixture-schema.js';
import { isModelManifest, loadModelFixture } from './model-fixture-load.js';
import { modelTensorReferences } from './model-fixture-schema.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
const all = await listFixtureDirs(FIXTURES);
/** Model-level fixtures (a whole program) live under models/ and have their own loader. */
const committed = all.filter((d) => !d.startsWith('models/'));
const models = all.filter((d) => d.startsWith('models/'));

describe('committed fixtures', () => {
  it('exist for every framework the generators cover', () => {
    const frameworks = new Set(committed.map((d) => d.split('/')[0]));
    for (const fw of ['torch', 'tfjs-layers', 'onnx', 'mlx', 'keras', 'flax-linen', 'flax-nnx', 'flax-legacy']) {
      expect(frameworks, fw).toContain(fw);
    }
  });

  it.each(committed)('%s loads, and every named tensor exists with a sane shape', async (rel) => {
    const f = await loadFixture(join(FIXTURES, rel));
    const [framework, kase] = rel.split('/');
    expect(f.manifest.framework.name).toBe(framework);
    expect(f.manifest.case).toBe(kase);
    expect(f.metadata['format']).toBe('normbridge-fixture/1');
    for (const { name } of tensorReferences(f.manifest)) expect(f.tensors.has(name)).toBe(true);
    // No unreferenced tensors: the file holds exactly what the manifest names.
    const named = new Set(tensorReferences(f.manifest).map((r) => r.name));
    expect([...f.tensors.keys()].filter((k) => !named.has(k))).toEqual([]);
    // Stated feature shape matches the parameters.
    const first = f.manifest.steps.find((s) => !s.error);
    if (first) {
      const fs = fixtureFeatureShape(f.manifest, f.tensors.get(first.input)!.shape);
      for (const [key, name] of Object.entries(f.manifest.initialState)) {
        if (key === 'num_batches_tracked') continue;
        expect(f.tensors.get(name)!.shape, key).toEqual(fs);
      }
    }
    // Expected values are finite unless the fixture says why not.
    if (!f.manifest.tags?.includes('non-finite')) {
      for (const s of f.manifest.steps) {
        if (!s.output) continue;
        const y = f.tensors.get(s.output)!;
        expect(Array.from(y.data as Float32Array).every(Number.isFinite), `${rel} ${s.output}`).toBe(true);
      }
    }
    expect(f.manifest.producer.generator.startsWith('fixtures/generators/')).toBe(true);
    await stat(resolve(FIXTURES, '..', f.manifest.producer.generator));
  });

  it('fixtures/index.json lists exactly the committed fixtures', async () => {
    const index = JSON.parse(await readFile(join(FIXTURES, 'index.json'), 'utf8')) as {
      fixtures: { path: string; framework: string; producerKind: string }[];
    };
    expect(index.fixtures.map((e) => e.path).sort()).toEqual(all.map((d) => `${d}`).sort());
    for (const e of index.fixtures) {
      const m = JSON.parse(await readFile(join(FIXTURES, e.path, 'manifest.json'), 'utf8'));
      expect(e.framework).toBe(m.framework.name);
      expect(e.producerKind).toBe(m.producer.kind);
    }
  });

  it.each(models)('%s (model-level) loads, with every named tensor and one shape per state path', async (rel) => {
    const raw = JSON.parse(await readFile(join(FIXTURES, rel, 'manifest.json'), 'utf8'));
    expect(isModelManifest(raw)).toBe(true);
    const f = await loadModelFixture(join(FIXTURES, rel, 'manifest.json'), raw);
    expect(f.manifest.producer.kind).toBe('real-framework');
    const named = new Set(modelTensorReferences(f.manifest).map((r) => r.name));
    expect([...f.tensors.keys()].filter((k) => !named.has(k))).toEqual([]);
  });

  it('hold the three seed programs as model-level fixtures from real Flax', () => {
    expect(models).toEqual(expect.arrayContaining(['models/flax_guide_train_state', 'models/nnx_writeup_batchnorm', 'models/linen_docstring_usage']));
  });

  it('stay under 5 MB in total', async () => {
    let total = 0;
    for (const rel of all) {
      total += (await stat(join(FIXTURES, rel, 'manifest.json'))).size;
      total += (await stat(join(FIXTURES, rel, 'tensors.safetensors'))).size;
    }
    expect(total).toBeLessThan(5 * 1024 * 1024);
  });
});

describe('loadFixture errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nb-fixture-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const f32 = (shape: number[], fill = 0.5): ValuesTensor => ({
    dtype: 'F32',
    shape,
    data: new Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
  });

  async function write(kase: string, mutate: (m: any, t: Record<string, ValuesTensor>) => void): Promise<string> {
    const manifest: any = {
      format: 'normbridge-fixture/1',
      case: kase,
      description: 'test',
      framework: { name: 'mlx', version: '0.32.1' },
      producer: { name: 'test', version: '0', kind: 'float64-oracle', generator: 'fixtures/generators/x', notes: '' },
      layer: { class: 'BatchNorm', args: { num_features: 3 } },
      dtype: 'float32',
      layout: 'NC',
      tensors: 'tensors.safetensors',
      initialState: { weight: 'w', bias: 'b', running_mean: 'm', running_var: 'v' },
      steps: [
        { mode: 'train', call: { training: true }, input: 'x', output: 'y', state: { weight: 'w', bias: 'b', running_mean: 'm', running_var: 'v' } },
      ],
      tolerance: { atol: 0, rtol: 0, reason: 'test' },
    };
    const tensors: Record<string, ValuesTensor> = { w: f32([3], 1), b: f32([3]), m: f32([3]), v: f32([3], 1), x: f32([4, 3]), y: f32([4, 3]) };
    mutate(manifest, tensors);
    const d = join(dir, kase);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'manifest.json'), JSON.stringify(manifest));
    await writeFile(join(d, 'tensors.safetensors'), serializeSafetensors(tensors));
    return d;
  }

  async function fieldOf(d: string): Promise<string> {
    try {
      await loadFixture(d);
    } catch (e) {
      expect(e).toBeInstanceOf(FixtureError);
      return (e as FixtureError).field;
    }
    throw new Error('expected a rejection');
  }

  it('loads a well-formed fixture from its folder or its manifest path', async () => {
    const d = await write('ok', () => {});
    expect((await loadFixture(d)).tensors.get('x')!.shape).toEqual([4, 3]);
    expect((await loadFixture(join(d, 'manifest.json'))).manifest.case).toBe('ok');
  });

  it('names a tensor missing from the safetensors file', async () => {
    const d = await write('missing', (_, t) => {
      delete t['y'];
    });
    expect(await fieldOf(d)).toBe('steps.0.output');
  });

  it('names an output whose shape differs from the input', async () => {
    const d = await write('shape', (_, t) => {
      t['y'] = f32([3, 4]);
    });
    expect(await fieldOf(d)).toBe('steps.0.output');
  });

  it('names a state tensor whose shape is not the feature shape', async () => {
    const d = await write('state', (_, t) => {
      t['v'] = f32([4], 1);
    });
    expect(await fieldOf(d)).toBe('initialState.running_var');
  });

  it('names an input whose rank does not fit the layout', async () => {
    const d = await write('rank', (m, t) => {
      t['x'] = f32([4, 3, 1]);
      t['y'] = f32([4, 3, 1]);
    });
    expect(await fieldOf(d)).toBe('steps.0.input');
  });

  it('names an input whose dtype is not the fixture dtype', async () => {
    const d = await write('dtype', (m) => {
      m.dtype = 'float64';
    });
    expect(await fieldOf(d)).toBe('steps.0.input');
  });

  it('requires an int64 scalar num_batches_tracked for torch', async () => {
    const d = await write('counter', (m, t) => {
      m.framework = { name: 'torch', version: '2.5.1' };
      m.layer.class = 'BatchNorm1d';
      m.initialState = { running_mean: 'm', running_var: 'v', num_batches_tracked: 'n' };
      m.steps[0].state = { ...m.initialState };
      t['n'] = f32([]);
    });
    expect(await fieldOf(d)).toBe('initialState.num_batches_tracked');
  });

  it('takes float32 inputs stored compactly as exact float16 (a float16 fixture keeps float16)', async () => {
    const d = await write('compact', (m, t) => {
      t['x'] = { dtype: 'F16', shape: [4, 3], data: [0.5, -1.25, 2, 3, 0.25, 1, 1, 2, -3, 0.125, 4, 8] };
    });
    const f = await loadFixture(d);
    expect(f.tensors.get('x')!.dtype).toBe('float32');
    expect(Array.from(f.tensors.get('x')!.data as Float32Array).slice(0, 2)).toEqual([0.5, -1.25]);
    const h = await write('half', (m, t) => {
      m.dtype = 'float16';
      t['x'] = { dtype: 'F16', shape: [4, 3], data: new Array(12).fill(1) };
    });
    expect((await loadFixture(h)).tensors.get('x')!.dtype).toBe('float16');
  });

  it('feeds one layer inputs of several ranks with layout NC*, and checks the features', async () => {
    const d = await write('anyrank', (m, t) => {
      m.layout = 'NC*';
      m.steps.push({ ...m.steps[0], input: 'x3', output: 'y3' });
      t['x3'] = f32([2, 3, 5]);
      t['y3'] = f32([2, 3, 5]);
    });
    expect((await loadFixture(d)).tensors.get('x3')!.shape).toEqual([2, 3, 5]);
    const bad = await write('anyrank_bad', (m, t) => {
      m.layout = 'NC*';
      m.steps.push({ ...m.steps[0], input: 'x3', output: 'y3' });
      t['x3'] = f32([2, 4, 5]);
      t['y3'] = f32([2, 4, 5]);
    });
    expect(await fieldOf(bad)).toBe('steps.1.input');
  });

  it('checks a loss step: a scalar loss and a target shaped like the input', async () => {
    const d = await write('loss', (m, t) => {
      m.steps[0] = { ...m.steps[0], output: undefined, target: 'y', loss: 'l' };
      t['l'] = f32([]);
    });
    expect((await loadFixture(d)).manifest.steps[0]!.loss).toBe('l');
    const bad = await write('loss_bad', (m, t) => {
      m.steps[0] = { ...m.steps[0], output: undefined, target: 'y', loss: 'l' };
      t['l'] = f32([1]);
    });
    expect(await fieldOf(bad)).toBe('steps.0.loss');
  });

  it('names a folder that does not match the case', async () => {
    const d = await write('folder', (m) => {
      m.case = 'other';
    });
    expect(await fieldOf(d)).toBe('case');
  });

  it('names a missing safetensors file', async () => {
    const d = await write('nofile', (m) => {
      m.tensors = 'absent.safetensors';
    });
    expect(await fieldOf(d)).toBe('tensors');
  });
});
