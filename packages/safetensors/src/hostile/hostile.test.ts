/**
 * Issue 16, "Hostile input and resource safety": one test per defect the attack found, each of
 * which failed before its fix. The cross-entry-point corpus with time and memory bounds lives
 * in packages/cli (hostile-corpus.test.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../errors.js';
import { formatInspectReport } from '../inspect/format-inspect.js';
import { inspectCheckpoint, inspectReader, type InspectReport } from '../inspect/inspect.js';
import { removeStaleTemps, TEMP_SUFFIX } from '../io/atomic-file.js';
import { writeSafetensorsFile } from '../io/file-writer.js';
import { openCheckpoint } from '../io/open-checkpoint.js';
import { parseSafetensors } from '../io/memory.js';
import { convertCheckpoint } from '../port/convert.js';
import { formatConversionReport } from '../port/format-report.js';
import { headerJson, rawFile, withTempDir, writeTemp } from '../test-support/raw.js';

const f32 = (values: number[]) => ({ dtype: 'F32' as const, shape: [values.length], data: new Float32Array(values) });
const torchBn = (prefix: string, counter: { dtype: 'I64' | 'U64' | 'F32'; shape: number[]; data: BigInt64Array | BigUint64Array | Float32Array }) => ({
  [`${prefix}.weight`]: f32([1, 1]),
  [`${prefix}.bias`]: f32([0, 0]),
  [`${prefix}.running_mean`]: f32([0.5, -0.5]),
  [`${prefix}.running_var`]: f32([1, 2]),
  [`${prefix}.num_batches_tracked`]: counter,
});
const i64 = (v: bigint) => ({ dtype: 'I64' as const, shape: [], data: BigInt64Array.of(v) });

async function rejects(p: Promise<unknown>, code: string): Promise<SafetensorsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a ${code} error`).toBeInstanceOf(SafetensorsError);
  expect((err as SafetensorsError).code).toBe(code);
  return err as SafetensorsError;
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

describe('1. FIFOs and other non-regular files are refused, never waited on', () => {
  it('a FIFO as the file, as the index, and as a shard', async () => {
    await withTempDir(async (dir) => {
      mkfifo(join(dir, 'model.safetensors'));
      await rejects(openCheckpoint(join(dir, 'model.safetensors')), 'not-a-regular-file');
      await rejects(inspectCheckpoint(join(dir, 'model.safetensors')), 'not-a-regular-file');
      mkfifo(join(dir, 'model.safetensors.index.json'));
      await rejects(openCheckpoint(join(dir, 'model.safetensors.index.json')), 'not-a-regular-file');
      const index = join(dir, 'shards.index.json');
      await writeFile(index, JSON.stringify({ weight_map: { a: 'model.safetensors' } }));
      const err = await rejects(openCheckpoint(index), 'not-a-regular-file');
      expect(err.message).toMatch(/FIFO/);
      await rejects(convertCheckpoint({ from: 'torch', to: 'flax', input: index }), 'not-a-regular-file');
    });
  }, 10_000);

  it('a directory and a character device', async () => {
    await withTempDir(async (dir) => {
      await rejects(openCheckpoint(dir), 'not-a-regular-file');
      await rejects(openCheckpoint('/dev/zero'), 'not-a-regular-file');
    });
  });
});

describe('2. convert never replaces what is not a regular file', () => {
  it('refuses a device, a FIFO, a directory, a symlink and an empty path; replaces a regular file', async () => {
    await withTempDir(async (dir) => {
      const tensors = { x: f32([1]) };
      // A device node of our own (never /dev/null itself: run against unfixed code, this test
      // would replace the system's). Creating one needs root; elsewhere that part is skipped.
      const device = join(dir, 'null');
      let haveDevice = true;
      try {
        execFileSync('mknod', ['-m', '666', device, 'c', '1', '3'], { stdio: 'ignore' });
      } catch {
        haveDevice = false;
      }
      if (haveDevice) {
        await rejects(writeSafetensorsFile(device, tensors), 'target-refused');
        expect((await lstat(device)).isCharacterDevice()).toBe(true);
      }
      const fifo = join(dir, 'fifo');
      mkfifo(fifo);
      await rejects(writeSafetensorsFile(fifo, tensors), 'target-refused');
      expect((await lstat(fifo)).isFIFO()).toBe(true);
      await rejects(writeSafetensorsFile(dir, tensors), 'target-refused');
      const real = join(dir, 'real.safetensors');
      await writeFile(real, 'old');
      const link = join(dir, 'link.safetensors');
      await symlink(real, link);
      await rejects(writeSafetensorsFile(link, tensors), 'target-refused');
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await readFile(real, 'utf8')).toBe('old');
      const before = await readdir(join(dir, '..'));
      await rejects(writeSafetensorsFile('', tensors), 'target-refused');
      expect(await readdir(join(dir, '..'))).toEqual(before);
      await writeSafetensorsFile(real, tensors);
      expect(parseSafetensors(new Uint8Array(await readFile(real))).tensors.map((t) => t.name)).toEqual(['x']);
    });
  });
});

describe('4. every partial product of a shape is checked', () => {
  it('refuses [2^40, 2^40, 0] as the Rust reference does, accepts [2^40, 0, 2^40]', () => {
    const big = 2 ** 40;
    const bad = rawFile(headerJson({ t: { dtype: 'F32', shape: [big, big, 0], data_offsets: [0, 0] } }));
    expect(() => parseSafetensors(bad)).toThrow(expect.objectContaining({ code: 'size-overflow' }));
    const ok = rawFile(headerJson({ t: { dtype: 'F32', shape: [big, 0, big], data_offsets: [0, 0] } }));
    expect(parseSafetensors(ok).tensors[0]!.numel).toBe(0);
  });
});

describe('5. inspect lists a million tensors without overflowing the stack', () => {
  it('formats a report of 160,000 tensors (the crash began between 120k and 150k)', () => {
    const n = 160_000;
    const tensors = Array.from({ length: n }, (_, i) => ({ name: `t${i}`, dtype: 'F32' as const, shape: [1], bytes: 4 }));
    const report: InspectReport = {
      path: 'many.safetensors',
      files: ['many.safetensors'],
      fileBytes: 0,
      metadata: undefined,
      tensors,
      totals: { tensors: n, elements: n, bytes: 4 * n, byDtype: { F32: { tensors: n, bytes: 4 * n } } },
      framework: undefined,
      frameworkReason: 'none',
      layerCounts: { batchnorm: 0, conv: 0, linear: 0 },
      batchNorm: [],
      otherTensors: n,
      notes: [],
    };
    const text = formatInspectReport(report);
    expect(text.split('\n').length).toBeGreaterThan(n);
  });
});

describe('6. statistics are summarised by streaming', () => {
  it('inspect reads a 16 MB running mean through a small buffer and gets min and max right', async () => {
    await withTempDir(async (dir) => {
      const n = 16 * 1024 * 1024; // F8: one byte each; decoded whole this would be 64 MB of float32
      const header = headerJson({
        'bn.running_mean': { dtype: 'F8_E4M3', shape: [n], data_offsets: [0, n] },
        'bn.running_var': { dtype: 'F8_E4M3', shape: [n], data_offsets: [n, 2 * n] },
      });
      const head = rawFile(header);
      const path = join(dir, 'sparse.safetensors');
      await writeFile(path, head);
      // Sparse: only the header is stored; two bytes are set to show the whole range is read.
      const { open } = await import('node:fs/promises');
      const fh = await open(path, 'r+');
      await fh.truncate(head.length + 2 * n);
      await fh.write(Uint8Array.of(0x38), 0, 1, head.length + n - 1); // mean[n-1] = 1.0 (E4M3 0x38)
      await fh.close();
      // Whole-tensor reads are forbidden: only bounded parts may be read.
      const reader = await openCheckpoint(path);
      const whole = () => {
        throw new Error('a statistic was read whole');
      };
      const guarded = new Proxy(reader, {
        get: (target, prop) => {
          if (['bytes', 'float32', 'float32Into'].includes(String(prop))) return whole;
          const v: unknown = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const report = await inspectReader(guarded, { framework: 'torch' });
      await reader.close();
      const bn = report.batchNorm[0]!;
      expect(bn.runningMean).toEqual({ min: 0, max: 1, nonFinite: 0 });
      expect(bn.runningVar).toEqual({ min: 0, max: 0, nonFinite: 0 });
    });
  }, 30_000);
});

describe('7. names and counters are never silently mis-mapped', () => {
  it('a NUL inside a module name does not merge two modules', async () => {
    await withTempDir(async (dir) => {
      const input = join(dir, 'nul.safetensors');
      await writeSafetensorsFile(input, { ...torchBn('a\u0000b.c', i64(1n)), ...torchBn('a.b\u0000c', i64(2n)) });
      const report = await convertCheckpoint({ from: 'torch', to: 'flax', input });
      expect(report.counts.batchnorm).toBe(2);
    });
  });

  it('a U64 counter above int64, a negative counter and one above 2^53 are reported, never OK', async () => {
    await withTempDir(async (dir) => {
      const cases: [string, Record<string, unknown>, RegExp][] = [
        ['u64', torchBn('bn', { dtype: 'U64', shape: [], data: BigUint64Array.of((1n << 64n) - 1n) }), /does not fit in int64/],
        ['neg', torchBn('bn', i64(-5n)), /negative \(-5\)/],
        ['big', torchBn('bn', i64((1n << 60n) + 1n)), /1152921504606846977 is above 2\^53 - 1/],
      ];
      for (const [name, tensors, reason] of cases) {
        const input = join(dir, `${name}.safetensors`);
        await writeSafetensorsFile(input, tensors as never);
        for (const to of ['torch', 'flax'] as const) {
          const report = await convertCheckpoint({ from: 'torch', to, input, output: join(dir, `${name}.${to}.safetensors`) });
          expect(report.ok, `${name} → ${to}`).toBe(false);
          expect(report.invalidValues.map((v) => v.reason).join('\n')).toMatch(reason);
          expect(formatConversionReport(report)).toMatch(/WITH PROBLEMS[\s\S]*invalid values \(1\)/);
        }
      }
      // 2^60 + 1 is still written exactly (PyTorch's int64 holds it); only the report flags it.
      const back = await openCheckpoint(join(dir, 'big.torch.safetensors'));
      expect((await back.native('bn.num_batches_tracked'))[0]).toBe((1n << 60n) + 1n);
      await back.close();
    });
  });
});

describe('8. control characters from a file never reach the terminal', () => {
  it('inspect and the convert report escape ESC, CR, LF, C1 and bidi controls', async () => {
    await withTempDir(async (dir) => {
      const evil = 'bn\u001b]0;pwned\u0007\r\n\u009b2J\u202e';
      const input = join(dir, 'evil.safetensors');
      await writeSafetensorsFile(input, torchBn(evil, i64(3n)), { metadata: { 'k\u001b[31m': 'v\r\nforged line' } });
      const out = formatInspectReport(await inspectCheckpoint(input));
      const report = formatConversionReport(await convertCheckpoint({ from: 'torch', to: 'flax', input }), { layers: true });
      for (const text of [out, report]) {
        // eslint-disable-next-line no-control-regex
        expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
        expect(text).toContain('\\x1b');
      }
      expect(out).toContain('v\\x0d\\x0aforged line');
      expect(out.split('\n').some((l) => l.startsWith('forged'))).toBe(false);
    });
  });
});

describe('12. stale temporary files of dead writers are removed on the next write', () => {
  it('removes a dead pid’s temp file, keeps a live one’s', async () => {
    await withTempDir(async (dir) => {
      // A pid that certainly existed and is gone: a child that has exited.
      const child = spawn(process.execPath, ['-e', '0']);
      const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
      const stale = join(dir, `.out.safetensors.${deadPid}.0123456789ab${TEMP_SUFFIX}`);
      const live = join(dir, `.out.safetensors.${process.pid}.0123456789ab${TEMP_SUFFIX}`);
      const other = join(dir, `.other.safetensors.${deadPid}.abcdefabcdef${TEMP_SUFFIX}`);
      for (const p of [stale, live, other]) await writeFile(p, new Uint8Array(1000));
      await writeSafetensorsFile(join(dir, 'out.safetensors'), { x: f32([1]) });
      const left = (await readdir(dir)).sort();
      expect(left).toEqual([`.out.safetensors.${process.pid}.0123456789ab${TEMP_SUFFIX}`, 'out.safetensors']);
      expect(await removeStaleTemps(dir)).toEqual([]);
    });
  });
});

describe('13. smaller defects', () => {
  it('a shape-[0] counter and a float counter are warnings, not "tracked NaN" or 1.5', async () => {
    await withTempDir(async (dir) => {
      const empty = join(dir, 'empty.safetensors');
      await writeSafetensorsFile(empty, torchBn('bn', { dtype: 'I64', shape: [0], data: new BigInt64Array(0) }));
      const a = (await inspectCheckpoint(empty)).batchNorm[0]!;
      expect(a.numBatchesTracked).toBeUndefined();
      expect(a.warnings.join()).toMatch(/batch counter I64\[0\] is not one value/);
      const float = join(dir, 'float.safetensors');
      await writeSafetensorsFile(float, torchBn('bn', { dtype: 'F32', shape: [], data: Float32Array.of(1.5) }));
      const b = (await inspectCheckpoint(float)).batchNorm[0]!;
      expect(b.numBatchesTracked).toBeUndefined();
      expect(b.warnings.join()).toMatch(/batch counter is F32, not an integer type/);
      expect(formatInspectReport(await inspectCheckpoint(float))).not.toMatch(/NaN|1\.5/);
    });
  });

  it('a dimension written -0 is "not a non-negative integer", not "negative (0)"', () => {
    const bytes = rawFile('{"t":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}');
    expect(() => parseSafetensors(bytes)).toThrow(/dimension 0 must be a non-negative integer, got -0/);
  });

  it('a shard that links outside the index directory is refused without reading it', async () => {
    await withTempDir(async (dir) => {
      const inside = join(dir, 'model');
      await mkdir(inside);
      const secret = await writeTemp(dir, 'secret.bin', new TextEncoder().encode('TOPSECRETDATA...'));
      await symlink(secret, join(inside, 'shard.safetensors'));
      const index = join(inside, 'model.safetensors.index.json');
      await writeFile(index, JSON.stringify({ weight_map: { a: 'shard.safetensors' } }));
      const err = await rejects(openCheckpoint(index), 'outside-directory');
      const leaked = new DataView(new TextEncoder().encode('TOPSECRE').buffer).getBigUint64(0, true);
      expect(err.message).not.toContain(String(leaked));
      // A link inside the tree (as in a Hugging Face cache snapshot) is followed.
      const blobs = join(dir, 'repo', 'blobs');
      const snap = join(dir, 'repo', 'snapshots', 'rev');
      await mkdir(blobs, { recursive: true });
      await mkdir(snap, { recursive: true });
      await writeSafetensorsFile(join(blobs, 'abc'), { a: f32([1]) });
      await symlink(join(blobs, 'abc'), join(snap, 'shard.safetensors'));
      await writeFile(join(snap, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'shard.safetensors' } }));
      const reader = await openCheckpoint(join(snap, 'model.safetensors.index.json'));
      expect(await reader.float32('a')).toEqual(Float32Array.of(1));
      await reader.close();
      expect((await stat(join(snap, 'shard.safetensors'))).isFile()).toBe(true);
    });
  });
});
