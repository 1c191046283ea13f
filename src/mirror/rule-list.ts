/**
 * Policy routing rules of one network namespace, per family, in the kernel's order.
 *
 * The kernel keeps one list per family (fib_rules_ops.rules_list), sorted by priority;
 * a new rule goes after every rule whose priority is lower or equal (fib_nl_newrule),
 * so rules of one priority stay in the order they were added. Rules have no id and
 * are never changed in place: RTM_NEWRULE always adds (duplicates are allowed without
 * NLM_F_EXCL) and RTM_DELRULE removes the first rule that matches (rule_find). The
 * identity of a rule is therefore all its selectors + action + table ({@link ruleKey}).
 *
 * Dumps are mark-and-sweep like the other objects, with one twist for duplicates: a
 * dumped rule claims the first entry of its identity not yet claimed by this dump, so
 * a rule a live event added while the dump ran is not counted twice. When the dump
 * completes, the list takes the dump's order (the kernel's).
 */
import type { ChangeAction, Family, Rule } from '../netlink/types';

/**
 * fib_rule_hdr.flags bits that are state, not selectors: the kernel changes them silently
 * (attach_rules/detach_rules when an iif/oif device comes or goes send no RTM_NEWRULE;
 * seen on 6.18), so only a dump finds them changed.
 */
const STATE_FLAGS = 0x1 /* PERMANENT */ | 0x4 /* UNRESOLVED */ | 0x8 /* IIF_DETACHED */ | 0x10; /* OIF_DETACHED */

/** What the kernel's rule_find compares: every selector, the action and its target. */
export function ruleKey(r: Rule): string {
  return [
    r.priority, r.action, r.table, r.flags & ~STATE_FLAGS,
    `${r.source}/${r.sourceLength}`, `${r.destination}/${r.destinationLength}`, r.tos,
    r.fwmark, r.fwmask, r.iifName, r.oifName, r.suppressPrefixLength, r.suppressIfGroup, r.goto,
    r.uidRange && `${r.uidRange.start}-${r.uidRange.end}`, r.ipProtocol,
    r.sourcePorts && `${r.sourcePorts.start}-${r.sourcePorts.end}`,
    r.destinationPorts && `${r.destinationPorts.start}-${r.destinationPorts.end}`, r.l3mdev,
  ].join('|');
}

/** Facts outside the identity: a difference in a dump is a 'changed' rule. */
function sameState(a: Rule, b: Rule): boolean {
  return a.flags === b.flags && a.protocol === b.protocol;
}

interface Entry {
  rule: Rule;
  key: string;
  /** Generation of the last dump (or live event) that vouched for it. */
  gen: number;
  /** Position in the dump that claimed it, -1 when no dump of this generation did. */
  dumpPos: number;
}

export interface RuleChange {
  action: ChangeAction;
  rule: Rule;
  previous: Rule | null;
}

export class RuleList {
  private readonly lists: Record<Family, Entry[]> = { 4: [], 6: [] };
  /** Entries by identity (both families: the key holds the prefixes), so a dump of n rules is not O(n²). */
  private readonly byKey = new Map<string, Entry[]>();
  private readonly frozen: Record<Family, readonly Rule[] | null> = { 4: null, 6: null };
  private dumpPos = 0;

  get size(): number {
    return this.lists[4].length + this.lists[6].length;
  }

  /** The family's rules in the kernel's order (an immutable snapshot, cached until the next change). */
  rules(family: Family): readonly Rule[] {
    return (this.frozen[family] ??= Object.freeze(this.lists[family].map((e) => e.rule)));
  }

  /** Live RTM_NEWRULE: the kernel added a rule (never a replacement). */
  add(rule: Rule, gen: number): RuleChange {
    this.insert({ rule, key: `${rule.family}|${ruleKey(rule)}`, gen, dumpPos: -1 });
    return { action: 'added', rule, previous: null };
  }

  /** A rule in a dump reply; null when the mirror already holds exactly it. */
  dumped(rule: Rule, gen: number): RuleChange | null {
    const key = `${rule.family}|${ruleKey(rule)}`;
    // Entries of one identity are interchangeable: any not yet claimed by this dump will do.
    const entry = this.byKey.get(key)?.find((e) => !(e.gen === gen && e.dumpPos >= 0));
    const pos = this.dumpPos++;
    if (!entry) {
      this.insert({ rule, key, gen, dumpPos: pos });
      return { action: 'added', rule, previous: null };
    }
    entry.gen = gen;
    entry.dumpPos = pos;
    if (sameState(entry.rule, rule)) return null;
    const previous = entry.rule;
    entry.rule = rule;
    this.frozen[rule.family] = null;
    return { action: 'changed', rule, previous };
  }

  /** RTM_DELRULE: removes the first rule of that identity, as the kernel did. */
  remove(rule: Rule): Rule | null {
    const list = this.lists[rule.family];
    const key = `${rule.family}|${ruleKey(rule)}`;
    const at = list.findIndex((e) => e.key === key);
    if (at < 0) return null;
    const [gone] = list.splice(at, 1);
    this.unindex(gone);
    this.frozen[rule.family] = null;
    return gone.rule;
  }

  /** A new dump starts: positions are counted from here. */
  beginDump(): void {
    this.dumpPos = 0;
  }

  /**
   * The dump of generation `gen` completed: drops the rules it did not see (returned in
   * list order) and puts the rest in the dump's order. Rules added by live events after
   * the dump passed their place keep their place by priority.
   */
  sweep(gen: number): Rule[] {
    const removed: Rule[] = [];
    for (const family of [4, 6] as const) {
      const kept: Entry[] = [];
      const late: Entry[] = [];
      for (const e of this.lists[family]) {
        if (e.gen !== gen) {
          removed.push(e.rule);
          this.unindex(e);
        } else if (e.dumpPos >= 0) kept.push(e);
        else late.push(e);
      }
      kept.sort((a, b) => a.dumpPos - b.dumpPos);
      this.lists[family] = kept;
      for (const e of late) this.place(e);
      for (const e of kept) e.dumpPos = -1;
      this.frozen[family] = null;
    }
    return removed;
  }

  private insert(entry: Entry): void {
    const same = this.byKey.get(entry.key);
    if (same) same.push(entry);
    else this.byKey.set(entry.key, [entry]);
    this.place(entry);
  }

  private unindex(entry: Entry): void {
    const same = this.byKey.get(entry.key)!;
    if (same.length === 1) this.byKey.delete(entry.key);
    else same.splice(same.indexOf(entry), 1);
  }

  /** After every rule of lower or equal priority (fib_nl_newrule). */
  private place(entry: Entry): void {
    const list = this.lists[entry.rule.family];
    let at = list.length;
    while (at > 0 && list[at - 1].rule.priority > entry.rule.priority) at--;
    list.splice(at, 0, entry);
    this.frozen[entry.rule.family] = null;
  }
}
