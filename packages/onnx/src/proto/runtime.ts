/**
 * The protobuf runtime for onnx-buf's message schemas: onnx-buf ships only the compiled ONNX
 * schemas; encoding and decoding live in `@bufbuild/protobuf` (pinned to the version onnx-buf
 * was generated with, so both share one module instance).
 */
import { create as createMessage, fromBinary, toBinary } from '@bufbuild/protobuf';
import type * as onnx from 'onnx-buf';

/** Every ONNX message this package builds or reads. */
type OnnxMessage =
  | onnx.ModelProto
  | onnx.GraphProto
  | onnx.NodeProto
  | onnx.AttributeProto
  | onnx.TensorProto
  | onnx.ValueInfoProto
  | onnx.TypeProto
  | onnx.TypeProto_Tensor
  | onnx.TensorShapeProto
  | onnx.TensorShapeProto_Dimension
  | onnx.OperatorSetIdProto;

type TypeName = OnnxMessage['$typeName'];
type MessageOf<N extends TypeName> = Extract<OnnxMessage, { $typeName: N }>;
/** What a generated schema looks like from here: its `typeName` names the message type. */
interface Schema<N extends TypeName> {
  readonly typeName: N;
}
/** Fields a caller may set when creating a message (nested messages are created separately). */
export type Init<M extends OnnxMessage> = Partial<Omit<M, '$typeName' | '$unknown'>>;

interface Codec {
  create(schema: unknown, init?: unknown): unknown;
  toBinary(schema: unknown, message: unknown): Uint8Array;
  fromBinary(schema: unknown, bytes: Uint8Array): unknown;
}

const codec: Codec = { create: createMessage as Codec['create'], toBinary: toBinary as Codec['toBinary'], fromBinary: fromBinary as Codec['fromBinary'] };

/** Creates an ONNX message with defaults for every field not given. */
export function create<N extends TypeName>(schema: Schema<N>, init?: Init<MessageOf<N>>): MessageOf<N> {
  return codec.create(schema, init) as MessageOf<N>;
}

export function encode<N extends TypeName>(schema: Schema<N>, message: MessageOf<N>): Uint8Array {
  return codec.toBinary(schema, message);
}

export function decode<N extends TypeName>(schema: Schema<N>, bytes: Uint8Array): MessageOf<N> {
  return codec.fromBinary(schema, bytes) as MessageOf<N>;
}
