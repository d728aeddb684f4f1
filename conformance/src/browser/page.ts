/**
 * The browser mode's page script (bundled by run.ts): fetches the fixtures' bytes from the
 * local server, runs every case on every engine in this page, and returns the results. The
 * GPU backends are registered with static imports, as a user's page would.
 */
import '@normbridge/tfjs/webgl';
import '@normbridge/tfjs/webgpu';
import type { Engine } from '@normbridge/core';
import { createEngineByName, type EngineName } from '@normbridge/engines';
import { loadFixtureFromBytes, type LoadedFixture } from '../fixture-load.js';
import type { CaseResult } from '../results.js';
import { runCase } from '../runner.js';
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
  const results: CaseResult[] = [];
  const available: PageReport['engines'] = [];
  const total = fixtures.length * engines.length;
  let done = 0;
  for (const name of engines) {
    let engine: Engine<any> | undefined;
    let reason: string | undefined;
    try {
      engine = await createEngineByName(name);
    } catch (error) {
      reason = (error as Error).message.split('\n')[0];
    }
    available.push({ name, available: engine !== undefined, ...(reason ? { reason } : {}) });
    for (const fixture of fixtures) {
      const m = fixture.manifest;
      console.log(`${PROGRESS_PREFIX}${done++} ${total} ${name} ${m.framework.name}/${m.case}`);
      if (engine) {
        results.push(await runCase(fixture, engine));
      } else {
        results.push({
          fixture: `${m.framework.name}/${m.case}`,
          framework: m.framework.name,
          profile: `${m.framework.name} ${m.framework.version}`,
          engine: name,
          producerKind: m.producer.kind,
          status: 'n/a',
          reason: `engine unavailable: ${reason}`,
          comparisons: [],
          gradientsSkipped: 0,
        });
      }
    }
  }
  return { results, engines: available, unloadable };
}

(globalThis as { normbridgeRunInPage?: typeof runInPage }).normbridgeRunInPage = runInPage;
