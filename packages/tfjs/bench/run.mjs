// Benchmark (not a test): the engine against tfjs-layers' BatchNormalization on the same
// backend, NHWC [32, 56, 56, 64] float32, and the engine on the same data laid out NCHW
// [32, 64, 56, 56] (features on axis 1, as PyTorch ports have them) against the same
// tfjs-layers NHWC runs. Run after `pnpm build`; it imports ../dist.
// cpu and wasm kernels run synchronously, so timing the call times the work. The contenders
// alternate run by run, with a garbage collection before each (node --expose-gc), so that
// none pays for another's garbage.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { defineSpec, fromDecayMomentum, initialState } from '@normbridge/core';
import { batchNormTrainOp, createTfjsEngine } from '../dist/index.js';

const SHAPE = [32, 56, 56, 64];
/** The same data with the channels moved to axis 1. */
const NCHW = [0, 3, 1, 2];
const ELEMENTS = SHAPE.reduce((a, b) => a * b, 1);
const CHANNELS = SHAPE.at(-1);
/** Train forward must at least read x for the statistics, read it again to normalise and write y. */
const FLOOR_BYTES_PER_ELEMENT = 12;
/** Runs per row: as many as fit in about RUN_BUDGET_MS per side, between MIN_RUNS and MAX_RUNS. */
const RUN_BUDGET_MS = 6000;
const MIN_RUNS = 3;
const MAX_RUNS = 31;

// The spec TF.js's own layer implements, so both sides compute the same thing.
const specFor = (featureAxes) =>
  defineSpec({ featureAxes, epsilon: 1e-3, runningAverage: fromDecayMomentum(0.99), runningUpdateForm: 'decay-toward' });
const spec = specFor([-1]);
const nchwSpec = specFor([1]);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Median milliseconds of each function, the functions taking turns after one warm-up run
 * each; the slowest warm-up decides how many runs fit the budget.
 */
function timeAlternating(fns) {
  const warmup = fns.map((fn) => {
    const start = performance.now();
    fn();
    return performance.now() - start;
  });
  const runs = Math.min(MAX_RUNS, Math.max(MIN_RUNS, Math.floor(RUN_BUDGET_MS / Math.max(...warmup))));
  const wall = fns.map(() => []);
  const cpu = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    fns.forEach((fn, k) => {
      globalThis.gc?.();
      const startCpu = process.cpuUsage();
      const start = performance.now();
      fn();
      wall[k].push(performance.now() - start);
      const used = process.cpuUsage(startCpu);
      cpu[k].push((used.user + used.system) / 1e3);
    });
  }
  return { medians: wall.map(median), cpuMedians: cpu.map(median), runs };
}

