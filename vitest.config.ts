import { defineConfig } from 'vitest/config';

// One run over every package (each keeps its own vitest.config.ts for `vitest run` in its folder).
export default defineConfig({
  test: {
    projects: ['packages/*', 'adapters/*', 'conformance', 'examples/*', 'bench'],
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
