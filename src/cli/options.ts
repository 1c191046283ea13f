/** Argument parsing shared by the commands (node:util parseArgs, errors as UsageError). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io';

/** `maxPositionals`: arguments that are not options the command takes (a FILE); more is a usage error, not ignored. */
export function parseCommandArgs<T extends ParseArgsConfig['options']>(
  argv: string[],
  options: T,
  help: string,
  maxPositionals = 0,
): { values: Record<string, string | boolean | undefined>; positionals: string[]; help: string | null } {
  let parsed: { values: object; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > maxPositionals && !(values as Record<string, unknown>).help) {
    throw new UsageError(`unexpected argument "${positionals[maxPositionals]}"\n\n${help}`);
  }
  return {
    values: values as Record<string, string | boolean | undefined>,
    positionals,
    help: (values as Record<string, unknown>).help ? help : null,
  };
}

/** `--json` and `--netns PATH`, shared by the commands that read a namespace's state. */
export const NETNS_JSON_OPTIONS = {
  json: { type: 'boolean' },
  netns: { type: 'string' },
} as const;
