import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeOf, formatMarkdown, formatMatrix, runConformance, type EngineName } from '@normbridge/conformance';
import { ProgressBar } from '../progress.js';

export interface ConformanceCommandOptions {
  readonly fixtures?: readonly string[];
  readonly engines: readonly EngineName[];
  readonly framework?: readonly string[];
  readonly json?: string;
  readonly markdown?: string;
}

/** The committed fixtures, found relative to this file (packages/cli/dist/commands → repo root). */
export function defaultFixtureDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'fixtures');
}

/** Runs the suite, prints the matrix, writes the requested reports; resolves to the exit code. */
export async function conformance(options: ConformanceCommandOptions): Promise<number> {
  let bar: ProgressBar | undefined;
  const report = await runConformance({
    fixtureDirs: options.fixtures?.length ? options.fixtures : [defaultFixtureDir()],
    engines: options.engines,
    ...(options.framework?.length ? { frameworks: options.framework } : {}),
    onCase: (done, total, label) => {
      bar ??= new ProgressBar(total, 'conformance');
      if (done < total) bar.tick(label);
    },
  });
  bar?.finish();
  process.stdout.write(`${formatMatrix(report)}\n`);
  if (options.json) await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
  if (options.markdown) await writeFile(options.markdown, `${formatMarkdown(report)}\n`);
  if (report.results.length === 0 && report.invalid.length === 0) {
    // "0/0 cases" is not a pass: a misspelt --framework or an empty folder must fail loudly.
    const where = options.fixtures?.length ? options.fixtures.join(', ') : defaultFixtureDir();
    const which = options.framework?.length ? ` of framework ${options.framework.join(', ')}` : '';
    process.stderr.write(`normbridge conformance: no fixture${which} found in ${where}\n`);
  }
  return exitCodeOf(report);
}
