// Preload (`node --require`) that makes the process report another platform, the way Node
// reports macOS ('darwin') or Windows ('win32'): the off-Linux paths of the real package run
// unchanged. ROUTEGUARD_FAKE_PLATFORM names the platform (default 'darwin').
'use strict';
Object.defineProperty(process, 'platform', { value: process.env.ROUTEGUARD_FAKE_PLATFORM || 'darwin', enumerable: true });
