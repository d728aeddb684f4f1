export * from './compare.js';
export * from './random.js';
export * from './tensors.js';
export * from './doc-snippets.js';
export * from './safetensors-bytes.js';
export * from './property-cases.js';
export * from './property-tolerance.js';
export * from './engine-properties.js';
