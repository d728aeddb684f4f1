// STREAM-style bandwidth of one thread (the engines here run one): copy (memcpy through
// TypedArray.set) and triad (a = b + s·c, a JIT-compiled loop) over arrays far larger than
// any cache. GB/s counts every byte read and written, as STREAM does.
const ELEMENTS = 1 << 24; // 64 MiB per float32 array
const REPEATS = 5;

function best(bytes, fn) {
  let fastest = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    fn();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return bytes / (fastest * 1e6);
}

export function measureBandwidth() {
  const a = new Float32Array(ELEMENTS);
  const b = new Float32Array(ELEMENTS).fill(1);
  const c = new Float32Array(ELEMENTS).fill(2);
  const copy = best(2 * 4 * ELEMENTS, () => a.set(b));
  const triad = best(3 * 4 * ELEMENTS, () => {
    for (let i = 0; i < ELEMENTS; i++) a[i] = b[i] + 3 * c[i];
  });
  return { copyGBs: copy, triadGBs: triad, bestGBs: Math.max(copy, triad) };
}
