// ESM entry: re-exports the CommonJS build (named exports detected by Node's cjs-module-lexer), so
// ESM and CommonJS importers share one copy of every class. Its default is module.exports, which
// is also the CommonJS build's `default`.
export * from '../dist/index.js';
export { default } from '../dist/index.js';
