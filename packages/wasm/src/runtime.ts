/** Whether this runs in Node (where the kernel modules are files and threads are worker_threads). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Node built-ins through a variable specifier, so browser bundlers never try to resolve them. */
export function importNodeBuiltin<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}
