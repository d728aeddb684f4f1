// `pnpm bench`: the machine's bandwidth, PyTorch (when a Python with torch is found) and every
// normbridge engine on BatchNorm, train forward, eval forward and forward+backward, NCHW, NHWC
// and NC, in one run. Prints median ms, × the bandwidth floor and × PyTorch; writes
// out/bench.json and out/bench.png (GB/s per engine against the floor). Speed is compared
// within this one run only: on a shared machine absolute figures move from run to run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReferenceEngine, defineSpec, hostTensor, initialState } from '@normbridge/core';
import { torch } from '@normbridge/frameworks';
import { createTfjsEngine, wasmKernelFlavour } from '@normbridge/tfjs';
import { createOrtEngine } from '@normbridge/onnx';
import { createWasmEngine } from '@normbridge/wasm';
import { BatchNorm2d } from '@normbridge/torch';
import { measureBandwidth } from './stream.mjs';
import { runTorch, startTorchServer } from './torch.mjs';
import { plotThroughput } from './plot.mjs';

/** Where bench.json and bench.png go: NORMBRIDGE_BENCH_OUT, else bench/out. */
const OUT = process.env.NORMBRIDGE_BENCH_OUT ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'out');
const QUICK = process.argv.includes('--quick'); // small shapes: checks the harness, not speed

/** Bytes each operation must move per float32 element at least (issue 13). */
const FLOOR_BYTES = { train: 12, eval: 8, 'fwd+bwd': 32 };
const OPS = Object.keys(FLOOR_BYTES);
const LAYOUTS = QUICK
  ? [
      { layout: 'NCHW', shape: [4, 8, 7, 7], featureAxes: [1] },
      { layout: 'NHWC', shape: [4, 7, 7, 8], featureAxes: [-1] },
      { layout: 'NC', shape: [64, 16], featureAxes: [-1] },
    ]
  : [
      { layout: 'NCHW', shape: [32, 64, 56, 56], featureAxes: [1] },
      { layout: 'NHWC', shape: [32, 56, 56, 64], featureAxes: [-1] },
      { layout: 'NC', shape: [4096, 1024], featureAxes: [-1] },
    ];
const MIN_RUNS = 3;
const MAX_RUNS = QUICK ? 3 : 15;
const BUDGET_MS = QUICK ? 50 : 1500;
const TORCH_THREADS = Math.min(2, availableParallelism());

