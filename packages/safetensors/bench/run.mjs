// Read throughput of @normbridge/safetensors against a plain sequential read of the same file.
// Not a test: `pnpm bench` (after `pnpm build`). Writes a ~1.1 GB file to os.tmpdir() and
// deletes it afterwards. Both reads run on a warm page cache (the file was just written), so
// they measure the reader's own cost, not the disk's.
import { open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSafetensors, writeSafetensorsFile } from '../dist/index.js';

const MB = 1024 * 1024;
const TENSOR_BYTES = 16 * MB;
const F32_TENSORS = 60;
const F16_TENSORS = 4;
const BF16_TENSORS = 4;
const ROUNDS = 3;

const path = join(tmpdir(), `normbridge-bench-${process.pid}.safetensors`);

/** Deterministic, non-constant contents, produced tensor by tensor (nothing holds the whole file). */
function lazyTensor(dtype, seed) {
  const elemBytes = dtype === 'F32' ? 4 : 2;
  const n = TENSOR_BYTES / elemBytes;
  return {
    dtype,
    shape: [n / 1024, 1024],
    read: async () => {
      const bytes = new Uint8Array(TENSOR_BYTES);
      const u32 = new Uint32Array(bytes.buffer);
      let x = seed * 2654435761 >>> 0 || 1;
      for (let i = 0; i < u32.length; i++) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        // Keep exponents moderate so F16/BF16 halves are ordinary numbers, not NaNs.
        u32[i] = (x & 0x83ff83ff) | 0x3c003c00;
      }
      return bytes;
    },
  };
}

async function plainRead() {
  const fh = await open(path, 'r');
  const buf = new Uint8Array(TENSOR_BYTES);
  let total = 0;
  const t0 = performance.now();
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, total);
    if (bytesRead === 0) break;
    total += bytesRead;
  }
  const ms = performance.now() - t0;
  await fh.close();
  return { bytes: total, ms };
}

/** The floor for "a fresh array per tensor": plain reads, each into newly allocated memory. */
async function plainReadFresh() {
  const fh = await open(path, 'r');
  const f = await openSafetensors(path);
  const t0 = performance.now();
  for (const t of f.tensors) {
    const buf = new Uint8Array(t.byteLength);
    await fh.read(buf, 0, buf.length, f.header.dataStart + t.begin);
  }
  const ms = performance.now() - t0;
  await f.close();
  await fh.close();
  return { ms };
}

async function safetensorsRead() {
  const t0 = performance.now();
  const f = await openSafetensors(path);
  let floats = 0;
  let checksum = 0;
  for (const t of f.tensors) {
    const a = await f.float32(t.name);
    floats += a.length;
    checksum += a[a.length - 1];
  }
  await f.close();
  const ms = performance.now() - t0;
  return { ms, floats, checksum };
}

async function safetensorsReadInto() {
  const t0 = performance.now();
  const f = await openSafetensors(path);
  const scratch = new Map();
  let checksum = 0;
  for (const t of f.tensors) {
    let out = scratch.get(t.numel);
    if (out === undefined) scratch.set(t.numel, (out = new Float32Array(t.numel)));
    await f.float32Into(t.name, out);
    checksum += out[out.length - 1];
  }
  await f.close();
  return { ms: performance.now() - t0, checksum };
}

const gbps = (bytes, ms) => (bytes / 1e9 / (ms / 1000)).toFixed(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const tensors = new Map();
  for (let i = 0; i < F32_TENSORS; i++) tensors.set(`f32.${i}`, lazyTensor('F32', i + 1));
  for (let i = 0; i < F16_TENSORS; i++) tensors.set(`f16.${i}`, lazyTensor('F16', 100 + i));
  for (let i = 0; i < BF16_TENSORS; i++) tensors.set(`bf16.${i}`, lazyTensor('BF16', 200 + i));

  let t0 = performance.now();
  const written = await writeSafetensorsFile(path, tensors, { metadata: { purpose: 'normbridge bench' } });
  const writeMs = performance.now() - t0;
  const size = (await stat(path)).size;
  console.log(`file: ${path}`);
  console.log(`  ${(size / 1e9).toFixed(3)} GB, ${written.tensors} tensors (${F32_TENSORS} F32, ${F16_TENSORS} F16, ${BF16_TENSORS} BF16, 16 MiB each)`);
  console.log(`  written (generate + atomic write + fsync) in ${(writeMs / 1000).toFixed(2)} s: ${gbps(size, writeMs)} GB/s`);

  const plain = [];
  const ours = [];
  const into = [];
  const fresh = [];
  let floats = 0;
  for (let r = 0; r < ROUNDS; r++) {
    plain.push((await plainRead()).ms);
    fresh.push((await plainReadFresh()).ms);
    const o = await safetensorsRead();
    ours.push(o.ms);
    floats = o.floats;
    into.push((await safetensorsReadInto()).ms);
  }
  const p = median(plain);
  const s = median(ours);
  const i = median(into);
  const fr = median(fresh);
  console.log(`median of ${ROUNDS} rounds, warm page cache:`);
  console.log(`  plain sequential read (16 MiB chunks, one reused buffer): ${gbps(size, p)} GB/s (${p.toFixed(0)} ms)`);
  console.log(`  plain read, a fresh buffer per tensor (allocation floor): ${gbps(size, fr)} GB/s (${fr.toFixed(0)} ms)`);
  console.log(`  safetensors → Float32Array for every tensor:             ${gbps(size, s)} GB/s of file (${s.toFixed(0)} ms)`);
  console.log(`    = ${gbps(floats * 4, s)} GB/s of float32 produced (F16/BF16 widen to twice their size); ${(100 * p / s).toFixed(0)}% of plain-read speed`);
  console.log(`  safetensors → float32Into one reused array per size:    ${gbps(size, i)} GB/s of file (${i.toFixed(0)} ms); ${(100 * p / i).toFixed(0)}% of plain-read speed`);
  console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

try {
  await main();
} finally {
  await rm(path, { force: true });
}
