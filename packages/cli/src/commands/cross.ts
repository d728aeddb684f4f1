import { caseMatches, crossCheck, formatCrossTable, isUnexplained, loadFixtures, PORT_TARGETS, type CrossResult, type PortTarget } from '@normbridge/conformance';
import { createEngineByName, type EngineName } from '@normbridge/engines';

export interface CrossCommandOptions {
  readonly fixtures: readonly string[];
  /** Target frameworks, e.g. `['flax-linen', 'mlx']` (comma-separated values are split). */
  readonly as: readonly string[];
  /** Engines to replay on, one table each, as for the plain `conformance`. */
  readonly engines: readonly EngineName[];
  readonly framework?: readonly string[] | undefined;
  /** Case patterns (`framework/case` or `case`, `*` wildcard), as for the plain run. @default every case */
  readonly case?: readonly string[] | undefined;
}

/**
 * `normbridge conformance --as …`: each fixture translated into each target framework and
 * replayed there, on each engine. Exit 1 when a difference is not explained by a convention
 * (or no fixture was found), 2 on an unknown framework.
 */
export async function cross(options: CrossCommandOptions): Promise<number> {
  const targets = options.as.flatMap((a) => a.split(',')).map((a) => a.trim()).filter((a) => a !== '');
  const unknown = targets.filter((t) => !(PORT_TARGETS as readonly string[]).includes(t));
  if (unknown.length > 0) {
    process.stderr.write(`normbridge conformance --as: unknown framework(s) ${unknown.join(', ')}; use ${PORT_TARGETS.join(', ')}\n`);
    return 2;
  }
  const loaded = await loadFixtures(options.fixtures, options.framework);
  const { invalid } = loaded;
  const cases = options.case;
  const fixtures = cases?.length
    ? loaded.fixtures.filter((f) => cases.some((p) => caseMatches(`${f.manifest.framework.name}/${f.manifest.case}`, p)))
    : loaded.fixtures;
  // No fixture at all is a failure, not "0/0 reproduced".
  let failed = invalid.length > 0 || fixtures.length === 0;
  const tables: string[] = [];
  for (const name of options.engines) {
    let engine;
    try {
      engine = await createEngineByName(name);
    } catch (e) {
      // As in the plain matrix, an engine that cannot start here is n/a, not a failure.
      tables.push(`engine ${name}: n/a, unavailable (${(e as Error).message})`);
      continue;
    }
    const results: CrossResult[] = [];
    for (const f of fixtures) for (const t of targets as PortTarget[]) results.push(await crossCheck(f, t, engine));
    tables.push(`engine ${name}:\n${formatCrossTable(results)}`);
    failed ||= results.some(isUnexplained);
  }
  process.stdout.write(`${tables.join('\n\n')}\n`);
  for (const i of invalid) process.stdout.write(`invalid fixture ${i.path}: ${i.reason}\n`);
  return failed ? 1 : 0;
}
