import { Command, InvalidArgumentError, Option } from 'commander';
import { BROWSER_ENGINE_NAMES, CPU_ENGINE_NAMES, DEFAULT_ENGINE, ENGINE_NAMES, NODE_GPU_ENGINE_NAMES, type EngineName } from '@normbridge/engines';
import { CHECKPOINT_NAMES } from '@normbridge/frameworks';

/** A non-negative finite number, or commander's usage error naming the value. */
function parseTolerance(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got "${value}"`);
  return n;
}

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
    .option('--case <pattern...>', 'only these cases: "framework/case" or "case", "*" matches anything (e.g. torch/bn2d_*)')
    .option('--atol <number>', 'replace every fixture\'s atol (exploring; results say so)', parseTolerance)
    .option('--rtol <number>', 'replace every fixture\'s rtol (exploring; results say so)', parseTolerance)
    .option('--json <file>', 'write the full results as JSON')
    .option('--markdown <file>', 'write the matrix as Markdown')
    .option('--browser', `run in headless Chromium (Debian's chromium, or CHROMIUM_PATH) (default engines: ${BROWSER_ENGINE_NAMES.join(', ')})`)
    .option('--as <framework...>', 'translate each fixture into these frameworks (flax-linen, mlx, keras, torch; comma-separated or repeated), replay it there on each --engine, and say per layer what differs, by how much, and which convention explains it (a configuration the framework cannot express is measured on the nearest one it can)')
    .action(async (opts: { fixtures?: string[]; engine?: string[]; framework?: string[]; case?: string[]; atol?: number; rtol?: number; json?: string; markdown?: string; browser?: boolean; as?: string[] }) => {
      const { conformance, defaultFixtureDir } = await import('./commands/conformance.js');
      const fallback = opts.browser ? [...BROWSER_ENGINE_NAMES] : [DEFAULT_ENGINE];
      // "all" means every engine where the run happens: Node's (CPU and GPU), or the browser's.
      const all: EngineName[] = opts.browser ? [...BROWSER_ENGINE_NAMES] : [...CPU_ENGINE_NAMES, ...NODE_GPU_ENGINE_NAMES];
      const engines = opts.engine?.includes('all') ? all : ((opts.engine ?? fallback) as EngineName[]);
      if (opts.as) {
        if (opts.browser) {
          process.stderr.write('normbridge conformance: --as runs in Node (on any --engine there, GPU ones included), not with --browser\n');
          exitCode = 2;
          return;
        }
        const { cross } = await import('./commands/cross.js');
        exitCode = await cross({ fixtures: opts.fixtures?.length ? opts.fixtures : [defaultFixtureDir()], as: opts.as, engines, framework: opts.framework, case: opts.case });
        return;
      }
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
    .option('--summary', 'BatchNorm layers and totals only, no tensor list')
    .option('--json', 'the whole report as JSON')
    .action(async (file: string, opts: { summary?: boolean; json?: boolean }) => {
      const { inspect } = await import('./commands/inspect.js');
      exitCode = await inspect(file, opts);
    });

  program
    .command('convert')
    .description('convert a BatchNorm-bearing checkpoint between frameworks and report what was mapped; exits 1 when the report has problems')
    .addOption(new Option('--from <framework>', 'source framework').choices(CHECKPOINT_NAMES).makeOptionMandatory())
    .addOption(new Option('--to <framework>', 'target framework').choices(CHECKPOINT_NAMES).makeOptionMandatory())
    .option('--eps <number>', "eps of BatchNorms without eps in the file's metadata (default: the source framework's)")
    .option('--momentum <number>', "momentum, in the source framework's convention, of BatchNorms without one in the metadata; 'none' = PyTorch's cumulative average")
    .option('--rename <FROM=TO...>', "rename module paths: FROM a regular expression over the path joined with '/', e.g. '^(layer\\d)/(\\d+)=$1_$2'")
    .option('--dry-run', 'report only; write nothing')
    .option('--allow-problems', 'exit 0 even when tensors are missing, unexpected or mis-shaped')
    .argument('<input>', 'source safetensors file')
    .argument('[output]', 'target safetensors file (written atomically)')
    .action(async (input: string, output: string | undefined, opts: import('./commands/convert.js').ConvertCommandOptions) => {
      const { convert } = await import('./commands/convert.js');
      exitCode = await convert(input, output, opts);
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
