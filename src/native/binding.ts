/** Loads the addon once, turning load failures into errors that say what to do. */
import * as path from 'node:path';
import { AddonLoadError, NotLinuxError } from '../errors';
import type { NativeBinding } from './binding-types';

let cached: NativeBinding | undefined;

/** The package root (where binding.gyp and prebuilds/ live), from src/native or dist/native. */
const packageRoot = path.resolve(__dirname, '..', '..');

export function loadBinding(): NativeBinding {
  if (cached) return cached;
  if (process.platform !== 'linux') throw new NotLinuxError(process.platform);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    cached = nodeGypBuild(process.env.ROUTEGUARD_ADDON_DIR || packageRoot) as NativeBinding;
  } catch (err) {
    throw new AddonLoadError(err);
  }
  return cached;
}
