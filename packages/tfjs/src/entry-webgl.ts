/**
 * `import '@normbridge/tfjs/webgl'` registers tfjs's WebGL backend with a static import that
 * any bundler resolves; then `createTfjsEngine('webgl')` starts it. Needs the optional peer
 * `@tensorflow/tfjs-backend-webgl`.
 */
import '@tensorflow/tfjs-backend-webgl';
