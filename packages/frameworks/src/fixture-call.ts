/**
 * A fixture step's `call` (the framework's own call arguments, fixtures/README.md) as the
 * `call` argument of a profile's `specFromArgs`: what each framework's call vocabulary means
 * for the spec, so that every reader of fixtures maps it the same way.
 */
import type { FrameworkId } from './profile.js';

export interface FixtureStepCall {
  /** The step's `call` object, as recorded. */
  readonly call: Readonly<Record<string, unknown>>;
  /** Whether the step passes a mask. */
  readonly masked: boolean;
  /** The rank of the step's input; without it negative feature axes stay negative (the spec resolves them). */
  readonly rank?: number | undefined;
}

export function fixtureCall(framework: FrameworkId, step: FixtureStepCall): Readonly<Record<string, unknown>> {
  switch (framework) {
    case 'torch':
      return { set_attributes: step.call['set_attributes'] };
    case 'flax-linen':
    case 'flax-nnx':
    case 'flax-legacy':
      // linen `Module.init` computes batch statistics but writes no running average.
      return { rank: step.rank, masked: step.masked, updating: step.call['method'] !== 'init' };
    case 'keras':
    case 'tfjs-layers':
      return { masked: step.masked };
    case 'onnx':
      // The fixture records the decimals the node was given; ONNX Runtime ran their float32 values.
      return { float32Attributes: true };
    case 'mlx':
      return {};
  }
}
