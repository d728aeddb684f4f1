/**
 * The ported ResNet against torch. CI runs the narrow ResNet whose checkpoint and expected
 * outputs are committed (fixtures/); torchvision's ResNet-18 runs the same checks whenever
 * `generate.py --full` has written it to data/ (47 MB, not committed).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '@normbridge/core';
import { batchNormsFromCheckpoint } from '@normbridge/port';
import { createTfjsEngine } from '@normbridge/tfjs';
import { evalReport, formatEvalReport, loadExpected, trainReport, vsFloat64, type Expected } from './check.js';
import { flaxPort } from './flax-port.js';
import { foldedModel } from './folded.js';
import { runFoldedOnnx } from './onnx-folded.js';
import { torchPort } from './torch-port.js';

const here = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const MODELS = [
  { name: 'narrow ResNet (committed)', checkpoint: here('fixtures/resnet-narrow.safetensors'), expected: here('fixtures/resnet-narrow.expected.safetensors'), onnx: here('fixtures/resnet-narrow.onnx') },
  { name: 'torchvision ResNet-18', checkpoint: here('data/resnet18.safetensors'), expected: here('data/resnet18.expected.safetensors'), onnx: here('data/resnet18.onnx') },
];

let engine: Engine<any>;
beforeAll(async () => {
  engine = await createTfjsEngine('cpu');
});

for (const model of MODELS) {
  const present = existsSync(model.checkpoint) && existsSync(model.expected) && existsSync(model.onnx);
  describe.skipIf(!present)(model.name, () => {
    let expected: Expected;
    beforeAll(async () => {
      expected = await loadExpected(model.expected);
    });

    it('holds 20 BatchNorms, all with eps and momentum from the checkpoint\'s metadata', async () => {
      const { configs } = await batchNormsFromCheckpoint(model.checkpoint, { as: 'torch', engine });
      expect(configs.size).toBe(20);
      for (const c of configs.values()) expect(c).toEqual({ epsilon: 1e-5, momentum: 0.1, origin: 'metadata' });
    });

    it('PyTorch port: eval logits match torch (per-stage differences reported)', async () => {
      const port = await torchPort(model.checkpoint, engine);
      port.train(false);
      const r = await evalReport(port.layers, expected);
      expect(r.logits, `max |port - torch| per stage:\n${formatEvalReport(r)}`).toBeLessThanOrEqual(expected.tolerances.logits.atol);
      expect(r.logitsVsFloat64, `max |port - torch in float64| of the logits:\n${formatEvalReport(r)}`).toBeLessThanOrEqual(expected.tolerances.logits.float64_atol);
    });

    it('PyTorch port: the recorded train-mode passes reproduce the running statistics of all 20 BatchNorms', async () => {
      const rows = await trainReport(await torchPort(model.checkpoint, engine), expected);
      const table = rows.map((r) => `  ${r.layer.padEnd(24)} mean ${r.mean.toExponential(2)} var ${r.variance.toExponential(2)} count ${r.count.join('/')}`).join('\n');
      expect(rows).toHaveLength(20);
      expect(rows.filter((r) => !r.ok).map((r) => r.layer), `running statistics, max |port - torch|:\n${table}`).toEqual([]);
      for (const r of rows) expect(r.count[0]).toBe(r.count[1]);
    });

    it('Flax layout: the checkpoint converted to Flax and run through linen.BatchNorm gives the same logits', async () => {
      const port = await flaxPort(model.checkpoint, engine);
      expect(port.report.ok).toBe(true);
      const r = await evalReport(port.layers, expected);
      expect(r.logits, `max |flax port - torch| per stage:\n${formatEvalReport(r)}`).toBeLessThanOrEqual(expected.tolerances.logits.atol);
      expect(r.logitsVsFloat64, `max |flax port - torch in float64| of the logits:\n${formatEvalReport(r)}`).toBeLessThanOrEqual(expected.tolerances.logits.float64_atol);
    });

    it('folded for inference: every BatchNorm folded into its convolution gives the same logits', async () => {
      const { configs } = await batchNormsFromCheckpoint(model.checkpoint, { as: 'torch', engine });
      const r = await evalReport(await foldedModel(model.checkpoint, configs), expected);
      expect(r.logits, `max |folded - torch| per stage:\n${formatEvalReport(r)}`).toBeLessThanOrEqual(expected.tolerances.logits.atol);
      expect(r.logitsVsFloat64, `max |folded - torch in float64| of the logits:\n${formatEvalReport(r)}`).toBeLessThanOrEqual(expected.tolerances.logits.float64_atol);
    });

    it('ONNX: the model as torch exports it, its 20 BatchNormalization nodes folded by @normbridge/onnx, on ONNX Runtime gives the same logits', async () => {
      const input = expected.file.info('input');
      const run = await runFoldedOnnx(model.onnx, expected.file.float32Sync('input'), input.shape);
      expect(run.folded).toHaveLength(20);
      expect(run.folded.every((p) => p.op === 'Conv')).toBe(true);
      const torchLogits = expected.file.float32Sync('logits');
      expect(run.dims).toEqual([...expected.file.info('logits').shape]);
      let worst = 0;
      torchLogits.forEach((t, i) => (worst = Math.max(worst, Math.abs(run.logits[i]! - t))));
      expect(worst, 'max |folded ONNX - torch| of the logits').toBeLessThanOrEqual(expected.tolerances.logits.atol);
      expect(vsFloat64(run.logits, expected), 'max |folded ONNX - torch in float64| of the logits').toBeLessThanOrEqual(expected.tolerances.logits.float64_atol);
    });
  });
}
