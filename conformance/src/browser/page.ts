/**
 * The browser mode's page script (bundled by run.ts): fetches the fixtures' bytes from the
 * local server, runs every case on every engine in this page, and returns the results. The
 * GPU backends are registered with static imports, as a user's page would.
 */
import '@normbridge/tfjs/webgl';
import '@normbridge/tfjs/webgpu';
import type { EngineName } from '@normbridge/engines';
import { loadFixtureFromBytes, type LoadedFixture } from '../fixture-load.js';
import { runOnEngines } from '../runner.js';
import { PROGRESS_PREFIX, type PageReport, type ServedFixture } from './protocol.js';

export type { PageReport, ServedFixture } from './protocol.js';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function runInPage(engines: readonly EngineName[], served: readonly ServedFixture[]): Promise<PageReport> {
  const fixtures: LoadedFixture[] = [];
  const unloadable: { path: string; reason: string }[] = [];
  for (const f of served) {
    try {
      const [manifest, tensors] = await Promise.all([fetchBytes(f.manifest), fetchBytes(f.tensors)]);
      fixtures.push(loadFixtureFromBytes({ manifest, tensors, label: f.label }));
    } catch (error) {
      unloadable.push({ path: f.label, reason: (error as Error).message });
    }
  }
  const progress = (done: number, total: number, label: string) => console.log(`${PROGRESS_PREFIX}${done} ${total} ${label}`);
  const { results, engines: available } = await runOnEngines(engines, fixtures, [], { onCase: progress });
  return { results, engines: available, unloadable };
}

(globalThis as { normbridgeRunInPage?: typeof runInPage }).normbridgeRunInPage = runInPage;
