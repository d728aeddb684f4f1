import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeOf, formatMarkdown, formatMatrix, runConformance } from '@normbridge/conformance';
import type { EngineName } from '@normbridge/engines';
import { ProgressBar } from '../progress.js';

export interface ConformanceCommandOptions {
  readonly fixtures?: readonly string[];
  readonly engines: readonly EngineName[];
  readonly framework?: readonly string[];
  /** Case patterns (`framework/case` or `case`, `*` wildcard). @default every case */
  readonly case?: readonly string[];
  /** Overrides every fixture's atol. @default each fixture's own */
  readonly atol?: number;
  /** Overrides every fixture's rtol. @default each fixture's own */
  readonly rtol?: number;
  readonly json?: string;
  readonly markdown?: string;
  /** Run the fixtures in headless Chromium instead of Node. @default false */
  readonly browser?: boolean;
}

/** The committed fixtures, found relative to this file (packages/cli/dist/commands → repo root). */
export function defaultFixtureDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'fixtures');
}

/** Runs the suite, prints the matrix, writes the requested reports; resolves to the exit code. */
export async function conformance(options: ConformanceCommandOptions): Promise<number> {
  let bar: ProgressBar | undefined;
  const run = {
    fixtureDirs: options.fixtures?.length ? options.fixtures : [defaultFixtureDir()],
    engines: options.engines,
    ...(options.framework?.length ? { frameworks: options.framework } : {}),
    ...(options.case?.length ? { cases: options.case } : {}),
    ...(options.atol !== undefined || options.rtol !== undefined
      ? { tolerance: { ...(options.atol !== undefined ? { atol: options.atol } : {}), ...(options.rtol !== undefined ? { rtol: options.rtol } : {}) } }
      : {}),
    onCase: (done: number, total: number, label: string) => {
      bar ??= new ProgressBar(total, options.browser ? 'conformance (chromium)' : 'conformance');
      if (done < total) bar.tick(label);
    },
  };
  const report = options.browser
    ? await (await import('@normbridge/conformance/browser-mode')).runConformanceInBrowser(run)
    : await runConformance(run);
  bar?.finish();
  if (report.results.length === 0 && report.invalid.length === 0) {
    // "0/0 cases" is not a pass: a misspelt --framework or --case, or an empty folder, fails loudly.
    const where = options.fixtures?.length ? options.fixtures.join(', ') : defaultFixtureDir();
    const which = [
      options.framework?.length ? ` of framework ${options.framework.join(', ')}` : '',
      options.case?.length ? ` matching --case ${options.case.join(' ')}` : '',
    ].join('');
    process.stderr.write(`normbridge conformance: no fixture${which} found in ${where}\n`);
    return 1;
  }
  process.stdout.write(`${formatMatrix(report)}\n`);
  if (options.json) await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
  if (options.markdown) await writeFile(options.markdown, `${formatMarkdown(report)}\n`);
  return exitCodeOf(report);
}
