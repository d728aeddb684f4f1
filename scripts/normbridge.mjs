#!/usr/bin/env node
// `pnpm normbridge …` from the repository: builds the CLI and what it depends on when it has not
// been built yet (output to stderr, so stdout stays the command's own), then runs it from the
// directory the user called pnpm in (pnpm runs root scripts in the root; INIT_CWD is the caller's).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
if (!existsSync(bin)) {
  process.stderr.write('normbridge: building the CLI first (pnpm exec turbo run build --filter @normbridge/cli...)\n');
  const built = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter', '@normbridge/cli...', '--output-logs=errors-only'], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import(pathToFileURL(bin).href);
