/**
 * Python generators, where a Python is available (CI has none: skipped there, saying why).
 * - flax_fixtures.py --self-check (stdlib only): the real-JAX generator would feed exactly the
 *   inputs, cotangents and masks of the committed oracle fixtures.
 * - torch_fixtures.py (needs torch): regenerating into a temporary folder reproduces the
 *   committed torch fixtures of the local torch version (1.13 and 2.13 cases live side by side)
 *   byte for byte. NORMBRIDGE_TORCH_PYTHON picks the Python (e.g. /work/venvs/torch2/bin/python).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { listFixtureDirs } from './fixture-load.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GENERATORS = join(ROOT, 'fixtures', 'generators');

function probe(code: string): { python?: string; out: string; reason: string } {
  // NORMBRIDGE_TORCH_PYTHON, when set, is the only candidate (set it to a missing path to force the skip).
  const override = process.env['NORMBRIDGE_TORCH_PYTHON'];
  const candidates = override ? [override] : ['/usr/bin/python3', 'python3'];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, out: r.stdout.trim(), reason: `${python}` };
    tried.push(`${python}: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}`);
  }
  return { out: '', reason: `tried ${tried.join('; ')}` };
}

const plain = probe('import sys; assert sys.version_info >= (3, 8); print(sys.version.split()[0])');
const withTorch = probe('import torch; print(torch.__version__)');
if (!plain.python) console.warn(`[fixture-generators-python] flax self-check skipped: no Python >= 3.8 (${plain.reason})`);
if (!withTorch.python) console.warn(`[fixture-generators-python] torch regeneration skipped: no Python with torch (${withTorch.reason})`);

describe.skipIf(!plain.python)(`flax_fixtures.py --self-check (${plain.reason})`, () => {
  it('derives the same inputs, cotangents and masks as the committed Flax fixtures', () => {
    const r = spawnSync(plain.python!, [join(GENERATORS, 'flax_fixtures.py'), '--self-check'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout + r.stderr).toContain('self-check: OK');
    expect(r.status).toBe(0);
  });
});

describe.skipIf(!withTorch.python)(`torch_fixtures.py regeneration (torch ${withTorch.out})`, () => {
  const out = mkdtempSync(join(tmpdir(), 'nb-torch-regen-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('reproduces the committed torch fixtures of its version byte for byte', async (ctx) => {
    const versionOf = (d: string) => JSON.parse(readFileSync(join(ROOT, 'fixtures', d, 'manifest.json'), 'utf8')).framework.version;
    const torchDirs = (await listFixtureDirs(join(ROOT, 'fixtures'))).filter((d) => d.startsWith('torch/'));
    const committed = torchDirs.filter((d) => versionOf(d) === withTorch.out);
    if (committed.length === 0) {
      const recorded = [...new Set(torchDirs.map(versionOf))].join(', ');
      console.warn(`[fixture-generators-python] committed torch fixtures are from torch ${recorded}, this Python has ${withTorch.out}: not comparing bytes`);
      ctx.skip();
    }
    const r = spawnSync(withTorch.python!, [join(GENERATORS, 'torch_fixtures.py'), '--out', out], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const regenerated = await listFixtureDirs(out);
    expect(regenerated).toEqual(committed);
    for (const d of committed) {
      for (const file of ['manifest.json', 'tensors.safetensors']) {
        const a = readFileSync(join(ROOT, 'fixtures', d, file));
        const b = readFileSync(join(out, d, file));
        expect(a.equals(b), `${d}/${file}`).toBe(true);
      }
    }
  });
});
