/**
 * The judge's shared addresses: each canonical address text is parsed once and held
 * by one atom while some watched path names it (as its local or its peer). Watches
 * arrive with the text a socket reports, which is canonical nearly always, so the
 * common case is one map hit and no parsing.
 */
import { parseAddress, type AddressAtom } from './path-spec';
import type { PathSpec } from './types';

interface Held {
  atom: AddressAtom;
  refs: number;
}

export class AddressAtoms {
  private readonly held = new Map<string, Held>();

  get size(): number {
    return this.held.size;
  }

  /** The atom for `spec[field]`, parsed and checked on first sight (throws InvalidArgumentError). Not yet held. */
  resolve(spec: PathSpec, field: 'local' | 'remote'): AddressAtom {
    const text = spec[field];
    const known = typeof text === 'string' ? this.held.get(text) : undefined;
    if (known) return known.atom;
    const parsed = parseAddress(spec, field);
    // A non-canonical spelling ("2001:DB8::1", "::ffff:192.0.2.1") finds the canonical atom.
    return this.held.get(parsed.text)?.atom ?? parsed;
  }

  /** The held atom with this canonical text, if a path names it. */
  get(text: string): AddressAtom | undefined {
    return this.held.get(text)?.atom;
  }

  /** A path now names `atom`. */
  hold(atom: AddressAtom): void {
    const h = this.held.get(atom.text);
    if (h) h.refs++;
    else this.held.set(atom.text, { atom, refs: 1 });
  }

  /** A path that named `atom` is forgotten. */
  release(atom: AddressAtom): void {
    const h = this.held.get(atom.text);
    if (h && --h.refs === 0) this.held.delete(atom.text);
  }
}
