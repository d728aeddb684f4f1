/**
 * The fixture format, `normbridge-fixture/1`: one JSON manifest plus one safetensors file per
 * case, written in the framework's own vocabulary (its class name, constructor arguments,
 * variable names and call arguments), so that a fixture exported from a user's own model fits
 * without translation. The format is documented in `fixtures/README.md`; this schema is its
 * executable form.
 */
import { z } from 'zod';
import { DTYPES, NormbridgeError, describeValue, valueAt } from '@normbridge/core';
import { FRAMEWORK_IDS, PROFILES, variableNames, type FrameworkId } from '@normbridge/frameworks';

export const FIXTURE_FORMAT = 'normbridge-fixture/1' as const;

/** The frameworks a fixture may name: one per profile in `@normbridge/frameworks`. */
export const FRAMEWORK_NAMES = FRAMEWORK_IDS;
export type FrameworkName = FrameworkId;

/**
 * How the expected values were made (fixtures/README.md): by the framework itself, from a test
 * vector the framework publishes, by ANOTHER framework (`cross-framework`: e.g. MLX's test
 * asserting MLX matches torch; `producer.name` names the framework that computed them), or by an
 * oracle that is NOT the framework: normbridge's float64 reference, or (`float32-oracle`) the
 * framework's formula evaluated in IEEE float32, for cases that are about float32 rounding.
 * Only `real-framework` and `published-vector` count as evidence of what the framework does.
 */
export const PRODUCER_KINDS = ['real-framework', 'published-vector', 'cross-framework', 'float64-oracle', 'float32-oracle'] as const;
export type ProducerKind = (typeof PRODUCER_KINDS)[number];

/**
 * Logical layout of every step's input. Letters: N batch, C channel, L/D/H/W spatial. `N` alone
 * is ONNX's 1-D input (one channel). `NC*` and `N*C` do not fix the rank: the channel is axis 1
 * (resp. the last axis) of an input of any rank >= 2, so one layer can be fed (N, C) then
 * (N, C, L) as PyTorch's BatchNorm1d allows. `custom` means the feature axes are listed in
 * `featureAxes` (Flax multi-axis features). Stored tensors are always logical row-major; a
 * PyTorch channels_last input is `NCHW` plus `memoryFormat: 'channels_last'`.
 */
export const LAYOUTS = ['N', 'NC', 'NCL', 'NLC', 'NCHW', 'NHWC', 'NCDHW', 'NDHWC', 'NC*', 'N*C', 'custom'] as const;
export type FixtureLayout = (typeof LAYOUTS)[number];

/**
 * Variable names each framework uses for one BatchNorm layer, relative to that layer, from its
 * profile. Parameters (those that can have gradients) come first.
 */
export const FRAMEWORK_VARIABLES: Readonly<Record<FrameworkName, { readonly params: readonly string[]; readonly stats: readonly string[] }>> = Object.fromEntries(
  FRAMEWORK_IDS.map((id) => [id, variableNames(PROFILES[id])]),
) as Record<FrameworkName, { readonly params: readonly string[]; readonly stats: readonly string[] }>;

/** Spelling of constructor argument names: snake_case for Python frameworks and ONNX, camelCase for TF.js. */
const ARGUMENT_SPELLING = { snake_case: /^[a-z][a-z0-9_]*$/, camelCase: /^[a-z][a-zA-Z0-9]*$/ } as const;

/** Name of a tensor inside the case's safetensors file. */
const TensorName = z.string().min(1).max(256);

/** Framework variable name → tensor name. */
const StateMapSchema = z.record(z.string().min(1), TensorName);

const JsonObject = z.record(z.string(), z.json());

export const FrameworkSchema = z
  .object({
    name: z.enum(FRAMEWORK_NAMES),
    /** The framework's version string as it reports it (`torch.__version__`, …); for ONNX the opset spelled `opset-15`. */
    version: z.string().min(1),
    /** ONNX only: the `ai.onnx` opset of the model. */
    opset: z.number().int().positive().optional(),
    /** Keras 3 only: the backend that ran it (`KERAS_BACKEND`). */
    backend: z.enum(['tensorflow', 'jax', 'torch', 'numpy']).optional(),
  })
  .strict();

