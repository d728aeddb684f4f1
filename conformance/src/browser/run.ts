/**
 * The browser mode: the same fixtures and bindings, run in headless Chromium on the engines a
 * page has (tfjs webgl/webgpu, ONNX Runtime Web wasm/webgpu). Node bundles the page script
 * (esbuild), serves it and the fixtures' bytes on 127.0.0.1, drives the system's Chromium
 * through playwright-core (never a downloaded browser) and collects the results into the
 * same report the Node runner makes.
 */
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROWSER_ENGINE_NAMES, type EngineName } from '@normbridge/engines';
import { MAX_FIXTURE_BYTES, MAX_MANIFEST_BYTES } from '@normbridge/core';
import { listFixtureDirs, MANIFEST_FILE, readRegularFile } from '../fixture-load.js';
import { isModelManifest, loadModelFixture, type LoadedModelFixture } from '../model-fixture-load.js';
import { modelResult, type ConformanceReport } from '../runner.js';
import { PROGRESS_PREFIX, type PageReport, type ServedFixture } from './protocol.js';
import { bundlePage } from './bundle.js';

export { bundlePage } from './bundle.js';
export type { ServedFixture } from './protocol.js';

/** Where Debian's `chromium` package puts the browser; CHROMIUM_PATH overrides it. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a hermetic headless run: no network chatter, a throwaway profile (playwright
 * passes a fresh user-data-dir), WebGPU on (it is behind a flag on Linux), and WebGL/WebGPU
 * allowed on SwiftShader, the software GPU that Chromium ships, where there is no real one.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
];

/** Why model-level fixtures are n/a in the browser mode. */
const MODELS_IN_NODE_ONLY = 'model-level fixtures (whole training programs) replay in Node only; the browser page has layer bindings';

/** A whole browser run is bounded; SwiftShader runs the 82 fixtures on four engines in well under a minute. */
export const BROWSER_RUN_TIMEOUT_MS = 10 * 60_000;

export interface BrowserConformanceOptions {
  readonly fixtureDirs: readonly string[];
  /** @default every browser engine: tfjs-webgl, tfjs-webgpu, ort-web-wasm, ort-web-webgpu */
  readonly engines?: readonly EngineName[] | undefined;
  readonly frameworks?: readonly string[] | undefined;
  /** @default process.env.CHROMIUM_PATH, else /usr/bin/chromium */
  readonly executablePath?: string | undefined;
  readonly onCase?: (done: number, total: number, label: string) => void;
}

