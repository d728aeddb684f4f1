// Builds kernels/batchnorm.c (WebAssembly SIMD, wasm32) with clang + wasm-ld (Debian:
// `apt-get install clang lld`) into two modules from the one source:
//   wasm-build/batchnorm-simd.wasm         imports a plain memory (tfjs's wasm heap; nb-wasm on one thread)
//   wasm-build/batchnorm-simd-shared.wasm  imports a shared memory (nb-wasm's worker threads)
// Without the toolchain the build goes on and says so: tfjs's wasm backend then runs the same
// kernels as typed-array loops, and nb-wasm reports itself unavailable. On CI (or with
// NORMBRIDGE_INSTALL_TOOLCHAIN=1) as root, the toolchain is installed with apt first.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'kernels', 'batchnorm.c');
const outDir = join(root, 'wasm-build');
const EXPORTS = [
  'bn_moments', 'bn_normalize', 'bn_grad', // whole tensors, one thread (tfjs)
  'bn_shift', 'bn_sums', 'bn_finalize_moments', 'bn_normalize_factors', 'bn_normalize_units', // ranges of units (nb-wasm)
  'bn_grad_sums', 'bn_grad_factors', 'bn_grad_dx',
];
/**
 * Largest shared memory the threaded module accepts: 2 GiB, because the kernels index with
 * 32-bit signed `long` offsets (wasm32), so no byte offset may reach 2^31.
 */
const SHARED_MAX_MEMORY_BYTES = 2 ** 31;

const has = (tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const find = (names) => names.find(has);
const CLANGS = ['clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'];
const LINKERS = ['wasm-ld', 'wasm-ld-19', 'wasm-ld-18', 'wasm-ld-17', 'wasm-ld-16', 'wasm-ld-15', 'wasm-ld-14'];

let clang = find(CLANGS);
let linker = find(LINKERS);
const mayInstall = process.env.CI === 'true' || process.env.NORMBRIDGE_INSTALL_TOOLCHAIN === '1';
if ((!clang || !linker) && mayInstall && process.getuid?.() === 0 && has('apt-get')) {
  console.error('normbridge: installing clang and lld (apt) for the wasm SIMD kernels');
  spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { stdio: 'ignore' });
  spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'clang', 'lld'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  clang = find(CLANGS);
  linker = find(LINKERS);
}
if (!clang || !linker) {
  console.error('normbridge: clang/wasm-ld not found; wasm SIMD kernels not built (the wasm backend uses typed-array loops)');
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
// No libc, no stack, no data: the module may only touch the tensors it is handed.
const CFLAGS = ['--target=wasm32', '-msimd128', '-O3', '-nostdlib', '-ffreestanding', '-fno-builtin'];
const LDFLAGS = ['--no-entry', '--import-memory', '-z', 'stack-size=0', '--initial-memory=65536', '--strip-all', ...EXPORTS.map((e) => `--export=${e}`)];
const VARIANTS = [
  { output: 'batchnorm-simd.wasm', cflags: [], ldflags: [] },
  // Atomics and bulk memory are what wasm-ld requires of a shared memory; the code uses neither.
  { output: 'batchnorm-simd-shared.wasm', cflags: ['-matomics', '-mbulk-memory'], ldflags: ['--shared-memory', `--max-memory=${SHARED_MAX_MEMORY_BYTES}`] },
];
for (const { output, cflags, ldflags } of VARIANTS) {
  const object = join(outDir, output.replace(/\.wasm$/, '.o'));
  execFileSync(clang, [...CFLAGS, ...cflags, '-c', source, '-o', object], { stdio: 'inherit' });
  const target = join(outDir, output);
  const partial = `${target}.partial`;
  execFileSync(linker, [...LDFLAGS, ...ldflags, object, '-o', partial], { stdio: 'inherit' });
  renameSync(partial, target); // atomic: a reader never sees half a module
  console.error(`normbridge: built ${target}`);
}