export const ProducerSchema = z
  .object({
    /** What computed the expected values: `torch`, `onnxruntime-node`, `mlx test suite`, `@normbridge/core reference`, … */
    name: z.string().min(1),
    version: z.string().min(1),
    kind: z.enum(PRODUCER_KINDS),
    /** Repository path of the script that wrote the fixture. */
    generator: z.string().min(1),
    notes: z.string(),
    /** Other versions that matter (python, numpy, node, platform). */
    environment: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const LayerSchema = z
  .object({
    /** The framework's class (or ONNX operator) name, e.g. `BatchNorm2d`, `BatchNormalization`. */
    class: z.string().min(1),
    /** Constructor arguments (ONNX: node attributes) with the framework's own names and values. */
    args: JsonObject,
  })
  .strict();

export const ExpectedErrorSchema = z
  .object({
    /** Exception class name as the framework raises it (`ValueError`, `TypeError`, `Error`, …). */
    type: z.string().min(1),
    /** The full message, verbatim. */
    message: z.string(),
  })
  .strict();

export const GradientsSchema = z.object({ input: TensorName }).catchall(TensorName);

export const StepSchema = z
  .object({
    mode: z.enum(['train', 'eval']),
    /**
     * How the framework was put into that mode and called, in its own terms:
     * `{"training": true}` (torch `.train()`, MLX, TF.js), `{"use_running_average": false,
     * "mutable": ["batch_stats"]}` (linen), `{"training_mode": 1}` (ONNX), …
     */
    call: JsonObject,
    input: TensorName,
    /** Flax `mask`: positions that count towards the statistics. */
    mask: TensorName.optional(),
    /**
     * State at the start of this step when it is not the previous step's `state` (or, for the
     * first step, `initialState`), e.g. after an optimiser update between captured steps.
     */
    stateBefore: StateMapSchema.optional(),
    /**
     * Expected output. A step records an `output`, or an `error`, or neither when it is a whole
     * training step whose result is a `loss` and the `state` (Keras `train_on_batch` / `fit`).
     */
    output: TensorName.optional(),
    /**
     * Training target of a loss step (`train_on_batch(x, y)`: `y`), shaped like the output.
     * The loss and optimizer are named in `call` (`loss`, `optimizer`).
     */
    target: TensorName.optional(),
    /** The scalar loss the framework reported for the step (shape []). */
    loss: TensorName.optional(),
    /** Expected state after the step: every variable, by framework name. Optional only for errors. */
    state: StateMapSchema.optional(),
    cotangent: TensorName.optional(),
    /** Vector-Jacobian product for `cotangent`: `input`, and parameters by framework name. */
    gradients: GradientsSchema.optional(),
    /** Expected failure instead of an output. */
    error: ExpectedErrorSchema.optional(),
    notes: z.string().optional(),
  })
  .strict();

const Tol = z.number().finite().nonnegative();

/** A tolerance for one kind of value; `reason` when it differs from the fixture's own. */
export const KindToleranceSchema = z.object({ atol: Tol, rtol: Tol, reason: z.string().min(1).optional() }).strict();

/** Kinds of compared values that can each have their own tolerance. */
export const TOLERANCE_KINDS = ['output', 'state', 'gradients', 'loss'] as const;
export type ToleranceKind = (typeof TOLERANCE_KINDS)[number];

export const ToleranceSchema = z
  .object({
    /** Elementwise check: |actual - expected| <= atol + rtol * |expected|; for every kind not given below. */
    atol: Tol,
    rtol: Tol,
    reason: z.string().min(1),
    /** Outputs, when their precision differs from the default (e.g. a capture's printed precision). */
    output: KindToleranceSchema.optional(),
    /** Parameters and statistics after each step (a variance of 1e-4 needs a tighter atol than outputs). */
    state: KindToleranceSchema.optional(),
    /** Input and parameter gradients. */
    gradients: KindToleranceSchema.optional(),
    /** Recorded losses. */
    loss: KindToleranceSchema.optional(),
  })
  .strict();

/** The tolerance a fixture sets for one kind of value: its per-kind entry, else the default. */
export function toleranceOfKind(t: z.infer<typeof ToleranceSchema>, kind: ToleranceKind): { atol: number; rtol: number } {
  const own = t[kind];
  return own ? { atol: own.atol, rtol: own.rtol } : { atol: t.atol, rtol: t.rtol };
}

/**
 * A framework bug the fixture records verbatim and normbridge deliberately does not reproduce.
 * Its presence (not a tag) changes what is compared: the adapter is held to the float64
 * reference, and the recording must still show the bug.
 */
export const FrameworkBugSchema = z
  .object({
    /** What the framework gets wrong, with an issue link when there is one. */
    description: z.string().min(1),
    /** What the replay is compared with instead of the recording. */
    compareWith: z.literal('float64-reference'),
  })
  .strict();

/** A case id, unique within its framework folder; the folder name. */
export const CaseIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lower-case letters, digits, "_", "-", "." only');

/** The safetensors file beside a manifest. */
export const TensorsFileSchema = z.string().regex(/^[^/\\]+\.safetensors$/, 'a file name ending in .safetensors, beside the manifest');

const ManifestObject = z
  .object({
    format: z.literal(FIXTURE_FORMAT),
    /** Case id, unique within its framework folder; the folder name. */
    case: CaseIdSchema,
    description: z.string().min(1),
    framework: FrameworkSchema,
    producer: ProducerSchema,
    layer: LayerSchema,
    /** The dtype of the inputs (and, in the framework, of the layer's computation). */
    dtype: z.enum(DTYPES),
    layout: z.enum(LAYOUTS),
    /** Non-negative feature axes of the input; required when `layout` is `custom`. */
    featureAxes: z.array(z.number().int().nonnegative()).min(1).optional(),
    /** PyTorch memory format the input had in the framework (values are stored logically). */
    memoryFormat: z.enum(['contiguous', 'channels_last', 'channels_last_3d']).optional(),
    /** The safetensors file beside the manifest. */
    tensors: TensorsFileSchema,
    /** State before the first step: framework variable name → tensor name. */
    initialState: StateMapSchema,
    steps: z.array(StepSchema).min(1),
    tolerance: ToleranceSchema,
    /** Set when the recording shows a framework bug that normbridge does not reproduce (see {@link FrameworkBugSchema}). */
    frameworkBug: FrameworkBugSchema.optional(),
    /** Free labels (`framework-bug`, `large-mean`, …); they do not change what is compared, except `float32-rounding`. */
    tags: z.array(z.string().min(1)).optional(),
  })
  .strict();

function checkStateMap(
  ctx: z.core.$RefinementCtx,
  framework: FrameworkName,
  path: (string | number)[],
  map: Record<string, string>,
  expectedKeys: readonly string[] | undefined,
): void {
  const { params, stats } = FRAMEWORK_VARIABLES[framework];
  const allowed = new Set([...params, ...stats]);
  for (const key of Object.keys(map)) {
    if (!allowed.has(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, key],
        message: `"${key}" is not a ${framework} BatchNorm variable (expected one of ${[...allowed].join(', ')})`,
      });
    }
  }
  if (expectedKeys) {
    const have = new Set(Object.keys(map));
    for (const key of expectedKeys) {
      if (!have.has(key)) {
        ctx.addIssue({ code: 'custom', path: [...path, key], message: `missing: every variable of initialState must be listed` });
      }
    }
    for (const key of have) {
      if (!expectedKeys.includes(key) && allowed.has(key)) {
        ctx.addIssue({ code: 'custom', path: [...path, key], message: `not in initialState` });
      }
    }
  }
}

