/** Whether this runs in Node (where wasm binaries are files and ESM needs a resolve hook). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Node built-ins through a variable specifier, so browser bundlers never try to resolve them. */
export function importNodeBuiltin<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

/**
 * A package that is not a dependency (an optional peer), loaded by name in Node only; pages
 * register such packages with their own static imports instead.
 */
export function importNodePackage<T = unknown>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}
