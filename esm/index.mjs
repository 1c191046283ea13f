// ESM entry: re-exports the CommonJS build (named exports detected by Node's cjs-module-lexer).
export * from '../dist/index.js';
