// Builds wasm/batchnorm.c into wasm-build/batchnorm-simd.wasm (WebAssembly SIMD, wasm32) with
// clang + wasm-ld (Debian: `apt-get install clang lld`). Without the toolchain the build goes
// on and says so: the wasm backend then runs the same kernels as typed-array loops. On CI (or
// with NORMBRIDGE_INSTALL_TOOLCHAIN=1) as root, the toolchain is installed with apt first.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'wasm', 'batchnorm.c');
const outDir = join(root, 'wasm-build');
const output = join(outDir, 'batchnorm-simd.wasm');
const EXPORTS = ['bn_moments', 'bn_normalize', 'bn_grad'];

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
const object = join(outDir, 'batchnorm.o');
// No libc, no stack, no data: the module may only touch the tensors it is handed.
execFileSync(clang, ['--target=wasm32', '-msimd128', '-O3', '-nostdlib', '-ffreestanding', '-fno-builtin', '-c', source, '-o', object], {
  stdio: 'inherit',
});
const partial = `${output}.partial`;
execFileSync(
  linker,
  ['--no-entry', '--import-memory', '-z', 'stack-size=0', '--initial-memory=65536', '--strip-all', ...EXPORTS.map((e) => `--export=${e}`), object, '-o', partial],
  { stdio: 'inherit' },
);
renameSync(partial, output); // atomic: a reader never sees half a module
console.error(`normbridge: built ${output}`);
