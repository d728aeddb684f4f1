import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@normbridge/conformance/browser-mode';
import { createReferenceEngine, hostTensor, type HostTensor } from '@normbridge/core';
import { serializeSafetensors } from '@normbridge/safetensors/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoInput, type LayerName } from './inputs.js';
import { createDemoLayer } from './layers.js';
import { startDemoServer } from './serve.js';
import type { StepRecord } from './page.js';

/**
 * The demo page in headless Chromium (Debian's, through playwright-core): drop a checkpoint,
 * run train and eval steps on WebGPU, check the numbers against the float64 reference, run the
 * matrix, and take the screenshot the README shows (NORMBRIDGE_UPDATE_SCREENSHOT=1 writes it
 * into the package; otherwise to a temporary folder).
 */
const CHANNELS = 3;
const CHECKPOINT = new Map<string, HostTensor>([
  ['bn1.weight', hostTensor([CHANNELS], [1, 0.5, 2])],
  ['bn1.bias', hostTensor([CHANNELS], [0, 0.25, -1])],
  ['bn1.running_mean', hostTensor([CHANNELS], [0, 1, 2])],
  ['bn1.running_var', hostTensor([CHANNELS], [1, 1.5, 2])],
]);
const TOLERANCE = { atol: 1e-4, rtol: 1e-4 }; // float32 GPU arithmetic vs float64, O(1) values

let server: Awaited<ReturnType<typeof startDemoServer>>;
let browser: Awaited<ReturnType<typeof launchChromium>>;
beforeAll(async () => {
  server = await startDemoServer();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  server?.server.close();
});

function close(actual: HostTensor, expected: HostTensor, label: string): void {
  expect(actual.shape, label).toEqual(expected.shape);
  for (let i = 0; i < expected.data.length; i++) {
    const [a, b] = [actual.data[i]!, expected.data[i]!];
    if (!(Math.abs(a - b) <= TOLERANCE.atol + TOLERANCE.rtol * Math.abs(b))) throw new Error(`${label}[${i}]: ${a} vs reference ${b}`);
  }
}

describe('the demo page', () => {
  it('runs train and eval steps of a dropped checkpoint on WebGPU, matching the float64 reference', async () => {
    const page = await browser.newPage({ viewport: { width: 1150, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    const dir = await mkdtemp(join(tmpdir(), 'normbridge-demo-'));
    const file = join(dir, 'resnet-bn1.safetensors');
    await writeFile(file, serializeSafetensors(Object.fromEntries(CHECKPOINT)));
    await page.setInputFiles('#checkpoint', file);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'checkpoint: done');
    const layer: LayerName = 'torch.nn.BatchNorm2d';
    await page.selectOption('#layer', layer);
    await page.selectOption('#backend', 'tfjs-webgpu');
    for (const [i, button] of ['#train', '#train', '#eval'].entries()) {
      await page.click(button);
      await page.waitForFunction((n) => (globalThis as any).normbridgeDemo.steps.length === n || /error/.test(document.getElementById('status')!.className), i + 1);
    }
    expect(errors).toEqual([]);
    expect(await page.textContent('#status')).toBe('eval step: done');
    const steps = (await page.evaluate(() => (globalThis as any).normbridgeDemo.steps)) as StepRecord[];

    // The same layer on the float64 reference engine, fed the same checkpoint and inputs.
    const reference = createDemoLayer(layer, CHECKPOINT, createReferenceEngine());
    for (const s of steps) {
      const hostOf = (t: HostTensor) => hostTensor(t.shape, Float32Array.from(Object.values(t.data) as number[]));
      close(hostOf(s.input), demoInput(layer, CHANNELS, s.step), `step ${s.step} input`);
      const want = await reference.step(demoInput(layer, CHANNELS, s.step), s.mode);
      close(hostOf(s.output), want.output, `step ${s.step} output`);
      for (const [k, t] of Object.entries(want.state)) close(hostOf(s.state[k]!), t, `step ${s.step} ${k}`);
    }

    await page.click('#run-matrix');
    await page.waitForFunction(() => /conformance: /.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 540_000 });
    expect(await page.textContent('#status')).toBe('conformance: done');
    const matrix = (await page.textContent('#matrix')) ?? '';
    expect(matrix).toMatch(/(\d+)\/\1 cases passed on tfjs-webgpu/);

    const out = process.env.NORMBRIDGE_UPDATE_SCREENSHOT === '1' ? join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshot.png') : join(dir, 'screenshot.png');
    await page.screenshot({ path: out, fullPage: true });
  });
});
