/**
 * `import '@normbridge/tfjs/webgpu'` registers tfjs's WebGPU backend with a static import that
 * any bundler resolves; then `createTfjsEngine('webgpu')` starts it. Needs the optional peer
 * `@tensorflow/tfjs-backend-webgpu`.
 */
import '@tensorflow/tfjs-backend-webgpu';
