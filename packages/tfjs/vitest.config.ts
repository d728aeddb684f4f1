import { defineConfig } from 'vitest/config';

// 'source' resolves workspace packages to their TypeScript sources, so tests need no build.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs-core's extensionless ES modules (gradients, chained ops) would otherwise be
    // transformed file by file by Vite (~6 s per test file); Node loads them natively
    // through the resolve hook that register-gradients.ts installs, as it does in production.
    server: { deps: { external: [/@tensorflow\/tfjs-core\/dist\//] } },
  },
});
