/** `flax.linen.Dense`, `relu` on TF.js, on the adapter's linen Module system. */
export * as linen from './linen.js';
/** `nnx.Linear`, `relu` on TF.js, as `nnx.Module`s of the adapter. */
export * as nnx from './nnx.js';
/** Legacy `flax.nn.Dense`, `relu` on TF.js. */
export * as nn from './nn.js';
/** The random initializers (`normal`, `lecunNormal`) and `asTf`. */
export * as initializers from './initializers.js';
export { denseForward, relu } from './dense-forward.js';
