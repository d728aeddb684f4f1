export * from './engines.js';
export * from './doc-snippets.js';
