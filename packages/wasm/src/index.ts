export { createWasmEngine, type WasmEngine, type WasmEngineOptions } from './engine.js';
export { WasmTensor } from './tensor.js';
export { WasmMemoryError } from './heap.js';