const size = (shape) => shape.reduce((a, b) => a * b, 1);
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** The spec a port of a default PyTorch BatchNorm2d/1d runs (the torch profile's), on `featureAxes`. */
const specFor = (featureAxes) => defineSpec({ ...torch.specFromArgs({}, {}), featureAxes });

function randomData(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i += 2) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = (s + 1) / 4294967297;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = 1 + 2 * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = 1 + 2 * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

async function time(fn) {
  await fn(); // warm-up: sessions, kernels, JIT
  const start = performance.now();
  await fn();
  const once = Math.max(performance.now() - start, 1e-3);
  const runs = Math.max(MIN_RUNS, Math.min(MAX_RUNS, Math.floor(BUDGET_MS / once)));
  const samples = [];
  // One collection before the series, none between samples: a forced full GC before each
  // sample evicts the tensors from the caches (about 1 ms more per eval on [32, 64, 56, 56]
  // here), a handicap PyTorch's timing loop does not have. Each sample frees what it made.
  // The pause lets V8's background threads finish that collection's sweeping: on two cores
  // they would otherwise take the core a worker thread of nb-wasm runs on.
  globalThis.gc?.();
  await settle();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return { ms: median(samples), runs };
}

/** Every engine, labelled: nb-wasm on all its default threads and, for the threads' share, on one. */
async function engines() {
  const list = [];
  const wasm = await createWasmEngine();
  list.push({ label: `nb-wasm x${wasm.threads}`, engine: wasm });
  if (wasm.threads > 1) list.push({ label: 'nb-wasm x1', engine: await createWasmEngine({ threads: 1 }) });
  for (const backend of ['cpu', 'wasm']) list.push({ label: `tfjs-${backend}`, engine: await createTfjsEngine(backend) });
  for (const backend of ['node', 'web-wasm']) {
    try {
      list.push({ label: `ort-${backend}`, engine: await createOrtEngine({ backend }) });
    } catch (error) {
      console.log(`ort-${backend}: not available (${error.message})`);
    }
  }
  list.push({ label: 'reference-f64', engine: createReferenceEngine() });
  return list;
}

/** One engine on one layout: a function per operation (each frees what it made), and `free`. */
function operations(engine, { shape, featureAxes }) {
  const spec = specFor(featureAxes);
  const channels = shape[featureAxes[0] < 0 ? shape.length - 1 : featureAxes[0]];
  const x = engine.fromHost(hostTensor(shape, randomData(size(shape), 1)));
  const dy = engine.fromHost(hostTensor(shape, randomData(size(shape), 2)));
  const state = engine.stateFromHost(initialState(spec, [channels]));
  const drop = (...ts) => engine.dispose(...ts);
  const dropTrain = (out) => drop(out.y, out.batchMean, out.batchVar, out.state.runningMean, out.state.runningVar);
  return {
    ops: {
      train: async () => dropTrain(await engine.train(spec, state, x)),
      eval: async () => drop(await engine.evaluate(spec, state, x)),
      'fwd+bwd': async () => {
        const out = await engine.train(spec, state, x);
        const g = await engine.vjp(spec, state, x, dy, 'train');
        dropTrain(out);
        drop(g.dx, g.dScale, g.dBias);
      },
    },
    free: () => drop(x, dy, state.scale, state.bias, state.runningMean, state.runningVar),
  };
}

/** One engine on one layout: the three operations. */
async function benchEngine(engine, layout) {
  const { ops, free } = operations(engine, layout);
  const results = {};
  for (const op of OPS) results[op] = await time(ops[op]);
  free();
  return results;
}

const H2H_ROUNDS = QUICK ? 2 : 9;
const H2H_SAMPLES = QUICK ? 2 : 5;
/**
 * Untimed calls opening each phase and layout, at least this many and for at least this long:
 * threads woken, caches refilled and clocks up after the pause and the other side's phase. (With
 * 2 calls alone, one run's NCHW eval rounds took 1.13 ms against 0.59 ms in its own table.)
 */
const H2H_WARM = QUICK ? 1 : 2;
const H2H_WARM_MS = QUICK ? 0 : 20;
/**
 * Idle time between phases, so that neither side's threads still run when the other's phase
 * starts: libgomp's threads spin 300 000 times (a few ms) before they sleep, nb-wasm's 500 µs.
 */
const H2H_PAUSE_MS = 50;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * PyTorch against the fastest engine of the table, in alternating phases: each round runs a
 * PyTorch phase and an engine phase (ABBA order over rounds), untimed calls for `H2H_WARM_MS`
 * and then `H2H_SAMPLES` timed calls per layout in each, and takes the engine's median over
 * PyTorch's best-layout median of that same round. On a shared machine load comes and goes
 * within seconds: a table row and its PyTorch row can be taken under different loads, a
 * round's two phases under the same one.
 */
async function headToHead(server, list, rows) {
  const groups = [['NCHW', 'NHWC'], ['NC']];
  const results = [];
  for (const op of OPS) {
    for (const group of groups) {
      const picks = group.map((layout) => {
        const best = rows.filter((r) => r.op === op && r.layout === layout && r.engine !== 'torch').sort((a, b) => a.ms - b.ms)[0];
        const c = LAYOUTS.find((l) => l.layout === layout);
        return { layout, shape: c.shape, label: best.engine, run: operations(list.find((e) => e.label === best.engine).engine, c) };
      });
      for (const p of picks) await p.run.ops[op](); // warm-up
      const torchPhase = async () => {
        const ms = {};
        for (const p of picks) ms[p.layout] = median(await server.sample({ layout: p.layout, shape: p.shape, op }, H2H_SAMPLES, H2H_WARM, H2H_WARM_MS));
        return ms;
      };
      const enginePhase = async () => {
        const ms = {};
        for (const p of picks) {
          const warmUntil = performance.now() + H2H_WARM_MS;
          for (let i = 0; i < H2H_WARM || performance.now() < warmUntil; i++) await p.run.ops[op]();
          const samples = [];
          for (let i = 0; i < H2H_SAMPLES; i++) {
            const t0 = performance.now();
            await p.run.ops[op]();
            samples.push(performance.now() - t0);
          }
          ms[p.layout] = median(samples);
        }
        return ms;
      };
      const rounds = [];
      for (let r = 0; r < H2H_ROUNDS; r++) {
        const first = r % 2 === 0 ? torchPhase : enginePhase;
        const second = r % 2 === 0 ? enginePhase : torchPhase;
        const a = await first();
        await pause(H2H_PAUSE_MS);
        const b = await second();
        await pause(H2H_PAUSE_MS);
        const [torch, engine] = r % 2 === 0 ? [a, b] : [b, a];
        rounds.push({ torchBest: Math.min(...group.map((l) => torch[l])), engine });
      }
      for (const p of picks) {
        p.run.free();
        const ratios = rounds.map((rd) => rd.engine[p.layout] / rd.torchBest);
        results.push({
          op,
          layout: p.layout,
          engine: p.label,
          rounds: H2H_ROUNDS,
          samplesPerPhase: H2H_SAMPLES,
          engineMs: median(rounds.map((rd) => rd.engine[p.layout])),
          torchBestMs: median(rounds.map((rd) => rd.torchBest)),
          ratio: median(ratios),
          ratioMin: Math.min(...ratios),
          ratioMax: Math.max(...ratios),
        });
      }
    }
  }
  return results;
}

/**
 * Calls of each arm before the rounds: V8 optimises a function only after it has run a while,
 * and a port's forward runs thousands of times. After one warm-up call the adapter's code was
 * still in V8's lower tiers: 96 µs of it per forward in the rounds, against 26–31 µs optimised.
 */
const WARMUP_ROUNDS = QUICK ? 1 : 300;
/**
 * Paired rounds measured. The overhead is a few % of a call whose time moves by more than that
 * from call to call here; the median of 201 paired differences is about 2x steadier than of 61.
 */
const ADAPTER_ROUNDS = 201;

/**
 * torch-shaped BatchNorm2d.forward against the engine call it makes, in alternating order
 * (ABBA), so drift on a shared machine hits both alike. The minimum is reported beside the
 * median: on a loaded machine it is the steadier estimate of the work itself.
 */
async function adapterOverhead(engine, { shape }) {
  const spec = specFor([1]);
  const x = engine.fromHost(hostTensor(shape, randomData(size(shape), 3)));
  const module = new BatchNorm2d(shape[1], { engine });
  // The engine arm carries its state from call to call and frees what it replaces, as the
  // adapter does, so that both arms allocate and free the same tensors.
  let state = engine.stateFromHost(initialState(spec, [shape[1]]));
  const viaAdapter = () => {
    const t0 = performance.now();
    const y = module.forward(x);
    const ms = performance.now() - t0;
    engine.dispose(y);
    return ms;
  };
  const direct = () => {
    const t0 = performance.now();
    const out = engine.train(spec, state, x);
    engine.dispose(out.batchMean, out.batchVar, state.runningMean, state.runningVar);
    state = out.state;
    const ms = performance.now() - t0;
    engine.dispose(out.y);
    return ms;
  };
  for (let i = 0; i < WARMUP_ROUNDS; i++) {
    viaAdapter();
    direct();
  }
  const adapter = [];
  const engineOnly = [];
  // Each round pairs the two arms (ABBA order); the median of the per-round differences is
  // steadier than a difference of medians when the machine drifts during the run.
  const rounds = QUICK ? 3 : ADAPTER_ROUNDS;
  // No forced collection between rounds (see time()): after a full GC V8 may have flushed the
  // bytecode of functions, and recompiling them would be charged to whichever arm runs more JS.
  globalThis.gc?.();
  await settle();
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      adapter.push(viaAdapter());
      engineOnly.push(direct());
    } else {
      engineOnly.push(direct());
      adapter.push(viaAdapter());
    }
  }
  engine.dispose(x, state.runningMean, state.runningVar, state.scale, state.bias);
  const pct = (a, b) => (100 * (a - b)) / b;
  const pairedMs = median(adapter.map((a, i) => a - engineOnly[i]));
  const result = { engine: engine.name, rounds, adapterMs: median(adapter), engineMs: median(engineOnly), adapterMinMs: Math.min(...adapter), engineMinMs: Math.min(...engineOnly), pairedMs };
  return {
    ...result,
    percent: pct(result.adapterMs, result.engineMs),
    percentOfMin: pct(result.adapterMinMs, result.engineMinMs),
    pairedPercent: (100 * pairedMs) / result.engineMs,
  };
}