export async function runConformanceInBrowser(options: BrowserConformanceOptions): Promise<ConformanceReport> {
  const engines = options.engines?.length ? options.engines : BROWSER_ENGINE_NAMES;
  const served = await serveableFixtures(options.fixtureDirs, options.frameworks);
  const executablePath = options.executablePath ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  const bundle = await bundlePage(join(dirname(fileURLToPath(import.meta.url)), 'page.js'));
  const { server, origin } = await servePage(bundle, served);
  const browser = await launchChromium(executablePath);
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      const text = m.text();
      if (text.startsWith(PROGRESS_PREFIX)) {
        const [done, total, ...label] = text.slice(PROGRESS_PREFIX.length).split(' ');
        options.onCase?.(Number(done), Number(total), label.join(' '));
      }
    });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'normbridgeRunInPage' in globalThis, undefined, { timeout: 60_000 }).catch(() => {
      throw new Error(`the page script did not load${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);
    });
    page.setDefaultTimeout(BROWSER_RUN_TIMEOUT_MS);
    const report = (await page.evaluate(
      ([names, fixtures]) =>
        (globalThis as unknown as { normbridgeRunInPage(e: unknown, f: unknown): Promise<unknown> }).normbridgeRunInPage(names, fixtures),
      [engines, served.fixtures] as const,
    )) as PageReport;
    options.onCase?.(report.results.length, report.results.length, 'done');
    // Model-level fixtures replay in Node only: listed n/a, with the reason, on every engine.
    const models = served.models.flatMap((model) => engines.map((engine) => modelResult(model, engine, 'n/a', [], MODELS_IN_NODE_ONLY)));
    return {
      results: [...report.results, ...models],
      engines: report.engines.map((e) => ({ ...e, name: e.name as EngineName })),
      invalid: [...served.invalid, ...report.unloadable],
    };
  } finally {
    await browser.close();
    server.close();
  }
}

/** Headless Chromium from `executablePath` (Debian's by default) with {@link CHROMIUM_FLAGS}. */
export async function launchChromium(executablePath = process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM) {
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
}

/** Fixtures a page can fetch: their URLs (also listed at `/fixtures.json`) and the files behind them. */
export interface ServedFixtures {
  readonly fixtures: ServedFixture[];
  readonly files: Map<string, string>;
  readonly invalid: { path: string; reason: string }[];
  /** Model-level fixtures: not served (the page has no model bindings), reported n/a. */
  readonly models: LoadedModelFixture[];
}

/** Fixture folders as URLs the page fetches, and the files behind them. */
export async function serveableFixtures(dirs: readonly string[], frameworks?: readonly string[]): Promise<ServedFixtures> {
  const files = new Map<string, string>();
  const fixtures: ServedFixture[] = [];
  const invalid: { path: string; reason: string }[] = [];
  const models: LoadedModelFixture[] = [];
  for (const root of dirs) {
    for (const rel of await listFixtureDirs(root)) {
      const dir = join(root, rel);
      try {
        const raw: unknown = JSON.parse(new TextDecoder().decode(await readRegularFile(join(dir, MANIFEST_FILE), MAX_MANIFEST_BYTES)));
        const manifest = raw as { tensors?: string; framework?: { name?: string } };
        const name = manifest.framework?.name ?? '';
        if (frameworks && !frameworks.some((w) => name === w || name.startsWith(`${w}-`))) continue;
        if (isModelManifest(raw)) {
          models.push(await loadModelFixture(join(dir, MANIFEST_FILE), raw));
          continue;
        }
        const id = `/fixtures/${fixtures.length}`;
        files.set(`${id}/manifest.json`, join(dir, MANIFEST_FILE));
        files.set(`${id}/tensors`, join(dir, String(manifest.tensors)));
        fixtures.push({ label: dir, manifest: `${id}/manifest.json`, tensors: `${id}/tensors` });
      } catch (error) {
        invalid.push({ path: dir, reason: (error as Error).message });
      }
    }
  }
  return { fixtures, files, invalid, models };
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

/**
 * Serves the page, its bundle, the fixtures, and onnxruntime-web's dist folder (its `.wasm`
 * and loader files, which it fetches next to the bundle) on an ephemeral local port.
 */
export async function servePage(bundle: string, fixtures: ServedFixtures, title = 'normbridge conformance', body = ''): Promise<{ server: Server; origin: string }> {
  const fixtureFiles = fixtures.files;
  // onnxruntime-web is @normbridge/onnx's dependency: resolve it from there.
  const fromOnnx = createRequire(createRequire(import.meta.url).resolve('@normbridge/onnx'));
  const ortDist = dirname(fromOnnx.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title>${body}<script type="module" src="/page.js"></script>`;
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const send = (body: string | Uint8Array, type: string) => {
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      };
      if (path === '/') return send(html, TYPES['.html']!);
      if (path === '/page.js') return send(bundle, TYPES['.js']!);
      if (path === '/fixtures.json') return send(JSON.stringify(fixtures.fixtures), 'application/json');
      const fixtureFile = fixtureFiles.get(path);
      // A fixture's file is read with the loader's checks (a regular file, bounded in size).
      if (fixtureFile) return send(await readRegularFile(fixtureFile, MAX_FIXTURE_BYTES), 'application/octet-stream');
      const file = /^\/[\w.-]+$/.test(path) ? join(ortDist, path.slice(1)) : undefined;
      if (file && existsSync(file)) return send(await readFile(file), TYPES[extname(file)] ?? 'application/octet-stream');
      res.writeHead(404).end();
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the local server has no port');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}
