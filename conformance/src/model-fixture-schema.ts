/**
 * Model-level fixtures (`normbridge-fixture/1` with `"kind": "model"`): a whole program around
 * BatchNorm — several layers, a loss, an optimizer — recorded step by step from the real
 * framework, and replayed by the TypeScript port of that program (a model binding, named by
 * `program.name`). fixtures/README.md documents it; this schema is its executable form.
 */
import { z } from 'zod';
import { DTYPES } from '@normbridge/core';
import { CaseIdSchema, FIXTURE_FORMAT, FrameworkSchema, FixtureError, ProducerSchema, TensorsFileSchema, ToleranceSchema } from './fixture-schema.js';

/**
 * The programs normbridge has ports of, with the methods a step may call and the names of
 * their inputs and outputs. A fixture naming anything else is invalid (no binding could
 * replay it).
 */
export const MODEL_PROGRAMS = {
  /** The Flax batch-norm guide: MLP + TrainState(batch_stats) + train_step / eval_step with optax. */
  'flax-guide-train-state': {
    framework: 'flax-linen',
    methods: { train_step: { inputs: ['image', 'label'], outputs: ['loss', 'accuracy', 'logits'] }, eval_step: { inputs: ['image', 'label'], outputs: ['loss', 'accuracy', 'logits'] } },
  },
  /** The NNX write-up's custom `BatchNorm(nnx.Module)`, called directly; `.eval()` / `.train()` in `call.via`. */
  'nnx-writeup-batchnorm': {
    framework: 'flax-nnx',
    methods: { __call__: { inputs: ['x_bhwc'], outputs: ['y'] } },
  },
  /** The `flax.linen.BatchNorm` docstring usage: `BN.init(key, x)`, `BN.apply(vars, x, mutable=['batch_stats'])`, eval apply. */
  'linen-docstring-usage': {
    framework: 'flax-linen',
    methods: { init: { inputs: ['x'], outputs: [] }, apply: { inputs: ['x'], outputs: ['y'] } },
  },
} as const satisfies Record<string, { framework: string; methods: Record<string, { inputs: readonly string[]; outputs: readonly string[] }> }>;
export type ModelProgramName = keyof typeof MODEL_PROGRAMS;

const TensorName = z.string().min(1).max(256);
/** Tree path (`params/Dense_0/kernel`, `opt_state/0/mu/…`, `step`) → tensor name. */
const PathMap = z.record(z.string().regex(/^[A-Za-z0-9_.]+(\/[A-Za-z0-9_.]+)*$/, 'a "/"-joined tree path'), TensorName);

export const ModelStepSchema = z
  .object({
    /** The program's function or method run for this step (`train_step`, `eval_step`, `init`, `apply`, `__call__`). */
    method: z.string().min(1),
    /** Extra arguments or statements, in the framework's terms (`{"mutable": ["batch_stats"]}`, `{"via": "model.eval()"}`). */
    call: z.record(z.string(), z.json()).optional(),
    /** The step's inputs by argument name (`image`, `label`, `x`). Integer tensors allowed (labels). */
    inputs: z.record(z.string().min(1), TensorName),
    /** What the step returned, by name (`loss`, `logits`, `y`); `{}` when it returns only state (`init`). */
    outputs: z.record(z.string().min(1), TensorName),
    /** The program's whole state after the step, every path of `initialState`. */
    state: PathMap,
    notes: z.string().optional(),
  })
  .strict();

export const ProgramSchema = z
  .object({
    name: z.enum(Object.keys(MODEL_PROGRAMS) as [ModelProgramName, ...ModelProgramName[]]),
    /** Where the program comes from (a guide's URL, a docstring). */
    source: z.string().min(1),
    /** The program's settings (head width, optimizer and learning rate, momentum, …). */
    config: z.record(z.string(), z.json()),
  })
  .strict();

const ModelManifestObject = z
  .object({
    format: z.literal(FIXTURE_FORMAT),
    kind: z.literal('model'),
    case: CaseIdSchema,
    description: z.string().min(1),
    framework: FrameworkSchema,
    producer: ProducerSchema,
    program: ProgramSchema,
    dtype: z.enum(DTYPES),
    tensors: TensorsFileSchema,
    /** The program's state before the first step, by tree path. */
    initialState: PathMap,
    steps: z.array(ModelStepSchema).min(1),
    /** `output` for step outputs, `loss` for an output named `loss`, `state` for the state. */
    tolerance: ToleranceSchema,
    tags: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const ModelFixtureManifestSchema = ModelManifestObject.superRefine((m, ctx) => {
  const program = MODEL_PROGRAMS[m.program.name];
  if (m.framework.name !== program.framework) {
    ctx.addIssue({ code: 'custom', path: ['framework', 'name'], message: `program ${m.program.name} is a ${program.framework} program` });
  }
  const keys = Object.keys(m.initialState).sort();
  m.steps.forEach((step, i) => {
    const method = (program.methods as Record<string, { inputs: readonly string[]; outputs: readonly string[] }>)[step.method];
    if (!method) {
      ctx.addIssue({ code: 'custom', path: ['steps', i, 'method'], message: `not a method of ${m.program.name} (${Object.keys(program.methods).join(', ')})` });
      return;
    }
    for (const [field, want] of [['inputs', method.inputs], ['outputs', method.outputs]] as const) {
      const have = Object.keys(step[field]).sort();
      if (have.join() !== [...want].sort().join()) {
        ctx.addIssue({ code: 'custom', path: ['steps', i, field], message: `${step.method} has ${field} ${want.join(', ') || '(none)'}; got ${have.join(', ') || '(none)'}` });
      }
    }
    const stateKeys = Object.keys(step.state).sort();
    const missing = keys.filter((k) => !step.state[k]);
    const extra = stateKeys.filter((k) => !(k in m.initialState));
    if (missing.length || extra.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'state', (missing[0] ?? extra[0])!],
        message: missing.length ? 'missing: every path of initialState must be listed' : 'not in initialState',
      });
    }
  });
});

export type ModelFixtureManifest = z.infer<typeof ModelManifestObject>;
export type ModelFixtureStep = ModelFixtureManifest['steps'][number];

/** Validates a model manifest; throws {@link FixtureError} naming the first field at fault. */
export function parseModelFixtureManifest(value: unknown, file?: string): ModelFixtureManifest {
  const parsed = ModelFixtureManifestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [first, ...rest] = parsed.error.issues;
  const path = first!.path.map(String);
  if (first!.code === 'unrecognized_keys' && first!.keys.length > 0) path.push(first!.keys[0]!);
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : '';
  throw new FixtureError(path.join('.') || '(manifest)', `is invalid: ${first!.message}${more}`, file);
}

/** Every tensor a model manifest names, with its field. */
export function modelTensorReferences(m: ModelFixtureManifest): { field: string; name: string; role: 'input' | 'output' | 'state' }[] {
  const refs: { field: string; name: string; role: 'input' | 'output' | 'state' }[] = [];
  for (const [k, v] of Object.entries(m.initialState)) refs.push({ field: `initialState.${k}`, name: v, role: 'state' });
  m.steps.forEach((s, i) => {
    for (const [k, v] of Object.entries(s.inputs)) refs.push({ field: `steps.${i}.inputs.${k}`, name: v, role: 'input' });
    for (const [k, v] of Object.entries(s.outputs)) refs.push({ field: `steps.${i}.outputs.${k}`, name: v, role: 'output' });
    for (const [k, v] of Object.entries(s.state)) refs.push({ field: `steps.${i}.state.${k}`, name: v, role: 'state' });
  });
  return refs;
}
