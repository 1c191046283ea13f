// Types of the ESM entry (esm/index.mjs): the CommonJS build's, default included.
export * from '../dist/index.js';
export { default } from '../dist/index.js';
