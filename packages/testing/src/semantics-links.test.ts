/**
 * Every citation of docs/semantics.md in the repository's sources and READMEs points at a
 * section that exists, and no source comment still cites the old numbered draft
 * ("semantics 5.4"), which is not in the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DOC = join(ROOT, 'docs', 'semantics.md');
const SELF = fileURLToPath(import.meta.url);

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** Sources and docs that may cite the page (fixture data and generated files excluded). */
function files(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      if (['node_modules', 'dist', '.git', '.turbo', 'wasm-build', '.doc-snippets'].includes(entry)) continue;
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mjs|py|md)$/.test(entry) && p !== SELF) out.push(p);
    }
  };
  for (const top of ['packages', 'adapters', 'conformance', 'examples', 'bench', 'scripts', 'fixtures/generators']) walk(join(ROOT, top));
  for (const top of ['README.md', 'DEVELOPERS.md', 'ARCHITECTURE.md', 'fixtures/README.md']) out.push(join(ROOT, top));
  return out;
}

describe('docs/semantics.md citations', () => {
  const known = anchors(readFileSync(DOC, 'utf8'));

  it('has the sections the code cites by name', () => {
    for (const a of ['pytorch', 'flax-linen', 'flax-nnx', 'flax-legacy', 'mlx', 'keras-3', 'tfjs-layers', 'onnx', 'worked-example', 'published-vectors']) {
      expect(known).toContain(a);
    }
  });

  it('every "semantics.md#section" cited in the repository exists', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of files()) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      // "docs/semantics.md#a, #b" cites two sections.
      for (const m of text.matchAll(/semantics\.md((?:#[a-z0-9-]+(?:,\s*(?=#))?)+)/g)) {
        for (const a of m[1]!.split(/,\s*/).map((s) => s.replace(/^#/, ''))) {
          cited++;
          if (!known.has(a)) missing.push(`${relative(ROOT, file)}: #${a}`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(cited).toBeGreaterThan(30);
  });

  it('no TypeScript source cites the numbered draft that is not in the repository', () => {
    const stale: string[] = [];
    for (const file of files().filter((f) => f.endsWith('.ts'))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/[Ss]emantics(\.md)?,? (§|sections? )?\d|\/work\/shared\/docs/.test(line)) stale.push(`${relative(ROOT, file)}:${i + 1}`);
      });
    }
    expect(stale).toEqual([]);
  });

  it('slugs headings the way GitHub does', () => {
    expect(slug('Keras 3')).toBe('keras-3');
    expect(slug('TF.js layers')).toBe('tfjs-layers');
    expect(slug('What the real frameworks showed')).toBe('what-the-real-frameworks-showed');
  });
});
