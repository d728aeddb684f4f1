/**
 * The hostile-input corpus (issue 16): one entry per class of attack found, built at test time
 * in a temporary folder (big files sparse, nothing large committed), each run on every entry
 * point it applies to by `hostile-corpus.test.ts`.
 *
 * `rust` records what the Rust reference implementation (huggingface/safetensors,
 * `SafeTensors::read_metadata` and `Metadata::validate`) does with a checkpoint file: where it
 * rejects, normbridge must reject too. normbridge is stricter in places (duplicate keys, rank,
 * tensor count), never laxer.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawFile } from '@normbridge/testing';

export type Entry = 'inspect' | 'convert' | 'reader' | 'conformance' | 'torch-load' | 'mlx-load' | 'keras-set';
export const CHECKPOINT_ENTRIES: readonly Entry[] = ['inspect', 'convert', 'reader'];
export const STATE_ENTRIES: readonly Entry[] = ['torch-load', 'mlx-load', 'keras-set'];

export interface CorpusCase {
  readonly id: string;
  /** The issue item (1–13) or the format rule the case attacks. */
  readonly item: string;
  readonly entries: readonly Entry[];
  /** Checkpoint files only: the Rust reference's verdict. */
  readonly rust?: 'reject' | 'accept';
  /** Outcomes allowed for this case (default: anything but a crash). */
  readonly expect?: readonly ('ok' | 'problems' | 'rejected')[];
  /**
   * Entry points that must stream rather than hold the file's data: their memory bound counts
   * the bytes actually stored (a sparse file stores almost none), not the apparent size.
   */
  readonly streamed?: readonly Entry[];
  /** Creates the input in `dir`; returns the path to hand to the entry point (or a state id). */
  build(dir: string): Promise<string>;
}

const REPO = fileURLToPath(new URL('../../../../../', import.meta.url));
const enc = new TextEncoder();

const entry = (dtype: string, shape: unknown[], begin: number | string, end: number | string) =>
  `{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;

async function put(dir: string, name: string, bytes: Uint8Array | string): Promise<string> {
  const p = join(dir, name);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, bytes);
  return p;
}

/** A file whose header is real and whose data is a hole of `dataBytes` (sparse on disk). */
async function sparse(dir: string, name: string, header: string, dataBytes: number): Promise<string> {
  const p = await put(dir, name, rawFile(header));
  const fh = await open(p, 'r+');
  await fh.truncate(8 + enc.encode(header).length + dataBytes);
  await fh.close();
  return p;
}

/** A PyTorch BatchNorm layer `prefix` with two channels and the given counter entry. */
function torchBn(prefix: string, counter: { dtype: string; shape: number[]; bytes: Uint8Array }): Uint8Array {
  const names = ['weight', 'bias', 'running_mean', 'running_var'];
  const parts: string[] = [];
  let off = 0;
  for (const n of names) {
    parts.push(`${JSON.stringify(`${prefix}.${n}`)}:${entry('F32', [2], off, off + 8)}`);
    off += 8;
  }
  parts.push(`${JSON.stringify(`${prefix}.num_batches_tracked`)}:${entry(counter.dtype, counter.shape, off, off + counter.bytes.length)}`);
  const data = new Uint8Array(off + counter.bytes.length);
  new Float32Array(data.buffer, 0, 8).set([1, 1, 0, 0, 0, 0, 1, 1]);
  data.set(counter.bytes, off);
  return rawFile(`{${parts.join(',')}}`, data);
}
const i64 = (v: bigint) => new Uint8Array(BigInt64Array.of(v).buffer);

/** `n` one-element F32 tensors named like a PyTorch model's. */
function manyTensors(n: number): Uint8Array {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"layer${i}.weight":${entry('F32', [1], i * 4, i * 4 + 4)}`);
  return rawFile(`{${parts.join(',')}}`, n * 4);
}

function mkfifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

/** A copy of a committed fixture, edited by `edit` (on the manifest and the folder). */
async function fixture(dir: string, id: string, edit: (manifest: Record<string, any>, caseDir: string) => Promise<void>): Promise<string> {
  const root = join(dir, id);
  const caseDir = join(root, 'bn2d_defaults');
  await cp(join(REPO, 'fixtures/torch/bn2d_defaults'), caseDir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(caseDir, 'manifest.json'), 'utf8'));
  await edit(manifest, caseDir);
  return root;
}
const writeManifest = (caseDir: string, m: unknown) => writeFile(join(caseDir, 'manifest.json'), JSON.stringify(m));

