/**
 * The demo page: drop a `.safetensors` checkpoint, pick a framework-shaped layer and a backend,
 * run train and eval steps, and run the conformance fixtures of that framework on that backend.
 * Everything runs in the page; the server only hands out files.
 */
import '@normbridge/tfjs/webgl';
import '@normbridge/tfjs/webgpu';
import { formatMatrix } from '@normbridge/conformance';
import { createEngineByName, type EngineName } from '@normbridge/engines';
import { runInPage, type ServedFixture } from '@normbridge/conformance/browser-page';
import type { CheckpointValue, Engine, HostTensor } from '@normbridge/core';
import { parseSafetensors } from '@normbridge/safetensors/browser';
import { demoInput, LAYERS, PAGE_ENGINES, type LayerName } from './inputs.js';
import { createDemoLayer, type DemoLayer } from './layers.js';

/** What a step shows, also kept on `window.normbridgeDemo` for tests. */
export interface StepRecord {
  readonly layer: LayerName;
  readonly engine: string;
  readonly mode: 'train' | 'eval';
  readonly step: number;
  readonly input: HostTensor;
  readonly output: HostTensor;
  readonly state: Record<string, HostTensor>;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let checkpoint: Map<string, CheckpointValue> | undefined;
let layer: DemoLayer | undefined;
let layerKey = '';
const engines = new Map<string, Engine<any>>();
const steps: StepRecord[] = [];
(globalThis as { normbridgeDemo?: unknown }).normbridgeDemo = { steps };

function status(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.className = error ? 'error' : '';
}

async function readCheckpoint(file: File): Promise<void> {
  const buffer = parseSafetensors(new Uint8Array(await file.arrayBuffer()));
  const tensors = new Map<string, CheckpointValue>();
  for (const info of buffer.tensors) {
    if (info.dtype === 'I64') continue; // counters (num_batches_tracked) are not needed here
    tensors.set(info.name, { shape: [...info.shape], data: await buffer.float32(info.name), dtype: 'float32' });
  }
  checkpoint = tensors;
  layer?.dispose();
  layer = undefined;
  $('checkpoint-info').textContent = `${file.name}: ${[...tensors.entries()].map(([k, t]) => `${k} [${t.shape.join(', ')}]`).join(', ')}`;
}

async function engineFor(name: string): Promise<Engine<any>> {
  let e = engines.get(name);
  if (!e) {
    e = await createEngineByName(name as EngineName);
    engines.set(name, e);
  }
  return e;
}

const preview = (t: HostTensor) => `[${t.shape.join(', ')}] ${Array.from(t.data.slice(0, 6), (v) => v.toFixed(5)).join(' ')}${t.data.length > 6 ? ' …' : ''}`;

async function runStep(mode: 'train' | 'eval'): Promise<void> {
  if (!checkpoint) throw new Error('drop a .safetensors checkpoint first');
  const name = $<HTMLSelectElement>('layer').value as LayerName;
  const engineName = $<HTMLSelectElement>('backend').value;
  const engine = await engineFor(engineName);
  if (!layer || layerKey !== `${name}@${engineName}`) {
    layer?.dispose();
    layer = createDemoLayer(name, checkpoint, engine);
    layerKey = `${name}@${engineName}`;
  }
  const step = steps.filter((s) => `${s.layer}@${s.engine}` === layerKey).length;
  const input = demoInput(name, layer.channels, step);
  const { output, state } = await layer.step(input, mode);
  steps.push({ layer: name, engine: engineName, mode, step, input, output, state });
  const row = document.createElement('tr');
  row.innerHTML = `<td>${step}</td><td>${mode}</td><td>${engineName}</td><td><code></code></td><td><code></code></td>`;
  row.querySelectorAll('code')[0]!.textContent = preview(output);
  row.querySelectorAll('code')[1]!.textContent = Object.entries(state).map(([k, t]) => `${k}: ${Array.from(t.data.slice(0, 3), (v) => v.toFixed(4)).join(' ')}`).join('; ');
  $('steps').append(row);
}

async function runMatrix(): Promise<void> {
  const name = $<HTMLSelectElement>('layer').value as LayerName;
  const engineName = $<HTMLSelectElement>('backend').value as EngineName;
  const all = (await (await fetch('/fixtures.json')).json()) as ServedFixture[];
  // The layer's framework only: the fixtures' folder names start with it.
  const framework = LAYERS[name].framework;
  const mine = all.filter((f) => f.label.split('/').includes(framework));
  const report = await runInPage([engineName], mine);
  $('matrix').textContent = formatMatrix({ ...report, invalid: report.unloadable });
}

function guard(f: () => Promise<void>, label: string): () => void {
  return () => {
    status(`${label}…`);
    f().then(
      () => status(`${label}: done`),
      (e: unknown) => status(`${label}: ${(e as Error).message}`, true),
    );
  };
}

function setup(): void {
  const layerSelect = $<HTMLSelectElement>('layer');
  for (const name of Object.keys(LAYERS)) layerSelect.add(new Option(name, name));
  const backend = $<HTMLSelectElement>('backend');
  for (const name of PAGE_ENGINES) backend.add(new Option(name, name));
  const input = $<HTMLInputElement>('checkpoint');
  input.addEventListener('change', () => input.files?.[0] && guard(() => readCheckpoint(input.files![0]!), 'checkpoint')());
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) guard(() => readCheckpoint(file), 'checkpoint')();
  });
  $('train').addEventListener('click', guard(() => runStep('train'), 'train step'));
  $('eval').addEventListener('click', guard(() => runStep('eval'), 'eval step'));
  $('run-matrix').addEventListener('click', guard(runMatrix, 'conformance'));
  status('ready');
}

setup();
