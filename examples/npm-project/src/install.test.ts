/**
 * A user's first five minutes, outside the workspace: pack every public package, `npm install`
 * the tarballs into a fresh project in a temp folder (dependencies from the npm registry), compile
 * the README example there with TypeScript against the installed types, run it unchanged, and run
 * the `normbridge` command through `npx`. Needs the packages built (scripts/test.sh does that).
 */
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTensor, int64Scalar } from '@normbridge/core';
import { writeSafetensorsFile } from '@normbridge/safetensors';
import { check, packAll, publicPackages, REPO_ROOT, run } from './workspace.js';

const TFJS_CORE = '@tensorflow/tfjs-core@4.22.0';
const C = 64;
const work = await mkdtemp(join(tmpdir(), 'nb-npm-project-'));
const project = join(work, 'my-port');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** The README's first TypeScript example, exactly as printed. */
async function readmeExample(): Promise<string> {
  const code = /```ts\n([\s\S]*?)```/.exec(await readFile(join(REPO_ROOT, 'README.md'), 'utf8'))?.[1];
  if (code === undefined) throw new Error('README.md has no ```ts example');
  return code;
}

/** Every installed copy of a package (npm may nest a second one under a dependant). */
async function copiesOf(dir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (nm: string): Promise<void> => {
    try {
      await access(join(nm, name, 'package.json'));
      found.push(join(nm, name));
    } catch {
      // not here
    }
    for (const entry of await readdir(nm, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      const scoped = entry.name.startsWith('@') ? (await readdir(join(nm, entry.name))).map((n) => join(nm, entry.name, n)) : [join(nm, entry.name)];
      for (const pkg of scoped) await walk(join(pkg, 'node_modules'));
    }
  };
  await walk(join(dir, 'node_modules'));
  return found;
}

beforeAll(async () => {
  const packages = await publicPackages();
  for (const p of packages) {
    await access(join(p.dir, 'dist', 'index.js')).catch(() => {
      throw new Error(`${p.name} is not built (no dist/index.js): run the build first`);
    });
  }
  const tarballs = await packAll(packages, await mkdtemp(join(work, 'tarballs-')));
  await mkdir(project);
  await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'my-port', private: true, type: 'module' }, null, 2)}\n`);
  // onnxruntime-node's postinstall would fetch CUDA libraries; its CPU library ships inside.
  // --prefer-offline: a warm npm cache answers without asking the registry again.
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  check('npm install', await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', TFJS_CORE, ...tarballs], { cwd: project, env }));
  // The checkpoint the example loads: a trained BatchNorm2d(64)'s state_dict.
  await writeSafetensorsFile(join(project, 'bn.safetensors'), {
    weight: hostTensor([C], Array.from({ length: C }, (_, i) => 1 + i / 64)),
    bias: hostTensor([C], Array.from({ length: C }, (_, i) => i / 128)),
    running_mean: hostTensor([C], Array.from({ length: C }, (_, i) => 0.5 - i / 64)),
    running_var: hostTensor([C], Array.from({ length: C }, (_, i) => 0.5 + i / 32)),
    num_batches_tracked: int64Scalar(100),
  });
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('the packages installed from tarballs into a fresh npm project', () => {
  it('hold one copy of tfjs-core (a peer dependency), so tfjs has one engine and one registry', async () => {
    expect(await copiesOf(project, '@tensorflow/tfjs-core')).toEqual([join(project, 'node_modules', '@tensorflow/tfjs-core')]);
  });

  it('compile the README example against their types and run it unchanged', async () => {
    const example = await readmeExample();
    await writeFile(join(project, 'example.ts'), example);
    // The same code, printing what it computed, to check the numbers too.
    await writeFile(
      join(project, 'example-check.ts'),
      `${example}\nconst d = y.data;\nlet s = 0;\nfor (let n = 0; n < 8; n++) for (let k = 0; k < 1024; k++) s += d[n * ${C} * 1024 + k]!;\n` +
        `console.log(JSON.stringify({ shape: y.shape, training: bn.training, count: bn.numBatchesTracked, mean0: s / 8192 }));\n`,
    );
    const tsconfig = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, types: [] },
      files: ['example.ts', 'example-check.ts'],
    };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    check('tsc', await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }));

    const plain = check('node example.js', await run(process.execPath, ['example.js'], { cwd: project }));
    expect(plain.stderr).toBe('');
    const out = JSON.parse(check('node example-check.js', await run(process.execPath, ['example-check.js'], { cwd: project })).stdout) as {
      shape: number[]; training: boolean; count: number; mean0: number;
    };
    expect(out.shape).toEqual([8, C, 32, 32]);
    expect(out.training).toBe(false);
    expect(out.count).toBe(100);
    // Channel 0 of U(-1, 1) input, normalised with mean 0.5, var 0.5, weight 1, bias 0.
    expect(out.mean0).toBeCloseTo(-0.5 / Math.sqrt(0.5 + 1e-5), 1);
  });

  it('give a `normbridge` command through npx', async () => {
    const help = check('npx normbridge --help', await run('npx', ['normbridge', '--help'], { cwd: project }));
    expect(help.stdout).toMatch(/^Usage: normbridge/m);
    for (const command of ['conformance', 'inspect', 'convert', 'demo']) expect(help.stdout).toContain(command);
    const inspect = check('npx normbridge inspect', await run('npx', ['normbridge', 'inspect', 'bn.safetensors'], { cwd: project }));
    expect(inspect.stdout).toContain('running_var');
  });
});
