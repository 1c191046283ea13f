/** The installed package's version, read from its package.json (two levels up from src/cli and dist/cli). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export function packageVersion(): string {
  const file = path.resolve(__dirname, '..', '..', 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
