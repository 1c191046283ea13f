// Preload (`node --require`) that makes the process look like Bun's runtime the way Bun
// identifies itself (process.versions.bun): the runtime gate of the real package runs under
// Node, where a mistake cannot abort the process at uv_poll_init as Bun would. The real Bun
// is run by scripts/test-package.js.
'use strict';
Object.defineProperty(process.versions, 'bun', { value: '1.4.5', enumerable: true });
