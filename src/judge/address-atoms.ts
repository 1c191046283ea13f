/**
 * The judge's shared addresses: each canonical address text is parsed once and held
 * by one atom while some watched path names it (as its local or its peer). Watches
 * arrive with the text a socket reports, which is canonical nearly always, so the
 * common case is one map hit and no parsing.
 */
import { parseAddress, type AddressAtom } from './path-spec';
import type { PathSpec } from './types';

export class AddressAtoms {
  /** Held atoms by canonical text; each counts its paths itself (no lookup to release one). */
  private readonly held = new Map<string, AddressAtom>();
  /** Other spellings of held atoms (see alias()). */
  private readonly aliases = new Map<string, AddressAtom>();

  get size(): number {
    return this.held.size;
  }

  /** The atom for `spec[field]`, parsed and checked on first sight (throws InvalidArgumentError). Not yet held. */
  resolve(spec: PathSpec, field: 'local' | 'remote'): AddressAtom {
    const text = spec[field];
    if (typeof text === 'string') {
      const known = this.held.get(text) ?? this.aliases.get(text);
      if (known && known.refs > 0) return known;
    }
    const parsed = parseAddress(spec, field);
    // A non-canonical spelling ("2001:DB8::1", "::ffff:192.0.2.1") finds the canonical atom.
    const atom = this.held.get(parsed.text) ?? parsed;
    if (text !== atom.text) this.alias(text as string, atom);
    return atom;
  }

  /**
   * Remembers a non-canonical spelling: a dual-stack server's sockets all report
   * "::ffff:a.b.c.d", which would otherwise be parsed at every watch. Aliases of atoms
   * no path holds any more are swept once they outnumber the held atoms.
   */
  private alias(text: string, atom: AddressAtom): void {
    if (this.aliases.size >= 1024 && this.aliases.size > 2 * this.held.size) {
      for (const [t, a] of this.aliases) if (a.refs === 0) this.aliases.delete(t);
    }
    this.aliases.set(text, atom);
  }

  /** The held atom with this canonical text, if a path names it. */
  get(text: string): AddressAtom | undefined {
    return this.held.get(text);
  }

  /** A path now names `atom`. */
  hold(atom: AddressAtom): void {
    if (atom.refs++ === 0) this.held.set(atom.text, atom);
  }

  /** A path that named `atom` is forgotten. */
  release(atom: AddressAtom): void {
    if (--atom.refs === 0) this.held.delete(atom.text);
  }
}
