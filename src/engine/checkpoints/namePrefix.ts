/**
 * Wrapper prefixes on state-dict names: DistributedDataParallel's `module.`, torch.compile's
 * `_orig_mod.`, Lightning's attribute holding the model (`model.`, `net.`, ...). The prefix to
 * strip is the one that maps the most tensors onto the reference names (the architecture's own:
 * those of the graph or the pretrained checkpoint); ties go to the shorter prefix.
 */

/** The prefix chosen and what stripping it gives. */
export interface PrefixChoice {
  /** `''` when the names already match best as they are. */
  prefix: string;
  /** Names that match a reference name after stripping. */
  matched: number;
  /** Saved name -> architecture name, for every name (names without the prefix are kept). */
  rename: Map<string, string>;
}

/**
 * Chooses the wrapper prefix for `names` against `referenceNames`. Candidates are every leading
 * run of dotted segments seen on a name (`a.`, `a.b.`, ...), and their repeats
 * (`module.module.`), so any wrapper attribute is found, not only the known ones.
 */
export function chooseWrapperPrefix(names: readonly string[], referenceNames: Iterable<string>): PrefixChoice {
  const reference = new Set(referenceNames);
  const candidates = new Set<string>(['']);
  for (const n of names) {
    const parts = n.split('.');
    for (let i = 1; i < parts.length && i <= 4; i++) candidates.add(parts.slice(0, i).join('.') + '.');
  }
  let best = { prefix: '', matched: -1 };
  for (const prefix of [...candidates].sort((a, b) => a.length - b.length || a.localeCompare(b))) {
    let matched = 0;
    for (const n of names) if (reference.has(strip(n, prefix))) matched++;
    if (matched > best.matched) best = { prefix, matched };
  }
  return { prefix: best.prefix, matched: best.matched, rename: new Map(names.map((n) => [n, strip(n, best.prefix)])) };
}

function strip(name: string, prefix: string): string {
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}
