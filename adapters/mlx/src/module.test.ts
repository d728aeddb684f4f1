import { describe, expect, it } from 'vitest';
import { BatchNorm, MlxError, Module, treeFlatten } from './index.js';
import { host } from '@normbridge/testing';

function model() {
  // class Model(nn.Module): self.bn = BatchNorm(3); self.layers = [BatchNorm(2), BatchNorm(2, affine=False)]
  return new Module({ bn: new BatchNorm(3), layers: [new BatchNorm(2), new BatchNorm(2, { affine: false })] });
}

const names = (tree: Parameters<typeof treeFlatten>[0]) => treeFlatten(tree).map(([k]) => k);

describe('Module container', () => {
  it('parameters() are nested by child name and list index; tree_flatten gives dotted names', () => {
    const m = model();
    expect(names(m.parameters())).toEqual([
      'bn.weight',
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'layers.0.weight',
      'layers.0.bias',
      'layers.0.running_mean',
      'layers.0.running_var',
      'layers.1.running_mean',
      'layers.1.running_var',
    ]);
    expect(names(m.trainableParameters())).toEqual(['bn.weight', 'bn.bias', 'layers.0.weight', 'layers.0.bias']);
    expect(m.saveWeights().map(([k]) => k)).toEqual(names(m.parameters()));
  });

  it('train()/eval() reach every sub-module', () => {
    const m = model();
    m.eval();
    expect(m.modules().map((x) => x.training)).toEqual([false, false, false, false]);
    m.train();
    expect(m.modules().every((x) => x.training)).toBe(true);
    expect(m.namedModules().map(([k]) => k)).toEqual(['', 'layers.1', 'layers.0', 'bn']);
  });

  it("reproduces MLX's parent-unfreeze trap: model.unfreeze() makes running stats trainable", () => {
    const m = model();
    m.freeze();
    expect(names(m.trainableParameters())).toEqual([]);
    m.unfreeze();
    // The parent clears every sub-module's frozen set without calling BatchNorm.unfreeze.
    expect(names(m.trainableParameters())).toEqual(names(m.parameters()));
    // Calling unfreeze on the layer itself re-freezes its statistics.
    (m.child('bn') as BatchNorm).unfreeze();
    expect(names(m.trainableParameters())).not.toContain('bn.running_mean');
    expect(names(m.trainableParameters())).toContain('layers.0.running_var');
  });

  it('freezing a child by name on the parent hides its subtree from trainableParameters()', () => {
    const m = model();
    m.freeze({ keys: 'bn', recurse: false, strict: true });
    expect(names(m.trainableParameters())).toEqual(['layers.0.weight', 'layers.0.bias']);
    expect(() => m.freeze({ keys: 'nope', strict: true })).toThrow(MlxError);
  });

  it('loadWeights with dotted names, strict and atomic across sub-modules', () => {
    const m = model();
    const saved = m.saveWeights();
    const edited = saved.map(([k, t]): [string, typeof t] => [k, k === 'layers.0.running_var' ? host([2], [5, 6]) : t]);
    m.loadWeights(edited);
    expect(Array.from(Object.fromEntries(m.saveWeights())['layers.0.running_var']!.data)).toEqual([5, 6]);
    // A failure in a later sub-module leaves the earlier ones untouched.
    const bad = saved.map(([k, t]): [string, typeof t] => [
      k,
      k === 'bn.weight' ? host([3], [7, 7, 7]) : k === 'layers.1.running_var' ? host([2], [1, -1]) : t,
    ]);
    expect(() => m.loadWeights(bad)).toThrow(/negative variance/);
    expect(Array.from(Object.fromEntries(m.saveWeights())['bn.weight']!.data)).toEqual([1, 1, 1]);
    expect(() => m.loadWeights(saved.slice(1))).toThrow('Missing 1 parameters: \nbn.weight.');
    m.loadWeights([['layers.1.running_mean', host([2], [3, 4])]], false);
    expect(Array.from(Object.fromEntries(m.saveWeights())['layers.1.running_mean']!.data)).toEqual([3, 4]);
  });

  it('rejects private member names', () => {
    expect(() => new Module({ _hidden: new BatchNorm(2) })).toThrow(MlxError);
  });
});
