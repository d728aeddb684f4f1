/** Whether this runs in Node (where files, worker_threads and native packages exist). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * A Node built-in or a Node-only package, imported through a variable specifier so that a browser
 * bundler never tries to resolve it; call it only where {@link isNode} holds.
 */
export function importNodeModule<T = unknown>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}
