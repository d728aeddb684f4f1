/**
 * A small ONNX graph builder: values are named by the builder, constants are deduplicated, and
 * the model targets opset 15 (BatchNormalization-15, ReduceSum with an `axes` input).
 */
import type { HostTensor } from '@normbridge/core';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { create, encode } from './runtime.js';
import { elemTypeOf, floatTensorProto, int64TensorProto } from './tensor.js';

export const OPSET = 15;
/** IR version 8 is the one that goes with opset 15. */
export const IR_VERSION = 8n;

export type AttrValue = number | readonly number[] | { readonly float: number } | string;

export interface BuiltModel {
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export function valueInfo(name: string, elemType: number, shape?: readonly number[]): ValueInfoProto {
  const tensorType = create(TypeProto_TensorSchema, {
    elemType,
    ...(shape
      ? {
          shape: create(TensorShapeProtoSchema, {
            dim: shape.map((d) => create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(d) } })),
          }),
        }
      : {}),
  });
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } }) });
}

/** Integers become INT/INTS attributes; `{ float }` and non-integers FLOAT; strings STRING. */
export function attribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'string') {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(value) });
  }
  if (typeof value === 'object' && 'float' in value) {
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value.float });
  }
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) })
      : create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value });
  }
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: value.map((v) => BigInt(v)) });
}

export function node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}, name = ''): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: [...inputs],
    output: [...outputs],
    name,
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
  });
}

export class GraphBuilder {
  readonly #nodes: NodeProto[] = [];
  readonly #inputs: ValueInfoProto[] = [];
  readonly #outputs: ValueInfoProto[] = [];
  readonly #initializers: TensorProto[] = [];
  readonly #constants = new Map<string, string>();
  #next = 0;

  /** `dtype` is the compute dtype: scalars and float constants are written in it. */
  constructor(readonly dtype: 'float32' | 'float64') {}

  get elemType(): number {
    return elemTypeOf(this.dtype);
  }

  input(name: string, elemType: number, shape: readonly number[]): string {
    this.#inputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  /** A named float initializer in the compute dtype (or `dtype`); `asInput` also lists it as an overridable graph input. */
  initializer(name: string, t: HostTensor, options: { asInput?: boolean; dtype?: 'float32' | 'float64' } = {}): string {
    const dtype = options.dtype ?? this.dtype;
    this.#initializers.push(floatTensorProto(name, t, dtype));
    if (options.asInput) this.#inputs.push(valueInfo(name, elemTypeOf(dtype), t.shape));
    return name;
  }

  /**
   * A float constant of the compute dtype, shared between uses with the same `tag`. (Feed distinct
   * tags where one node reads two equal constants: ORT may let an output overwrite an input buffer.)
   */
  constant(values: readonly number[], shape: readonly number[] = [], tag = ''): string {
    const key = `f${tag}:${shape.join('x')}:${values.join(',')}`;
    return this.#memo(key, (name) => floatTensorProto(name, { shape, data: Float64Array.from(values), dtype: 'float64' }, this.dtype));
  }

  scalar(value: number): string {
    return this.constant([value]);
  }

  /** An int64 1-D constant (shapes, axes). */
  ints(values: readonly number[]): string {
    return this.#memo(`i:${values.join(',')}`, (name) => int64TensorProto(name, values));
  }

  /** Adds a node and returns its single output. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputName?: string): string {
    const out = outputName ?? this.#fresh(opType);
    this.#nodes.push(node(opType, inputs, [out], attrs, `${opType}_${this.#nodes.length}`));
    return out;
  }

  /** Adds a node with several outputs. */
  opN(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}): readonly string[] {
    this.#nodes.push(node(opType, inputs, outputs, attrs, `${opType}_${this.#nodes.length}`));
    return outputs;
  }

  /**
   * Declares a graph output. A value made by a node of this graph is renamed in place (so an
   * exported model reads naturally); anything else goes through Identity.
   */
  output(name: string, value: string, elemType: number = this.elemType, shape?: readonly number[]): void {
    const producer = this.#nodes.find((n) => n.output.includes(value));
    const isOutput = this.#outputs.some((o) => o.name === value);
    if (value !== name && producer && !isOutput) {
      producer.output = producer.output.map((o) => (o === value ? name : o));
      for (const n of this.#nodes) n.input = n.input.map((i) => (i === value ? name : i));
    } else if (value !== name) {
      this.op('Identity', [value], {}, name);
    }
    this.#outputs.push(valueInfo(name, elemType, shape));
  }

  build(graphName = 'normbridge'): BuiltModel {
    const graph = create(GraphProtoSchema, {
      name: graphName,
      node: this.#nodes,
      input: this.#inputs,
      output: this.#outputs,
      initializer: this.#initializers,
    });
    const model = create(ModelProtoSchema, {
      irVersion: IR_VERSION,
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(OPSET) })],
      producerName: 'normbridge',
      graph,
    });
    return {
      bytes: encode(ModelProtoSchema, model),
      inputs: this.#inputs.map((v) => v.name),
      outputs: this.#outputs.map((v) => v.name),
    };
  }

  #fresh(hint: string): string {
    return `${hint.toLowerCase()}_${this.#next++}`;
  }

  #memo(key: string, make: (name: string) => TensorProto): string {
    let name = this.#constants.get(key);
    if (name === undefined) {
      name = this.#fresh('const');
      this.#initializers.push(make(name));
      this.#constants.set(key, name);
    }
    return name;
  }
}
