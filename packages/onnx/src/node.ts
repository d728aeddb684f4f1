/**
 * `@normbridge/onnx/node`: the package's Node-only part. Importing it hands onnxruntime-node
 * (an optional peer dependency) to the `node` and `node-webgpu` backends with a static
 * import, which Node bundlers follow; the main entry otherwise loads it by name in Node.
 */
import * as ort from 'onnxruntime-node';
import { provideOnnxruntimeNode } from './backends.js';

provideOnnxruntimeNode(ort);

export * from './index.js';
