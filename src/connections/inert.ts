/**
 * Inert mode of ConnectionGuard (the default off Linux, where there is no netlink to watch): it
 * accepts the same calls, watches nothing and closes nothing, so application code that guards
 * its connections runs unchanged on a development laptop.
 */
import { RouteguardError } from '../errors';

/** The `code` an inert guard gives every connection it leaves unresolved. */
export const INERT_CODE = 'ERR_INERT';

/** Why an inert guard watches nothing. */
export const INERT_MESSAGE = 'the guard is inert (the default off Linux): connections are tracked but never judged or closed';

/** The judge of an inert guard that was given none: asking it for a watch is a misuse. */
export const INERT_JUDGE = {
  watch(): never {
    throw new RouteguardError(INERT_CODE, INERT_MESSAGE);
  },
};