async function benchBackend(backend) {
  const engine = await createTfjsEngine(backend);
  const x = tf.randomNormal(SHAPE, 1, 2, 'float32', 1);
  const dy = tf.randomNormal(SHAPE, 0, 1, 'float32', 2);
  const state = engine.stateFromHost(initialState(spec, [CHANNELS]));
  const layer = tfl.layers.batchNormalization({ momentum: 0.99, epsilon: 1e-3 });
  tf.dispose(layer.apply(tf.zeros([1, ...SHAPE.slice(1)])));

  // Every backward pass goes through the same harness: variableGrads of sum(y · dy) with
  // respect to x, scale and bias, which makes x a variable on every side.
  const xVar = tf.variable(x, true, `x-${backend}`);
  const scaleVar = tf.variable(state.scale, true, `scale-${backend}`);
  const biasVar = tf.variable(state.bias, true, `bias-${backend}`);
  const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
  const nchw = { x: tf.transpose(x, NCHW), dy: tf.transpose(dy, NCHW) };
  nchw.xVar = tf.variable(nchw.x, true, `x-nchw-${backend}`);

  const engineTrain = (s, input) => () => {
    const out = engine.train(s, state, input);
    tf.dispose([out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar]);
  };
  const engineGrads = (s, input, cotangent) => () => {
    const { value, grads } = tf.variableGrads(() => {
      const out = batchNormTrainOp(s, { ...state, scale: scaleVar, bias: biasVar }, input);
      tf.dispose([out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar]);
      return tf.sum(tf.mul(out.y, cotangent));
    }, [input, scaleVar, biasVar]);
    tf.dispose([value, ...Object.values(grads)]);
  };

  const rows = [
    {
      op: 'train forward',
      normbridge: engineTrain(spec, x),
      nchw: engineTrain(nchwSpec, nchw.x),
      layers: () => tf.dispose(layer.apply(x, { training: true })),
      floor: true,
    },
    {
      op: 'eval forward',
      normbridge: () => tf.dispose(engine.evaluate(spec, state, x)),
      nchw: () => tf.dispose(engine.evaluate(nchwSpec, state, nchw.x)),
      layers: () => tf.dispose(layer.apply(x, { training: false })),
    },
    {
      op: 'forward+backward',
      normbridge: engineGrads(spec, xVar, dy),
      nchw: engineGrads(nchwSpec, nchw.xVar, nchw.dy),
      layers: () => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.mul(layer.apply(xVar, { training: true }), dy)),
          [xVar, gamma, beta],
        );
        tf.dispose([value, ...Object.values(grads)]);
      },
    },
  ];

  // The NCHW engine runs in the same rotation as the NHWC pair, so that its row compares with
  // the very tfjs-layers runs of the NHWC row and the bench adds only the engine's NCHW time.
  const nhwcResults = [];
  const nchwResults = [];
  for (const row of rows) {
    const before = tf.memory().numTensors;
    const { medians, cpuMedians, runs } = timeAlternating([row.normbridge, row.layers, row.nchw]);
    const [normbridge, layers, nchwMs] = medians;
    if (tf.memory().numTensors !== before) console.warn(`  (${backend} ${row.op}: tensor count changed)`);
    const common = { backend, layers, runs, floor: row.floor };
    nhwcResults.push({ ...common, op: row.op, normbridge, cpuRatio: cpuMedians[0] / cpuMedians[1] });
    nchwResults.push({ ...common, op: `${row.op} (NCHW)`, normbridge: nchwMs, cpuRatio: cpuMedians[2] / cpuMedians[1] });
  }
  const results = [...nhwcResults, ...nchwResults];
  tf.dispose([x, dy, xVar, scaleVar, biasVar, nchw.x, nchw.dy, nchw.xVar, state.scale, state.bias, state.runningMean, state.runningVar]);
  layer.dispose();
  return results;
}

function print(results) {
  const header = ['backend', 'op', 'runs', 'normbridge ms', 'tfjs-layers ms', 'ratio', 'ratio (CPU time)', 'normbridge GB/s*', 'tfjs-layers GB/s*'];
  const body = results.map((r) => {
    const gbps = (ms) => (r.floor ? ((FLOOR_BYTES_PER_ELEMENT * ELEMENTS) / (ms / 1e3) / 1e9).toFixed(2) : '');
    return [r.backend, r.op, String(r.runs), r.normbridge.toFixed(1), r.layers.toFixed(1), (r.normbridge / r.layers).toFixed(2), r.cpuRatio.toFixed(2), gbps(r.normbridge), gbps(r.layers)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of body) console.log(line(row));
  console.log(
    `\nNHWC [${SHAPE.join(', ')}] float32; median of the runs shown (after one warm-up each, sides alternating); ratio = normbridge / tfjs-layers (< 1 is faster).`,
  );
  console.log(
    `(NCHW) rows: normbridge on the same data as NCHW [${NCHW.map((a) => SHAPE[a]).join(', ')}] (featureAxes [1]), against tfjs-layers NHWC from the same rotation.`,
  );
  console.log('Ratio (CPU time) compares process CPU time instead of wall time: steadier on a shared machine.');
  console.log(`* effective bandwidth against the train-forward floor of ${FLOOR_BYTES_PER_ELEMENT} bytes per element.`);
}

const results = [];
for (const backend of ['cpu', 'wasm']) results.push(...(await benchBackend(backend)));
print(results);
