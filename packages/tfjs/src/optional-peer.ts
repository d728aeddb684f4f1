/**
 * An optional peer package (`webgpu`, a tfjs backend), loaded by name in Node only, so that a
 * page's bundler never resolves it; pages register such packages with their own static imports.
 * It is imported here, in the package that declares the peer: an import resolves from the file
 * that makes it, so core's `importNodeBuiltin` could not find it.
 */
export function importOptionalPeer<T = unknown>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}
