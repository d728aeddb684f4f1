/** Whether this runs in Node (where onnxruntime-node and file paths exist). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * A Node built-in or Node-only package through a variable specifier, so that a browser bundler
 * never tries to resolve it; called only where {@link isNode} holds.
 */
export function importNodeModule<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}
