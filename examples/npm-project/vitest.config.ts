import { defineConfig } from 'vitest/config';

// Packing and `npm install` from the registry take tens of seconds on a cold npm cache.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { include: ['src/**/*.test.ts'], testTimeout: 240_000, hookTimeout: 240_000 },
});
