import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SNIPPETS = fileURLToPath(new URL('./.doc-snippets/', import.meta.url));

describe('fixtures/README.md "Using fixtures"', () => {
  it('runs as printed (paths from the repository root) and the fixture cross-checks clean', async () => {
    const text = await readFile(join(ROOT, 'fixtures/README.md'), 'utf8');
    const section = text.slice(text.indexOf('## Using fixtures'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, 'the section has a ts example').toBeTruthy();
    await mkdir(SNIPPETS, { recursive: true });
    const file = join(SNIPPETS, 'fixtures-readme.ts');
    const rooted = code!.replace("'fixtures/", `'${ROOT}fixtures/`);
    await writeFile(file, `${rooted}\nexport { f };\n`);
    const { f } = (await import(/* @vite-ignore */ file)) as { f: import('./fixture-load.js').LoadedFixture };
    expect(f.manifest.steps[0]!.output).toBe('steps/0/output');
    const { crosscheckFixture } = await import('./index.js');
    expect(crosscheckFixture(f).mismatches).toEqual([]);
  });
});
