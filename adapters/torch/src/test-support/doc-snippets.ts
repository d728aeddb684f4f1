import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A ```ts block of the docs whose first line is `// example: <name>`. */
export interface DocExample {
  readonly name: string;
  readonly code: string;
}

/** Every named ```ts block of a markdown file, in order. */
export function readDocExamples(markdownPath: string): DocExample[] {
  const md = readFileSync(markdownPath, 'utf8');
  const examples: DocExample[] = [];
  for (const [, code] of md.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    const name = /^\/\/ example: ([\w-]+)\n/.exec(code!)?.[1];
    if (name !== undefined) examples.push({ name, code: code! });
  }
  return examples;
}

/**
 * Runs an example exactly as printed: it is written to `<packageRoot>/.doc-snippets/<name>.ts`
 * (git-ignored) with only the package's own import pointed at its sources and its top-level
 * bindings exported, then imported. Returns those bindings for the test's checks.
 */
export async function runDocExample(packageRoot: string, packageName: string, example: DocExample): Promise<Record<string, unknown>> {
  const dir = join(packageRoot, '.doc-snippets');
  mkdirSync(dir, { recursive: true });
  const bindings = [...example.code.matchAll(/^(?:const|let) (\w+)/gm)].map((m) => m[1]!);
  const code =
    example.code.replaceAll(`from '${packageName}'`, `from '../src/index.js'`) +
    (bindings.length > 0 ? `\nexport { ${bindings.join(', ')} };\n` : '');
  const file = join(dir, `${example.name}.ts`);
  writeFileSync(file, code);
  return (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
}
