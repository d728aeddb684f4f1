export * from './engines.js';
