export * from './fixture-schema.js';
export * from './fixture-load.js';
export * from './compare.js';
export * from './results.js';
export * from './engines.js';
export * from './runner.js';
export * from './matrix.js';
export { bindingFor, registerBinding } from './bindings/index.js';
export { NotApplicable, type BoundCase, type FrameworkBinding, type StepOutcome } from './bindings/types.js';
