/**
 * What every engine call does before running: core's shape and state checks (once), the dtype,
 * the graph choice, the feeds and the session-cache key.
 */
import {
  checkMaskShape,
  checkStateShapes,
  checkValuesPerChannel,
  requiredStateKeys,
  resolveLayout,
  usesBatchStatistics,
  type BatchNormSpec,
  type BatchNormState,
  type Layout,
  type Mode,
  type StateTensorKey,
  type StepOptions,
} from '@normbridge/core';
import type { Tensor } from 'onnxruntime-node';
import type { LoadedBackend } from '../backends.js';
import { NAMES, STATE_NAMES, type FedValue, type StateSources } from '../graph/io.js';
import { chooseGraph, type GraphChoice, type StepOp } from '../graph/plan.js';
import { graphKey } from './graph-key.js';
import { adopt, checkStateType, computeDtype, elemTypeOfTensor, type FloatType } from './tensors.js';

export interface Call {
  readonly layout: Layout;
  readonly dtype: FloatType;
  readonly choice: GraphChoice;
  /** Everything graph construction needs that the call decides. */
  readonly graph: {
    readonly spec: BatchNormSpec;
    readonly layout: Layout;
    readonly replicated: boolean;
    readonly dtype: FloatType;
    readonly kind: GraphChoice['kind'];
    readonly x: FedValue;
    readonly state: StateSources;
    readonly mask: (FedValue & { readonly shape: readonly number[] }) | undefined;
  };
  readonly feeds: Record<string, Tensor>;
  /** The session-cache key. */
  readonly key: string;
}

export interface CallContext {
  readonly ort: LoadedBackend;
  readonly primitiveOnly: boolean;
}

/** `dy` is given for vjp calls only. */
export function prepareCall(
  ctx: CallContext,
  spec: BatchNormSpec,
  op: StepOp,
  mode: Mode,
  state: BatchNormState<Tensor>,
  x: Tensor,
  options: StepOptions<Tensor>,
  dy?: Tensor,
): Call {
  const layout = resolveLayout(spec, x.dims, options.replicas);
  checkValuesPerChannel(spec, layout, mode);
  checkStateShapes(spec, layout, mode, { scale: dims(state.scale), bias: dims(state.bias), runningMean: dims(state.runningMean), runningVar: dims(state.runningVar) });
  const dtype = computeDtype(x);
  const batch = usesBatchStatistics(spec, mode);
  const elemTypes: Record<string, number> = { x: elemTypeOfTensor(x) };
  const feeds: Record<string, Tensor> = { [NAMES.x]: adopt(ctx.ort, x) };
  if (dy) {
    elemTypes.dy = elemTypeOfTensor(dy);
    feeds[NAMES.dy] = adopt(ctx.ort, dy);
  }
  const sources: StateSources = {};
  for (const key of requiredStateKeys(spec, mode)) {
    if (op === 'vjp' && !vjpReads(spec, mode, key)) continue;
    const t = state[key]!;
    elemTypes[key] = checkStateType(key, t);
    sources[key] = { kind: 'input', elemType: elemTypes[key]! };
    feeds[STATE_NAMES[key]] = adopt(ctx.ort, t);
  }
  // A mask only matters where batch statistics are computed; it is checked either way.
  let mask: Call['graph']['mask'];
  if (options.mask) {
    checkMaskShape(spec, x.dims, options.mask.dims);
    if (batch) {
      mask = { kind: 'input', elemType: elemTypeOfTensor(options.mask), shape: options.mask.dims };
      elemTypes.mask = mask.elemType;
      feeds[NAMES.mask] = adopt(ctx.ort, options.mask);
    }
  }
  const replicated = options.replicas !== undefined;
  const choice = chooseGraph(spec, op, mode, { dtype, masked: mask !== undefined, replicated: replicated && batch, primitiveOnly: ctx.primitiveOnly, trainingNode: ctx.ort.trainingNode });
  if (choice.kind === 'batchnorm-node' && batch) {
    // Fresh buffers on every call: ORT writes the batch statistics into them (see graph/step.ts).
    const seed = () => new ctx.ort.Tensor(dtype, dtype === 'float64' ? new Float64Array(layout.channels) : new Float32Array(layout.channels), [layout.channels]);
    feeds[NAMES.meanSeed] = seed();
    feeds[NAMES.varSeed] = seed();
  }
  const key = graphKey({ op, mode, spec, layout, replicated, kind: choice.kind, dtype, elemTypes, maskShape: mask?.shape });
  const graph = { spec, layout, replicated, dtype, kind: choice.kind, x: { kind: 'input', elemType: elemTypes.x! }, state: sources, mask } as const;
  return { layout, dtype, choice, graph, feeds, key };
}

/** The backward graph reads scale, and the running statistics only where it normalises with them. */
function vjpReads(spec: BatchNormSpec, mode: Mode, key: StateTensorKey): boolean {
  if (key === 'scale') return true;
  if (key === 'bias') return false;
  return !usesBatchStatistics(spec, mode);
}

function dims(t: Tensor | undefined): { shape: readonly number[] } | undefined {
  return t ? { shape: t.dims } : undefined;
}