const reject = (id: string, item: string, header: string, data: Uint8Array | number = 0, length?: bigint): CorpusCase => ({
  id,
  item,
  entries: CHECKPOINT_ENTRIES,
  rust: 'reject',
  expect: ['rejected'],
  build: (dir) => put(dir, `${id}.safetensors`, rawFile(header, data, length)),
});

const state = (id: string, item: string): CorpusCase => ({ id, item, entries: STATE_ENTRIES, expect: ['rejected'], build: async () => id });

export const CORPUS: readonly CorpusCase[] = [
  // The prefix and the header as a whole.
  { id: 'prefix-5-bytes', item: 'format', entries: CHECKPOINT_ENTRIES, rust: 'reject', expect: ['rejected'], build: (d) => put(d, 'short.safetensors', new Uint8Array(5)) },
  reject('header-length-2^63', 'format', '{}', 0, 1n << 63n),
  reject('header-length-past-eof', 'format', '{}', 0, 1000n),
  {
    id: 'header-invalid-utf8',
    item: 'format',
    entries: CHECKPOINT_ENTRIES,
    rust: 'reject',
    expect: ['rejected'],
    build: (d) => {
      const f = rawFile('{"?":1}');
      f[10] = 0xff; // the "?" becomes a byte that is never valid UTF-8
      return put(d, 'utf8.safetensors', f);
    },
  },
  reject('header-not-json', 'format', '{"a":'),
  reject('header-nested-10000', 'format', `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
  reject('header-array', 'format', '[]'),
  // One tensor entry.
  reject('dtype-unknown', 'format', `{"a":${entry('F128', [1], 0, 16)}}`, 16),
  reject('dim-negative', 'format', `{"a":${entry('F32', [-1], 0, 0)}}`),
  reject('dim-minus-zero', '13', '{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}'),
  reject('dim-fraction', 'format', `{"a":${entry('F32', [1.5], 0, 6)}}`, 6),
  reject('dim-2^64', 'format', `{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}`),
  reject('shape-overflow-then-0', '4', `{"a":${entry('F32', [2 ** 40, 2 ** 40, 0], 0, 0)}}`),
  reject('bytes-overflow', '4', `{"a":${entry('F64', [2 ** 52], 0, 0)}}`),
  reject('offsets-reversed', 'format', `{"a":${entry('F32', [1], 4, 0)}}`, 4),
  reject('offsets-size-mismatch', 'format', `{"a":${entry('F32', [2], 0, 4)}}`, 4),
  reject('offsets-gap', 'format', `{"a":${entry('F32', [1], 4, 8)}}`, 8),
  reject('offsets-overlap', 'format', `{"a":${entry('F32', [2], 0, 8)},"b":${entry('F32', [1], 4, 8)}}`, 8),
  reject('offsets-2^64', 'format', `{"a":${entry('F32', [0], '18446744073709551616', '18446744073709551616')}}`),
  reject('data-truncated', 'format', `{"a":${entry('F32', [4], 0, 16)}}`, 8),
  reject('data-trailing', 'format', `{"a":${entry('F32', [1], 0, 4)}}`, 12),
  reject('metadata-not-strings', 'format', `{"__metadata__":{"a":1}}`),
  // Not a regular file (items 1 and 3).
  { id: 'fifo', item: '1', entries: CHECKPOINT_ENTRIES, rust: 'reject', expect: ['rejected'], build: async (d) => mkfifo(join(d, 'fifo.safetensors')) },
  { id: 'dev-zero-link', item: '3', entries: CHECKPOINT_ENTRIES, rust: 'reject', expect: ['rejected'], build: async (d) => (await symlink('/dev/zero', join(d, 'zero.safetensors')), join(d, 'zero.safetensors')) },
  { id: 'directory', item: '1', entries: CHECKPOINT_ENTRIES, rust: 'reject', expect: ['rejected'], build: async (d) => (await mkdir(join(d, 'dir.safetensors')), join(d, 'dir.safetensors')) },
  // Valid files that are expensive or misleading (the Rust reference accepts them).
  { id: 'tensors-30000', item: '5, 6', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'many.safetensors', manyTensors(30_000)) },
  {
    id: 'sparse-f8-statistics-2x32MB',
    item: '6',
    entries: CHECKPOINT_ENTRIES,
    rust: 'accept',
    streamed: ['inspect', 'reader'],
    build: (d) => {
      // Decoded whole, the two statistics would take 256 MB of float32: over the streamed bound.
      const n = 32 * 1024 * 1024;
      return sparse(d, 'stats.safetensors', `{"bn.running_mean":${entry('F8_E4M3', [n], 0, n)},"bn.running_var":${entry('F8_E4M3', [n], n, 2 * n)}}`, 2 * n);
    },
  },
  {
    id: 'header-with-1MB-name',
    item: 'format',
    entries: CHECKPOINT_ENTRIES,
    rust: 'accept',
    build: (d) => put(d, 'long-name.safetensors', rawFile(`{${JSON.stringify('x'.repeat(1 << 20))}:${entry('F32', [1], 0, 4)}}`, 4)),
  },
  { id: 'nul-in-module-names', item: '7', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: async (d) => put(d, 'nul.safetensors', mergeFiles(torchBn('a\u0000b.c', { dtype: 'I64', shape: [], bytes: i64(1n) }), torchBn('a.b\u0000c', { dtype: 'I64', shape: [], bytes: i64(2n) }))) },
  { id: 'counter-u64-max', item: '7', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'u64.safetensors', torchBn('bn', { dtype: 'U64', shape: [], bytes: new Uint8Array(8).fill(0xff) })) },
  { id: 'counter-negative', item: '7', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'neg.safetensors', torchBn('bn', { dtype: 'I64', shape: [], bytes: i64(-5n) })) },
  { id: 'counter-2^60+1', item: '7', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'big.safetensors', torchBn('bn', { dtype: 'I64', shape: [], bytes: i64((1n << 60n) + 1n) })) },
  { id: 'counter-shape-0', item: '13', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'c0.safetensors', torchBn('bn', { dtype: 'I64', shape: [0], bytes: new Uint8Array(0) })) },
  { id: 'counter-f32-1.5', item: '13', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'cf.safetensors', torchBn('bn', { dtype: 'F32', shape: [], bytes: new Uint8Array(Float32Array.of(1.5).buffer) })) },
  { id: 'escape-sequences', item: '8', entries: CHECKPOINT_ENTRIES, rust: 'accept', build: (d) => put(d, 'esc.safetensors', torchBn('bn\u001b]0;x\u0007\r\n\u009b2J', { dtype: 'I64', shape: [], bytes: i64(1n) })) },
  // Sharded indexes.
  { id: 'index-fifo', item: '1', entries: CHECKPOINT_ENTRIES, expect: ['rejected'], build: async (d) => mkfifo(join(d, 'model.safetensors.index.json')) },
  {
    id: 'index-shard-fifo',
    item: '1',
    entries: CHECKPOINT_ENTRIES,
    expect: ['rejected'],
    build: async (d) => (mkfifo(join(d, 'shard.safetensors')), put(d, 'model.safetensors.index.json', JSON.stringify({ weight_map: { a: 'shard.safetensors' } }))),
  },
  {
    id: 'index-shard-link-outside',
    item: '13',
    entries: CHECKPOINT_ENTRIES,
    expect: ['rejected'],
    build: async (d) => {
      await put(d, 'secret', 'TOPSECRETDATA');
      await mkdir(join(d, 'model'));
      await symlink(join(d, 'secret'), join(d, 'model', 'shard.safetensors'));
      return put(d, 'model/model.safetensors.index.json', JSON.stringify({ weight_map: { a: 'shard.safetensors' } }));
    },
  },
  { id: 'index-shard-dotdot', item: 'index', entries: CHECKPOINT_ENTRIES, expect: ['rejected'], build: (d) => put(d, 'model.safetensors.index.json', JSON.stringify({ weight_map: { a: '../etc/passwd' } })) },
  {
    id: 'index-600-shards',
    item: 'index',
    entries: CHECKPOINT_ENTRIES,
    expect: ['rejected'],
    build: (d) => put(d, 'model.safetensors.index.json', JSON.stringify({ weight_map: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`t${i}`, `s${i}.safetensors`])) })),
  },
  {
    id: 'index-sparse-100MB',
    item: 'index',
    entries: CHECKPOINT_ENTRIES,
    expect: ['rejected'],
    streamed: CHECKPOINT_ENTRIES,
    build: async (d) => {
      const p = await put(d, 'model.safetensors.index.json', '{"weight_map":{}}');
      const fh = await open(p, 'r+');
      await fh.truncate(100 * 1024 * 1024);
      await fh.close();
      return p;
    },
  },
  {
    id: 'index-mismatch',
    item: 'index',
    entries: CHECKPOINT_ENTRIES,
    expect: ['rejected'],
    build: async (d) => {
      await put(d, 's.safetensors', rawFile(`{"a":${entry('F32', [1], 0, 4)},"b":${entry('F32', [1], 4, 8)}}`, 8));
      return put(d, 'model.safetensors.index.json', JSON.stringify({ weight_map: { a: 's.safetensors' } }));
    },
  },
  // Fixtures (conformance --fixtures).
  { id: 'fixture-valid', item: 'control', entries: ['conformance'], expect: ['ok'], build: (d) => fixture(d, 'fixture-valid', async () => {}) },
  {
    id: 'fixture-tensors-dev-zero',
    item: '3',
    entries: ['conformance'],
    expect: ['problems'],
    build: (d) => fixture(d, 'fixture-tensors-dev-zero', async (m, c) => {
      execFileSync('rm', [join(c, m['tensors'])]);
      await symlink('/dev/zero', join(c, m['tensors']));
    }),
  },
  {
    id: 'fixture-tensors-sparse-300MB',
    item: '3',
    entries: ['conformance'],
    expect: ['problems'],
    streamed: ['conformance'],
    build: (d) => fixture(d, 'fixture-tensors-sparse-300MB', async (m, c) => {
      const fh = await open(join(c, m['tensors']), 'r+');
      await fh.truncate(300 * 1024 * 1024);
      await fh.close();
    }),
  },
  {
    id: 'fixture-num-features-2e9',
    item: '3',
    entries: ['conformance'],
    expect: ['problems'],
    build: (d) => fixture(d, 'fixture-num-features-2e9', async (m, c) => writeManifest(c, { ...m, layer: { ...m['layer'], args: { ...m['layer'].args, num_features: 2_000_000_000 } } })),
  },
  { id: 'fixture-manifest-fifo', item: '9', entries: ['conformance'], expect: ['problems'], build: (d) => fixture(d, 'fixture-manifest-fifo', async (_m, c) => (execFileSync('rm', [join(c, 'manifest.json')]), void mkfifo(join(c, 'manifest.json')))) },
  { id: 'fixture-manifest-directory', item: '9', entries: ['conformance'], expect: ['problems'], build: (d) => fixture(d, 'fixture-manifest-directory', async (_m, c) => (execFileSync('rm', [join(c, 'manifest.json')]), mkdir(join(c, 'manifest.json')).then(() => {}))) },
  { id: 'fixture-manifest-dangling-link', item: '9', entries: ['conformance'], expect: ['problems'], build: (d) => fixture(d, 'fixture-manifest-dangling-link', async (_m, c) => (execFileSync('rm', [join(c, 'manifest.json')]), symlink(join(c, 'nowhere'), join(c, 'manifest.json')))) },
  { id: 'fixture-empty-folder', item: '9', entries: ['conformance'], expect: ['problems'], build: async (d) => (await mkdir(join(d, 'empty-fixtures')), join(d, 'empty-fixtures')) },
  // Host tensors handed to the adapters' loaders (items 3 and 10).
  state('state-short-mean', '10'),
  state('state-long-mean', '10'),
  state('state-nan-var', '10'),
  state('state-negative-var', '10'),
  state('state-huge-claimed-shape', '10'),
  state('state-array-data', '10'),
  state('state-not-a-tensor', '10'),
  { id: 'state-counter-2^60+1', item: '7', entries: ['torch-load'], expect: ['rejected'], build: async () => 'state-counter-2^60+1' },
  state('state-num-features-2e9', '3'),
];

/** Two files' tensors in one (the second's offsets shifted past the first's data). */
function mergeFiles(a: Uint8Array, b: Uint8Array): Uint8Array {
  const parse = (f: Uint8Array) => {
    const n = Number(new DataView(f.buffer, f.byteOffset).getBigUint64(0, true));
    return { header: JSON.parse(new TextDecoder().decode(f.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>, data: f.subarray(8 + n) };
  };
  const x = parse(a);
  const y = parse(b);
  const header: Record<string, unknown> = { ...x.header };
  for (const [k, v] of Object.entries(y.header)) header[k] = { ...v, data_offsets: [v.data_offsets[0] + x.data.length, v.data_offsets[1] + x.data.length] };
  const data = new Uint8Array(x.data.length + y.data.length);
  data.set(x.data);
  data.set(y.data, x.data.length);
  return rawFile(JSON.stringify(header), data);
}
