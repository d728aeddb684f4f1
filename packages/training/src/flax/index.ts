export { valueAndGrad, keepAll } from './grad.js';
export { adam, sgd, applyUpdates, type AdamState, type SgdState, type GradientTransformation } from './optim.js';
export { softmaxCrossEntropyWithIntegerLabels, sigmoidBinaryCrossEntropy } from './losses.js';
export { TrainState, type ApplyFn } from './train-state.js';
export { MLP, trainStep, evalStep, type Batch, type Metrics, type MLPFields, type StepOptions } from './guide.js';
export { runGuideExample, type GuideExampleResult } from './guide-example.js';
