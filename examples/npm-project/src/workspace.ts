/**
 * The workspace's public packages and how to pack them, for tests that install them the way a
 * user would: as tarballs from `pnpm pack` (which rewrites `workspace:*` into versions).
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Folders that hold the packages a user installs (pnpm-workspace.yaml, less the examples). */
const PACKAGE_PARENTS = ['packages', 'adapters'];
const SINGLE_PACKAGES = ['conformance'];

export interface WorkspacePackage {
  readonly name: string;
  readonly dir: string;
}

/** Every package without `"private": true`. */
export async function publicPackages(): Promise<WorkspacePackage[]> {
  const dirs = [...SINGLE_PACKAGES.map((d) => join(REPO_ROOT, d))];
  for (const parent of PACKAGE_PARENTS) {
    for (const entry of await readdir(join(REPO_ROOT, parent), { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(join(REPO_ROOT, parent, entry.name));
    }
  }
  const out: WorkspacePackage[] = [];
  for (const dir of dirs) {
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name: string; private?: boolean };
    if (manifest.private !== true) out.push({ name: manifest.name, dir });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit (the caller asserts, printing both streams). */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Throws with both output streams when a command failed, so npm's own errors are shown. */
export function check(what: string, r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

/** Packs the given packages into `dest` (one `pnpm -r pack`); returns the tarball paths. */
export async function packAll(packages: readonly WorkspacePackage[], dest: string): Promise<string[]> {
  const filters = packages.flatMap((p) => ['--filter', p.name]);
  check('pnpm pack', await run('pnpm', ['-r', ...filters, 'pack', '--pack-destination', dest], { cwd: REPO_ROOT }));
  const tarballs = (await readdir(dest)).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== packages.length) {
    throw new Error(`expected ${packages.length} tarballs, found ${tarballs.length}: ${tarballs.join(', ')}`);
  }
  return tarballs.map((f) => join(dest, f));
}
