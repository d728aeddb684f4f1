import { crossCheck, formatCrossTable, loadFixtures, PORT_TARGETS, type CrossResult, type PortTarget } from '@normbridge/conformance';
import { createEngineByName } from '@normbridge/engines';

export interface CrossCommandOptions {
  readonly fixtures: readonly string[];
  /** Target frameworks, e.g. `['flax-linen', 'mlx']` (comma-separated values are split). */
  readonly as: readonly string[];
  readonly framework?: readonly string[] | undefined;
}

/**
 * `normbridge conformance --as …`: each fixture translated into each target framework and
 * replayed there (tfjs cpu). Exit 1 when a difference is not explained by a convention.
 */
export async function cross(options: CrossCommandOptions): Promise<number> {
  const targets = options.as.flatMap((a) => a.split(',')).map((a) => a.trim()).filter((a) => a !== '');
  const unknown = targets.filter((t) => !(PORT_TARGETS as readonly string[]).includes(t));
  if (unknown.length > 0) {
    process.stderr.write(`normbridge conformance --as: unknown framework(s) ${unknown.join(', ')}; use ${PORT_TARGETS.join(', ')}\n`);
    return 2;
  }
  const { fixtures, invalid } = await loadFixtures(options.fixtures, options.framework);
  const engine = await createEngineByName('tfjs-cpu');
  const results: CrossResult[] = [];
  for (const f of fixtures) for (const t of targets as PortTarget[]) results.push(await crossCheck(f, t, engine));
  process.stdout.write(`${formatCrossTable(results)}\n`);
  for (const i of invalid) process.stdout.write(`invalid fixture ${i.path}: ${i.reason}\n`);
  return results.some((r) => r.status === 'differs' && !r.explained) || invalid.length > 0 ? 1 : 0;
}
