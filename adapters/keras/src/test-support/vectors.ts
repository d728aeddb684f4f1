/** Expected values from docs/semantics.md#worked-example (copied, not derived). */

/** The worked example's input (N=4, C=3). */
export const X_4x3 = [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2];

/** The worked example executed with @tensorflow/tfjs@4.22.0 on the CPU backend (float32 values). */
export const TFJS_10_2 = {
  inferenceBefore: [
    0.9995003938674927, 1.9990007877349854, 2.9985010623931885, 3.9980015754699707, 5.997002124786377, 7.996003150939941, 0,
    -0.9995003938674927, 4.997501850128174, 1.9990007877349854, 1.9990007877349854, 1.9990007877349854,
  ],
  trainOutput: [
    -0.5069766640663147, -0.10049565881490707, -0.6545913219451904, 1.5209300518035889, 1.5074349641799927, 1.5273797512054443,
    -1.1829456090927124, -1.3064435720443726, 0.21819710731506348, 0.16899222135543823, -0.10049565881490707,
    -1.0909855365753174,
  ],
  gamma: [1, 1, 1],
  beta: [0, 0, 0],
  movingMean: [0.017500000074505806, 0.022499999031424522, 0.044999998062849045],
  movingVariance: [1.011875033378601, 1.0518749952316284, 1.0425000190734863],
  /** `trainable: false` + `training: true` in tfjs-layers still moves the mean (6.2). */
  frozenMovingMean: [0.0175, 0.0225, 0.045],
} as const;

/** The worked example's Keras 3 / TF.js row (momentum 0.99, epsilon 1e-3), float64. */
export const ONE_STEP_KERAS = {
  trainY0: [-0.50697669, -0.10049566, -0.65459133],
  movingMean: [0.0175, 0.0225, 0.045],
  movingVariance: [1.011875, 1.051875, 1.0425],
  evalY0: [0.97623558, 1.92720576, 2.89275237],
} as const;
