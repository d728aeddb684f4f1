import { SafetensorsError } from '../errors.js';
import type { SafetensorsHeader, TensorInfo } from '../format/header.js';

/** The header-only half of a one-file {@link TensorReader}: lookups that need no tensor data. */
export abstract class HeaderReader {
  abstract readonly source: string;
  abstract readonly header: SafetensorsHeader;

  get metadata(): Readonly<Record<string, string>> | undefined {
    return this.header.metadata;
  }
  get tensors(): readonly TensorInfo[] {
    return this.header.tensors;
  }
  has(name: string): boolean {
    return this.header.byName.has(name);
  }
  info(name: string): TensorInfo {
    const t = this.header.byName.get(name);
    if (t === undefined) throw new SafetensorsError('tensor-not-found', 'no such tensor', { file: this.source, key: name });
    return t;
  }
  fileOf(name: string): string {
    this.info(name);
    return this.source;
  }
}

/** Refuses a part that is not inside the tensor. */
export function checkRange(t: TensorInfo, offset: number, length: number, file: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > t.byteLength) {
    throw new SafetensorsError('invalid-argument', `bytes [${offset}, ${offset + length}) are not inside the tensor's ${t.byteLength}`, { file, key: t.name });
  }
}