export const FixtureManifestSchema = ManifestObject.superRefine((m, ctx) => {
  const fw = m.framework.name;
  if (fw === 'onnx' && m.framework.opset === undefined) {
    ctx.addIssue({ code: 'custom', path: ['framework', 'opset'], message: 'required for onnx fixtures' });
  }
  if (m.layout === 'custom' && m.featureAxes === undefined) {
    ctx.addIssue({ code: 'custom', path: ['featureAxes'], message: 'required when layout is "custom"' });
  }
  for (const key of Object.keys(m.layer.args)) {
    const spelling = PROFILES[fw].argumentCase;
    if (!ARGUMENT_SPELLING[spelling].test(key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['layer', 'args', key],
        message: `${PROFILES[fw].title} arguments are ${spelling}`,
      });
    }
  }
  if (m.framework.backend !== undefined && fw !== 'keras') {
    ctx.addIssue({ code: 'custom', path: ['framework', 'backend'], message: 'only Keras 3 fixtures name a backend' });
  }
  if (m.tags?.includes('framework-bug') && m.frameworkBug === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['frameworkBug'],
      message: 'required with the tag "framework-bug": the tag alone no longer changes what is compared; describe the bug here',
    });
  }
  checkStateMap(ctx, fw, ['initialState'], m.initialState, undefined);
  const initialKeys = Object.keys(m.initialState);
  const params = new Set(FRAMEWORK_VARIABLES[fw].params);
  m.steps.forEach((step, i) => {
    const at = (...rest: (string | number)[]) => ['steps', i, ...rest];
    const lossStep = step.output === undefined && step.error === undefined;
    if (step.output !== undefined && step.error !== undefined) {
      ctx.addIssue({ code: 'custom', path: at('output'), message: 'a step has an "output" or an "error", not both' });
    }
    if (lossStep && step.loss === undefined) {
      ctx.addIssue({ code: 'custom', path: at('output'), message: 'one of "output", "error" or "loss" (with "state") is required' });
    }
    if (step.error && (step.loss !== undefined || step.target !== undefined)) {
      ctx.addIssue({ code: 'custom', path: at('loss'), message: 'an error step records no loss or target' });
    }
    if (!step.error && step.state === undefined) {
      ctx.addIssue({ code: 'custom', path: at('state'), message: 'required: the state after the step (every variable)' });
    }
    if (step.state) checkStateMap(ctx, fw, at('state'), step.state, initialKeys);
    if (step.stateBefore) checkStateMap(ctx, fw, at('stateBefore'), step.stateBefore, initialKeys);
    if ((step.cotangent === undefined) !== (step.gradients === undefined)) {
      ctx.addIssue({ code: 'custom', path: at('gradients'), message: '"cotangent" and "gradients" come together' });
    }
    if (lossStep && step.cotangent !== undefined) {
      ctx.addIssue({ code: 'custom', path: at('cotangent'), message: 'a cotangent needs an "output" to apply to' });
    }
    if ((step.target === undefined) !== (step.loss === undefined) && !step.error) {
      ctx.addIssue({ code: 'custom', path: at('target'), message: '"target" and "loss" come together' });
    }
    if (step.error && step.cotangent !== undefined) {
      ctx.addIssue({ code: 'custom', path: at('cotangent'), message: 'an error step has no gradients' });
    }
    if (step.mask !== undefined && !PROFILES[fw].takesMask) {
      ctx.addIssue({ code: 'custom', path: at('mask'), message: `${fw} BatchNorm takes no mask` });
    }
    for (const key of Object.keys(step.gradients ?? {})) {
      if (key === 'input') continue;
      if (!params.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: at('gradients', key),
          message: `not a ${fw} parameter (expected input or one of ${[...params].join(', ')})`,
        });
      } else if (!initialKeys.includes(key)) {
        ctx.addIssue({ code: 'custom', path: at('gradients', key), message: 'a gradient for a parameter the layer does not have' });
      }
    }
  });
});

