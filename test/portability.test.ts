/**
 * The prebuilds load on the distributions official Node 20-24 binaries support: each needs no
 * GLIBCXX or CXXABI version (libstdc++ is linked in) and no glibc symbol newer than GLIBC_2.28,
 * read from the binary's version-needs section (readelf), the list the dynamic loader checks.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { elfArch, portabilityProblems, versionNeeds } = require('../scripts/binary-needs.js') as {
  elfArch(file: string): string;
  portabilityProblems(file: string): string[];
  versionNeeds(file: string): Array<{ file: string; version: string }>;
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensurePrebuild } = require('../scripts/ensure-built.js') as { ensurePrebuild(arch: string): string };

const root = path.resolve(__dirname, '..');
const hostPrebuild = path.join(root, 'prebuilds', `linux-${process.arch}`, 'routeguard.glibc.node');

function prebuilds(): string[] {
  const dir = path.join(root, 'prebuilds');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((target) =>
    readdirSync(path.join(dir, target)).filter((f) => f.endsWith('.node')).map((f) => path.join(dir, target, f)),
  );
}

describe('prebuilt binaries are portable', () => {
  beforeAll(() => {
    // The host's prebuild needs no cross tools: build it when this tree has none (CI builds it first).
    ensurePrebuild(process.arch);
  }, 300_000);

  it('finds the host prebuild', () => {
    expect(prebuilds()).toContain(hostPrebuild);
  });

  it.each(prebuilds().length ? prebuilds() : [hostPrebuild])('%s needs no GLIBCXX and no glibc newer than 2.28', (file) => {
    const target = path.basename(path.dirname(file));
    expect(elfArch(file)).toBe(target.split('-')[1]);
    const needs = versionNeeds(file).map((n) => n.version);
    expect(needs.some((v) => v.startsWith('GLIBC_'))).toBe(true);
    expect(portabilityProblems(file)).toEqual([]);
  });

  it('the check is not vacuous: Node itself needs libstdc++ (flagged) and glibc up to 2.28, the baseline', () => {
    // Official Node binaries link libstdc++ dynamically and set the GLIBC_2.28 floor prebuilds must meet.
    expect(portabilityProblems(process.execPath).some((p) => p.startsWith('GLIBCXX_'))).toBe(true);
    expect(portabilityProblems(process.execPath).some((p) => p.startsWith('GLIBC_'))).toBe(false);
  });
});
