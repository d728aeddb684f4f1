import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the package in a browser', () => {
  it('bundles for the browser platform with no Node built-in and no onnxruntime-node reached', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      logLevel: 'silent',
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('onnxruntime-web'))).toBe(true);
    expect(inputs.filter((p) => p.includes('onnxruntime-node') || p.startsWith('node:'))).toEqual([]);
  });
});