export type FixtureManifest = z.infer<typeof ManifestObject>;
export type FixtureStep = FixtureManifest['steps'][number];

/** A fixture (manifest, safetensors file or their agreement) is invalid; `field` is the path at fault. */
export class FixtureError extends NormbridgeError {
  readonly field: string;
  readonly file: string | undefined;
  constructor(field: string, reason: string, file?: string) {
    super('fixture', `${file ? `${file}: ` : ''}fixture field "${field}" ${reason}`);
    this.field = field;
    this.file = file;
  }
}

/** Joins a zod issue path (plus the offending key, for unknown keys) into `steps.2.state.running_var`. */
function fieldOf(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]!);
  return path.join('.') || '(manifest)';
}

/**
 * Validates a parsed manifest. Throws {@link FixtureError} naming the first field at fault
 * (and listing the others in the message).
 */
export function parseFixtureManifest(value: unknown, file?: string): FixtureManifest {
  const parsed = FixtureManifestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [first, ...rest] = parsed.error.issues;
  const field = fieldOf(first!);
  const more = rest.length > 0 ? ` (and ${rest.length} more: ${rest.slice(0, 5).map(fieldOf).join(', ')})` : '';
  const got = first!.code === 'invalid_type' || first!.code === 'invalid_value' ? ` (got ${describeValue(valueAt(value, first!.path))})` : '';
  throw new FixtureError(field, `is invalid: ${first!.message}${got}${more}`, file);
}

/** Every tensor name a manifest refers to, with the field that names it. */
export function tensorReferences(m: FixtureManifest): { field: string; name: string }[] {
  const refs: { field: string; name: string }[] = [];
  const addMap = (prefix: string, map: Record<string, string> | undefined) => {
    for (const [k, v] of Object.entries(map ?? {})) refs.push({ field: `${prefix}.${k}`, name: v });
  };
  addMap('initialState', m.initialState);
  m.steps.forEach((s, i) => {
    const p = `steps.${i}`;
    refs.push({ field: `${p}.input`, name: s.input });
    if (s.mask !== undefined) refs.push({ field: `${p}.mask`, name: s.mask });
    if (s.output !== undefined) refs.push({ field: `${p}.output`, name: s.output });
    if (s.target !== undefined) refs.push({ field: `${p}.target`, name: s.target });
    if (s.loss !== undefined) refs.push({ field: `${p}.loss`, name: s.loss });
    if (s.cotangent !== undefined) refs.push({ field: `${p}.cotangent`, name: s.cotangent });
    addMap(`${p}.stateBefore`, s.stateBefore);
    addMap(`${p}.state`, s.state);
    addMap(`${p}.gradients`, s.gradients);
  });
  return refs;
}
