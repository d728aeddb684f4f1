/**
 * A write or conversion that dies half way leaves the old target byte-identical.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../errors.js';
import { convertCheckpoint } from '../port/convert.js';
import { FIXTURES, pseudoRandomBytes, withTempDir } from '../test-support/raw.js';
import { TEMP_SUFFIX } from './atomic-file.js';
import { writeSafetensorsFile } from './file-writer.js';
import type { TensorInput } from './tensor-input.js';

const OLD = new TextEncoder().encode('the old target, which must survive');

/** Three 1 MB tensors, so that a failure can strike between them. */
function bigTensors(): Record<string, TensorInput> {
  return Object.fromEntries(
    ['a', 'b', 'c'].map((k, i) => [k, { dtype: 'U8' as const, shape: [1 << 20], bytes: pseudoRandomBytes(1 << 20, i + 1) }]),
  );
}

async function expectUntouched(dir: string, target: string): Promise<void> {
  expect(new Uint8Array(await readFile(target))).toEqual(OLD);
  expect((await readdir(dir)).filter((f) => f.endsWith(TEMP_SUFFIX))).toEqual([]);
}

describe('atomic writes', () => {
  it('a callback that throws after part of the file is written leaves the target untouched', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'model.safetensors');
      await writeFile(target, OLD);
      const seen: number[] = [];
      const boom = new Error('injected failure');
      await expect(
        writeSafetensorsFile(target, bigTensors(), {
          onProgress: (written, total) => {
            seen.push(written);
            if (written > total / 2) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      // The failure struck after real data had gone to the temporary file.
      expect(seen.at(-1)!).toBeGreaterThan(2 << 20);
      await expectUntouched(dir, target);
    });
  });

  it('an abort signal stops the write between tensors', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'model.safetensors');
      await writeFile(target, OLD);
      const controller = new AbortController();
      const error = await writeSafetensorsFile(target, bigTensors(), {
        signal: controller.signal,
        onProgress: (written) => {
          if (written > 1 << 20) controller.abort(new Error('user pressed ^C'));
        },
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as SafetensorsError).code).toBe('write-aborted');
      expect((error as SafetensorsError).file).toBe(target);
      await expectUntouched(dir, target);
    });
  });

  it('a lazy source that fails mid-write leaves the target untouched', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'model.safetensors');
      await writeFile(target, OLD);
      const tensors = { ...bigTensors(), z: { dtype: 'U8' as const, shape: [4], read: () => Promise.reject(new Error('disk gone')) } };
      await expect(writeSafetensorsFile(target, tensors)).rejects.toThrow('disk gone');
      await expectUntouched(dir, target);
    });
  });

  it('a directory that does not exist is a typed write error naming the file', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'missing', 'model.safetensors');
      await expect(writeSafetensorsFile(target, bigTensors())).rejects.toMatchObject({ code: 'write-failed', file: target });
    });
  });

  it('a conversion killed half way through writing leaves the old output untouched', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'resnet18.flax.safetensors');
      await writeFile(target, OLD);
      const boom = new Error('killed');
      await expect(
        convertCheckpoint({
          from: 'torch',
          to: 'flax',
          input: join(FIXTURES, 'resnet18.safetensors'),
          output: target,
          onProgress: (written, total) => {
            if (written > total / 2) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      await expectUntouched(dir, target);
    });
  });

  it('SIGKILL of a process in the middle of a write leaves the old target byte-identical', async () => {
    await withTempDir(async (dir) => {
      // Run the real atomic writer, alone, in a child process that we kill mid-write.
      const source = await readFile(new URL('./atomic-file.ts', import.meta.url), 'utf8');
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
      await writeFile(join(dir, 'atomic-file.mjs'), js);
      const target = join(dir, 'model.safetensors');
      await writeFile(target, OLD);
      await writeFile(
        join(dir, 'child.mjs'),
        `import { writeFileAtomic } from './atomic-file.mjs';
         await writeFileAtomic(${JSON.stringify(target)}, async (sink) => {
           await sink.write(new Uint8Array(1 << 20).fill(7));
           process.stdout.write('HALF ' + sink.tempPath + '\\n');
           await new Promise(() => setInterval(() => {}, 1000)); // hang, alive, until killed
         });
         process.stdout.write('DONE\\n');`,
      );
      const child = spawn(process.execPath, [join(dir, 'child.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
      const tempPath = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /HALF (.*)\n/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
      // The temporary file really holds the partial write.
      expect((await readFile(tempPath)).length).toBe(1 << 20);
      const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      expect(child.exitCode).toBeNull();
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(new Uint8Array(await readFile(target))).toEqual(OLD);
      // A killed process cannot clean up: its temporary file remains, under a name no reader
      // would take for the target. A later write is unaffected by it.
      expect(await readdir(dir)).toContain(tempPath.split('/').pop());
      await writeSafetensorsFile(target, { x: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) } });
      expect((await readFile(target)).length).toBeGreaterThan(OLD.length / 2);
    });
  });

  it('readers see the whole old file until the whole new one replaces it', async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, 'model.safetensors');
      await copyFile(join(FIXTURES, 'tiny.safetensors'), target);
      const before = readFileSync(target);
      const snapshots: Buffer[] = [];
      await writeSafetensorsFile(target, bigTensors(), { onProgress: () => void snapshots.push(readFileSync(target)) });
      expect(snapshots.length).toBe(4);
      for (const snap of snapshots) expect(snap.equals(before)).toBe(true);
      expect(readFileSync(target).length).toBeGreaterThan(3 << 20);
    });
  });
});
