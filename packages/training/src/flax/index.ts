export { valueAndGrad, keepAll } from './grad.js';
export { adam, sgd, applyUpdates, type AdamState, type SgdState, type GradientTransformation } from './optim.js';
export { softmaxCrossEntropyWithIntegerLabels, sigmoidBinaryCrossEntropy } from './losses.js';
export { TrainState, type ApplyFn } from './train-state.js';
export { MLP, trainStep, evalStep, type Batch, type Metrics, type MLPFields, type StepOptions } from './guide.js';
export { runGuideExample, type GuideExampleResult } from './guide-example.js';
/** The model code of the Flax guides: `linen.Dense`, `nnx.Linear`, legacy `nn.Dense`, `relu`, random initializers (TF.js). */
export { linen, nnx, nn, initializers, denseForward, relu } from './layers/index.js';
