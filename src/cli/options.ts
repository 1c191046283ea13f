/** Argument parsing shared by the commands (node:util parseArgs, errors as UsageError). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io';

export function parseCommandArgs<T extends ParseArgsConfig['options']>(
  argv: string[],
  options: T,
  help: string,
): { values: Record<string, string | boolean | undefined>; positionals: string[]; help: string | null } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return {
      values: values as Record<string, string | boolean | undefined>,
      positionals,
      help: (values as Record<string, unknown>).help ? help : null,
    };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
}

/** `--json` and `--netns PATH`, shared by the commands that read a namespace's state. */
export const NETNS_JSON_OPTIONS = {
  json: { type: 'boolean' },
  netns: { type: 'string' },
} as const;
