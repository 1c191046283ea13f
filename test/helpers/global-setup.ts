/**
 * Tests that run the CLI or load the package by name use the compiled dist/;
 * rebuild it once per run so they never test stale output.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export default function setup(): void {
  const root = path.resolve(__dirname, '..', '..');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    // Type errors still emit JavaScript; they are reported by `npm run typecheck`.
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    if (!out.includes('error TS')) throw err;
  }
}
