/**
 * Serves the demo page locally: `pnpm --filter @normbridge/demo start` (after a build), then
 * open the printed URL in a browser with WebGPU/WebGL.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage, serveableFixtures, servePage } from '@normbridge/conformance/browser-mode';
import { DEMO_BODY } from './html.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Bundles the page (src or dist, whichever this file runs from) and serves it with the committed fixtures. */
export async function startDemoServer(fixtureDirs = [join(here, '..', '..', '..', 'fixtures')]) {
  const entry = join(here, here.endsWith('src') ? 'page.ts' : 'page.js');
  const [bundle, fixtures] = await Promise.all([bundlePage(entry), serveableFixtures(fixtureDirs)]);
  return servePage(bundle, fixtures, 'normbridge demo', DEMO_BODY);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { origin } = await startDemoServer();
  process.stdout.write(`normbridge demo: ${origin}/\n`);
}
