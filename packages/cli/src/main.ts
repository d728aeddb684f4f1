import { Command, Option } from 'commander';
import { DEFAULT_ENGINE, ENGINE_NAMES, type EngineName } from '@normbridge/conformance';

const FRAMEWORKS = ['torch', 'flax', 'nnx', 'mlx', 'keras'] as const;

/**
 * Exit codes: 0 success; 1 the command ran but found problems (a conformance failure or no case
 * run at all, a conversion that left keys missing, unexpected, mis-shaped or invalid); 2 the
 * command could not run (bad input file, refused output, usage error printed by commander is
 * commander's own code).
 */
export const EXIT_PROBLEMS = 1;

/** Parses argv and runs one command; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('normbridge')
    .description('Exact BatchNorm ports from PyTorch, Flax, MLX and Keras to TypeScript')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('conformance')
    .description('replay reference fixtures through every adapter on every engine and print the matrix')
    .option('--fixtures <dir...>', 'fixture folders (default: the committed fixtures/)')
    .addOption(new Option('--engine <name...>', `engines (default: ${DEFAULT_ENGINE})`).choices([...ENGINE_NAMES, 'all']))
    .option('--framework <name...>', 'only these frameworks (e.g. torch, flax-linen, mlx)')
    .option('--json <file>', 'write the full results as JSON')
    .option('--markdown <file>', 'write the matrix as Markdown')
    .action(async (opts: { fixtures?: string[]; engine?: string[]; framework?: string[]; json?: string; markdown?: string }) => {
      const { conformance } = await import('./commands/conformance.js');
      const engines = opts.engine?.includes('all') ? [...ENGINE_NAMES] : ((opts.engine ?? [DEFAULT_ENGINE]) as EngineName[]);
      exitCode = await conformance({ ...opts, engines });
    });

  program
    .command('demo')
    .description('run one spec on every available engine against the float64 reference')
    .action(async () => {
      const { demo } = await import('./commands/demo.js');
      process.stdout.write(`${await demo()}\n`);
    });

  program
    .command('inspect')
    .description('list the tensors of a safetensors file and the BatchNorm layers it holds')
    .argument('<file>', 'a .safetensors file or a model.safetensors.index.json')
    .action(async (file: string) => {
      const { inspectCheckpoint, formatInspectReport } = await import('@normbridge/safetensors');
      process.stdout.write(`${formatInspectReport(await inspectCheckpoint(file))}\n`);
    });

  program
    .command('convert')
    .description('convert a BatchNorm-bearing checkpoint between frameworks and report what was mapped')
    .addOption(new Option('--from <framework>', 'source framework').choices(FRAMEWORKS).makeOptionMandatory())
    .addOption(new Option('--to <framework>', 'target framework').choices(FRAMEWORKS).makeOptionMandatory())
    .argument('<input>', 'source safetensors file')
    .argument('<output>', 'target safetensors file (written atomically)')
    .action(async (input: string, output: string, opts: { from: (typeof FRAMEWORKS)[number]; to: (typeof FRAMEWORKS)[number] }) => {
      const { convertCheckpoint, formatConversionReport } = await import('@normbridge/safetensors');
      const report = await convertCheckpoint({ from: opts.from, to: opts.to, input, output });
      process.stdout.write(`${formatConversionReport(report)}\n`);
      // Written, but not everything was carried: a script must not read this as success.
      if (!report.ok) exitCode = EXIT_PROBLEMS;
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (typeof code === 'number') return code; // commander already printed help or the usage error
    throw err;
  }
  return exitCode;
}
