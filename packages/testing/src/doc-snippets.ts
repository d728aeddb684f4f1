import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** A ```ts block of a markdown file whose first line is `// example: <name>`. */
export interface DocExample {
  readonly name: string;
  readonly code: string;
}

export function docExamples(markdownPath: string): DocExample[] {
  const md = readFileSync(markdownPath, 'utf8');
  const out: DocExample[] = [];
  for (const m of md.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const code = m[1]!;
    const name = /^\/\/ example: ([\w-]+)/.exec(code)?.[1];
    if (name) out.push({ name, code });
  }
  return out;
}

/**
 * Writes an example as a module under `<packageRoot>/.doc-snippets/` (git-ignored), with the
 * package's own name mapped to its sources and every top-level `const`/`let` exported, and
 * imports it: the example runs exactly as printed.
 */
export async function runExample(
  packageRoot: string,
  packageName: string,
  example: DocExample,
): Promise<Record<string, unknown>> {
  const dir = join(packageRoot, '.doc-snippets');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${example.name}.ts`);
  const entry = relative(dirname(file), join(packageRoot, 'src', 'index.js')).replaceAll('\\', '/');
  const names = [...example.code.matchAll(/^(?:const|let) (\w+)/gm)].map((m) => m[1]!);
  const code =
    example.code.replaceAll(`'${packageName}'`, `'${entry}'`) + (names.length ? `\nexport { ${names.join(', ')} };\n` : '');
  writeFileSync(file, code);
  return (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
}