function pad(s, n) {
  return String(s).padEnd(n);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  console.log(`normbridge bench${QUICK ? ' (--quick: harness check, tiny shapes)' : ''}: ratios are within this run; the machine may be shared.`);
  const bandwidth = measureBandwidth();
  console.log(
    `bandwidth (one thread, STREAM-style): copy ${bandwidth.copyGBs.toFixed(1)} GB/s, triad ${bandwidth.triadGBs.toFixed(1)} GB/s; floor uses ${bandwidth.bestGBs.toFixed(1)} GB/s`,
  );

  const list = await engines();
  console.log(`engines: ${list.map((e) => e.label).join(', ')}; tfjs-wasm kernels: ${wasmKernelFlavour()}`);
  const rows = [];
  const torchResults = [];
  let torch;
  const torchMs = (layout, op) => torchResults.find((r) => r.layout === layout && r.op === op)?.ms;
  const torchBest = (op, layouts) => Math.min(...layouts.map((l) => torchMs(l, op) ?? Infinity));
  for (const layout of LAYOUTS) {
    // PyTorch runs right before the engines on the same layout, not all at the start: on a
    // shared machine the speed drifts over minutes, and ratios should compare neighbours.
    const run = runTorch(OPS.map((op) => ({ layout: layout.layout, shape: layout.shape, op })), TORCH_THREADS);
    if (torch === undefined) {
      torch = run;
      if (run.skipped) console.log(`PyTorch: skipped (${run.skipped})`);
      else console.log(`PyTorch ${run.version}, ${run.threads} threads (${run.python})`);
    }
    torchResults.push(...(run.results ?? []));
    for (const op of OPS) {
      const t = torchMs(layout.layout, op);
      if (t !== undefined) rows.push({ engine: 'torch', layout: layout.layout, op, ms: t, runs: undefined });
    }
    for (const { label, engine } of list) {
      // The float64 reference is a correctness oracle, tens of times slower: NC only.
      if (engine.name === 'reference-f64' && layout.layout !== 'NC' && !QUICK) continue;
      const r = await benchEngine(engine, layout);
      for (const op of OPS) rows.push({ engine: label, layout: layout.layout, op, ...r[op] });
    }
  }

  const elements = (layoutName) => size(LAYOUTS.find((l) => l.layout === layoutName).shape);
  for (const r of rows) {
    const floorMs = (FLOOR_BYTES[r.op] * elements(r.layout)) / (bandwidth.bestGBs * 1e6);
    r.floorMs = floorMs;
    r.xFloor = r.ms / floorMs;
    r.gbs = (FLOOR_BYTES[r.op] * elements(r.layout)) / (r.ms * 1e6);
    const t = torchMs(r.layout, r.op);
    r.xTorch = t === undefined ? undefined : r.ms / t;
    const best = torchBest(r.op, r.layout === 'NC' ? ['NC'] : ['NCHW', 'NHWC']);
    r.xTorchBest = Number.isFinite(best) ? r.ms / best : undefined;
  }

  const header = `${pad('op', 8)} ${pad('layout', 6)} ${pad('engine', 14)} ${pad('median ms', 10)} ${pad('x floor', 8)} ${pad('x torch', 8)} ${pad('x torch best layout', 19)} runs`;
  console.log(`\n${header}\n${'-'.repeat(header.length)}`);
  for (const op of OPS) {
    for (const r of rows.filter((row) => row.op === op)) {
      const f = (v) => (v === undefined ? '-' : v.toFixed(2));
      console.log(`${pad(op, 8)} ${pad(r.layout, 6)} ${pad(r.engine, 14)} ${pad(r.ms.toFixed(2), 10)} ${pad(f(r.xFloor), 8)} ${pad(f(r.xTorch), 8)} ${pad(f(r.xTorchBest), 19)} ${r.runs ?? '-'}`);
    }
  }

  console.log('\nbest normbridge engine per op and layout, against PyTorch on its best layout:');
  for (const op of OPS) {
    for (const layout of LAYOUTS.map((l) => l.layout)) {
      const ours = rows.filter((r) => r.op === op && r.layout === layout && r.engine !== 'torch').sort((a, b) => a.ms - b.ms)[0];
      if (ours) console.log(`  ${pad(op, 8)} ${pad(layout, 5)} ${pad(ours.engine, 13)} ${ours.ms.toFixed(2)} ms, x torch best ${ours.xTorchBest?.toFixed(2) ?? '-'}`);
    }
  }

  let h2h;
  const server = await startTorchServer(TORCH_THREADS);
  if (server.skipped) console.log(`\nhead-to-head: skipped (${server.skipped})`);
  else {
    try {
      h2h = await headToHead(server, list, rows);
    } finally {
      await server.close();
    }
    console.log(
      `\nhead-to-head: ${H2H_ROUNDS} rounds alternating PyTorch and the fastest engine, ${H2H_SAMPLES} timed calls (after ${H2H_WARM_MS} ms untimed) per layout and phase;\n` +
        'x = engine median / PyTorch best-layout median of the same round; median over rounds [range]:',
    );
    for (const h of h2h) {
      console.log(`  ${pad(h.op, 8)} ${pad(h.layout, 5)} ${pad(h.engine, 13)} ${h.engineMs.toFixed(2)} ms vs ${h.torchBestMs.toFixed(2)} ms, x ${h.ratio.toFixed(2)} [${h.ratioMin.toFixed(2)}-${h.ratioMax.toFixed(2)}]`);
    }
  }

  // The adapter's share is largest on the fastest engine, so it is measured there and on tfjs-wasm.
  const signed = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} %`;
  const overheads = [];
  for (const { label, engine } of [list[0], list.find((e) => e.label === 'tfjs-wasm')]) {
    const overhead = { label, ...(await adapterOverhead(engine, LAYOUTS[0])) };
    overheads.push(overhead);
    console.log(
      `${overheads.length === 1 ? '\n' : ''}adapter overhead (torch BatchNorm2d.forward vs ${label} train, NCHW, ${overhead.rounds} alternating rounds): ` +
        `median ${overhead.adapterMs.toFixed(2)} vs ${overhead.engineMs.toFixed(2)} ms (${signed(overhead.percent)}), ` +
        `min ${overhead.adapterMinMs.toFixed(2)} vs ${overhead.engineMinMs.toFixed(2)} ms (${signed(overhead.percentOfMin)}), ` +
        `median paired difference ${(overhead.pairedMs * 1000).toFixed(0)} us (${signed(overhead.pairedPercent)})`,
    );
  }

  const report = { date: new Date().toISOString(), quick: QUICK, bandwidth, torch: torch.skipped ? { skipped: torch.skipped } : { version: torch.version, threads: torch.threads }, floorBytesPerElement: FLOOR_BYTES, layouts: LAYOUTS, rows, headToHead: h2h, adapterOverhead: overheads };
  writeFileSync(join(OUT, 'bench.json'), JSON.stringify(report, null, 2));
  const plotRows = rows.map((r) => ({ op: r.op, engine: r.engine, label: `${r.engine} ${r.layout}`, gbs: r.gbs }));
  writeFileSync(join(OUT, 'bench.png'), plotThroughput(plotRows, bandwidth.bestGBs, 'NORMBRIDGE BATCHNORM: GB/S PER ENGINE VS FLOOR'));
  console.log(`\nwrote ${join(OUT, 'bench.json')} and ${join(OUT, 'bench.png')}`);
  for (const { engine } of list) await engine.close?.();
}

await main();
