/**
 * fixtures/generators/capture_torch.py against a small torchvision-free model, when a Python
 * with torch is available (NORMBRIDGE_TORCH_PYTHON if set, else Debian's /usr/bin/python3, else
 * python3). CI has no Python: the suite is skipped there, saying why.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTfjsEngine } from '@normbridge/tfjs';
import { crosscheckFixture } from './fixture-crosscheck.js';
import { crossCheck, formatCrossTable, isUnexplained, type CrossResult } from './translate/index.js';
import { listFixtureDirs, loadFixture } from './fixture-load.js';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'generators', 'capture_torch.py');

function findTorchPython(): { python?: string; reason: string } {
  // NORMBRIDGE_TORCH_PYTHON, when set, is the only candidate (set it to a missing path to force the skip).
  const override = process.env['NORMBRIDGE_TORCH_PYTHON'];
  const candidates = override ? [override] : ['/usr/bin/python3', 'python3'];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, reason: `torch ${r.stdout.trim()} via ${python}` };
    tried.push(`${python}: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}`);
  }
  return { reason: `no Python with torch (tried ${tried.join('; ')})` };
}

const { python, reason } = findTorchPython();
if (!python) console.warn(`[fixture-capture-torch] skipped: ${reason}`);

const MODEL = `
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.act = nn.ReLU(inplace=True)          # in-place op right after a BatchNorm
        self.shared = nn.BatchNorm2d(4, momentum=None)
        self.head = nn.Linear(4 * 5 * 5, 6)
        self.out_bn = nn.BatchNorm1d(6, affine=False, eps=1e-3)

    def forward(self, x):
        h = self.act(self.bn1(self.conv(x)))
        h = h + self.shared(h)                    # residual: the BN input also feeds the sum
        h = self.shared(h)                        # one layer called twice per step
        return self.out_bn(self.head(h.flatten(1)))

def build():
    torch.manual_seed(0)
    return Net()
`;

describe.skipIf(!python)(`capture_torch.py (${reason})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'nb-capture-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'model.py'), MODEL);

  function run(args: string[], cwd = dir): void {
    const r = spawnSync(python!, args, { cwd, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  }

  it('writes one valid fixture per BatchNorm layer that the reference reproduces', async () => {
    run([SCRIPT, '--model', 'model.py:build', '--input-shape', '4,3,5,5', '--train-steps', '2', '--eval-steps', '1', '--channels-last', '--out', 'cli']);
    const dirs = await listFixtureDirs(join(dir, 'cli'));
    expect(dirs).toEqual(['torch/bn1', 'torch/out_bn', 'torch/shared']);
    for (const d of dirs) {
      const f = await loadFixture(join(dir, 'cli', d));
      expect(f.manifest.producer.kind).toBe('real-framework');
      const train = f.manifest.steps.filter((s) => s.mode === 'train');
      expect(train.every((s) => s.gradients?.input !== undefined)).toBe(true);
      const { mismatches } = crosscheckFixture(f);
      expect(mismatches, d).toEqual([]);
    }
    const shared = await loadFixture(join(dir, 'cli', 'torch/shared'));
    expect(shared.manifest.steps.map((s) => s.mode)).toEqual(['train', 'train', 'train', 'train', 'eval', 'eval']);
    expect(shared.manifest.layer.args['momentum']).toBeNull();
    expect(shared.manifest.memoryFormat).toBe('channels_last');
    const outBn = await loadFixture(join(dir, 'cli', 'torch/out_bn'));
    expect(outBn.manifest.layout).toBe('NC');
    expect(Object.keys(outBn.manifest.steps[0]!.gradients!)).toEqual(['input']);
  });

  it('ported to Flax, MLX and Keras (`--as`): one row per layer and framework, every difference explained by a named convention', async () => {
    const engine = await createTfjsEngine('cpu');
    const results: CrossResult[] = [];
    for (const d of await listFixtureDirs(join(dir, 'cli'))) {
      const f = await loadFixture(join(dir, 'cli', d));
      for (const target of ['flax-linen', 'mlx', 'keras'] as const) results.push(await crossCheck(f, target, engine));
    }
    const table = formatCrossTable(results);
    expect(results.map((r) => `${r.case} ${r.target}`)).toEqual(
      ['bn1', 'out_bn', 'shared'].flatMap((l) => ['flax-linen', 'mlx', 'keras'].map((t) => `torch/${l} ${t}`)),
    );
    expect(results.filter((r) => r.status === 'n/a'), table).toEqual([]);
    expect(results.filter(isUnexplained), table).toEqual([]);
    // PyTorch's unbiased running variance, as Flax's and Keras' biased one.
    const bn1 = results.find((r) => r.case === 'torch/bn1' && r.target === 'keras')!;
    expect(bn1.status).toBe('differs');
    expect(bn1.conventions.some((c) => c.startsWith('runningVarianceEstimator'))).toBe(true);
    // The cumulative average (momentum=None), measured on the nearest momentum, in every target.
    for (const r of results.filter((x) => x.case === 'torch/shared')) {
      expect(r.status).toBe('cannot-express');
      expect(r.nearest).toMatch(/^momentum 1 for the cumulative average/);
      expect(r.fields.find((f) => f.field === 'running_mean')!.ok).toBe(false);
      expect(r.conventions.some((c) => c.startsWith('runningAverage: {"kind":"cumulative"}'))).toBe(true);
    }
    expect(table).toMatch(/0 unexplained difference\(s\)\./);
  });

  it('records stateBefore when an optimiser changes the weights between steps', async () => {
    writeFileSync(
      join(dir, 'with_optimiser.py'),
      [
        'import sys, torch',
        `sys.path.insert(0, ${JSON.stringify(dirname(SCRIPT))})`,
        'from capture_torch import capture',
        'from model import build',
        'model = build()',
        'opt = torch.optim.SGD(model.parameters(), lr=0.1)',
        'g = torch.Generator().manual_seed(1)',
        'xs = [torch.randn(4, 3, 5, 5, generator=g) for _ in range(3)]',
        "capture(model, xs[:2], xs[2:], 'opt', between_steps=lambda k: opt.step())",
      ].join('\n'),
    );
    run(['with_optimiser.py']);
    const f = await loadFixture(join(dir, 'opt', 'torch', 'bn1'));
    expect(f.manifest.steps[0]!.stateBefore).toBeUndefined();
    expect(f.manifest.steps[1]!.stateBefore).toBeDefined();
    expect(crosscheckFixture(f).mismatches).toEqual([]);
  });
});
