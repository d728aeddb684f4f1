/** Whether this runs in Node (where files, worker_threads and native packages exist). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * A Node built-in (`node:fs`, `node:worker_threads`, ...), imported through a variable specifier
 * so that a browser bundler never tries to resolve it; call it only where {@link isNode} holds.
 * Built-ins only: an import resolves from the file that makes it, so a package must load its own
 * (optional) dependencies itself; from here they would be looked up in core's.
 */
export function importNodeBuiltin<T = unknown>(specifier: `node:${string}`): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}
