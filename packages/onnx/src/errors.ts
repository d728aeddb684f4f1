import { NormbridgeError } from '@normbridge/core';

/**
 * An ONNX model cannot be read or rewritten: a node, attribute or initializer is missing or of
 * a kind this package does not handle. `node` names the node (or initializer) at fault.
 */
export class OnnxModelError extends NormbridgeError {
  readonly node: string;
  constructor(node: string, reason: string, options?: { cause?: unknown }) {
    super('onnx-model', `ONNX model, "${node}": ${reason}`, options);
    this.node = node;
  }
}
