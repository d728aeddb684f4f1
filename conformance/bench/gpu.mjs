// GPU benchmark (run by scripts/gpu-check.sh on a machine with a real GPU): the training
// forward on NHWC [32, 56, 56, 64] on tfjs-webgpu and ort-node-webgpu, against the device's
// own measured memory bandwidth (a timed WebGPU buffer copy). Prints a table; asserts nothing.
import { defineSpec, hostTensor, initialState } from '@normbridge/core';
import { createTfjsEngine } from '@normbridge/tfjs';
import { createOrtEngine } from '@normbridge/onnx';

/** NORMBRIDGE_BENCH_SHAPE=2,8,8,4 makes a smoke run on a software GPU. */
const SHAPE = (process.env.NORMBRIDGE_BENCH_SHAPE ?? '32,56,56,64').split(',').map(Number);
const REPEATS = Number(process.env.NORMBRIDGE_BENCH_REPEATS ?? 20);
const elements = SHAPE.reduce((a, b) => a * b, 1);
// The least traffic a training forward needs: read x twice (statistics, normalise), write y once.
const minimumBytes = 3 * elements * 4;

async function copyBandwidth() {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return undefined;
  const device = await (await gpu.requestAdapter()).requestDevice();
  const size = Number(process.env.NORMBRIDGE_BENCH_COPY_MB ?? 256) * 1024 * 1024;
  const a = device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
  const b = device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.STORAGE });
  const run = async (n) => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < n; i++) enc.copyBufferToBuffer(a, 0, b, 0, size);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(2);
  const t0 = performance.now();
  await run(10);
  const seconds = (performance.now() - t0) / 1000;
  device.destroy();
  return (2 * size * 10) / seconds; // each copy reads and writes `size` bytes
}

async function timeEngine(engine) {
  const spec = defineSpec({});
  const x = engine.fromHost(hostTensor(SHAPE, Float32Array.from({ length: elements }, (_, i) => Math.sin(i))));
  const state = engine.stateFromHost(initialState(spec, [SHAPE[3]]));
  const once = async () => {
    const out = await engine.train(spec, state, x);
    await engine.toHost(out.batchMean); // waits for the GPU without copying y back
    engine.dispose(out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar);
  };
  for (let i = 0; i < 3; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < REPEATS; i++) await once();
  return (performance.now() - t0) / 1000 / REPEATS;
}

const rows = [];
const tfjs = await createTfjsEngine('webgpu');
const bandwidth = await copyBandwidth();
rows.push(['tfjs-webgpu', await timeEngine(tfjs)]);
try {
  rows.push(['ort-node-webgpu', await timeEngine(await createOrtEngine({ backend: 'node-webgpu' }))]);
} catch (error) {
  rows.push(['ort-node-webgpu', NaN, error.message]);
}
console.log(`train forward, NHWC [${SHAPE.join(', ')}], ${REPEATS} repeats; device copy bandwidth ${bandwidth ? (bandwidth / 1e9).toFixed(1) + ' GB/s' : 'unknown'}`);
console.log('engine            ms/step   GB/s (3 passes of x)   fraction of copy bandwidth');
for (const [name, seconds, note] of rows) {
  const gbs = minimumBytes / seconds / 1e9;
  console.log(`${name.padEnd(16)}  ${(seconds * 1000).toFixed(2).padStart(7)}   ${gbs.toFixed(1).padStart(8)}               ${bandwidth ? (minimumBytes / seconds / bandwidth).toFixed(2) : '-'}${note ? `  (${note})` : ''}`);
}
