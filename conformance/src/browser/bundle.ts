/**
 * Bundles a page script for the browser with esbuild. The conformance and adapter packages
 * reach Node built-ins only on paths a page never takes (reading fixture folders, Node's wasm
 * paths); those imports become a module whose every member throws, so a page that did reach
 * one would fail loudly rather than silently.
 */
export async function bundlePage(entry: string): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'error',
    plugins: [
      {
        name: 'node-builtins-unavailable',
        setup(build) {
          build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-builtin' }));
          build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
            contents: `module.exports = new Proxy({}, { get: (_, key) => key === '__esModule' ? false : () => { throw new Error(${JSON.stringify(`${args.path} is not available in a browser`)}); } });`,
            loader: 'js',
          }));
        },
      },
    ],
  });
  return result.outputFiles[0]!.text;
}
