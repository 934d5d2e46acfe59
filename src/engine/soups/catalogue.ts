import { SoupError } from '../errors';

/** A declared option of a soup method: a `modelsoups.json` key the method reads. */
export interface SoupOptionDescriptor {
  /** Its name in the method's options and in the report's `options` (e.g. `comparison`). */
  name: string;
  /** The dotted `modelsoups.json` key that sets it (e.g. `greedy.comparison`); settings and CLI flags override it. */
  configKey: string;
  description: string;
}

/**
 * What a soup method is, needs and produces, without its code (mergekit's merge methods declare
 * the same): the extension host and the CLI list, label and check methods from these, while
 * only the cook imports the implementations (soups/registry.ts). Plain data, so a descriptor
 * can also cross to the results panel.
 */
export interface SoupMethodDescriptor {
  /** The id in `--method`, plans and reports (`greedy`, `uniform`). */
  id: string;
  label: string;
  /** Where the method comes from. */
  reference: string;
  needs: {
    /** The method scores candidate soups on the held-out dataset: a cook without one is refused. */
    heldout: boolean;
  };
  produces: {
    /** One step per candidate tried (the report's `steps`, the trajectory chart). */
    steps: boolean;
    /**
     * The soup is the uniform average of every ingredient: it is its own uniform baseline, so
     * the cook does not compute that baseline separately and the panel does not show it twice.
     */
    uniformSoup: boolean;
  };
  /** The options it reads (recorded in the report's `options`). */
  options: readonly SoupOptionDescriptor[];
}

/** Every soup method the engine offers, in menu order. Add an implementation to soups/registry.ts with each entry. */
export const soupCatalogue = [
  {
    id: 'greedy',
    label: 'Greedy soup',
    reference: 'Wortsman et al., ICML 2022, "Model soups", Algorithm 1 (greedy soup)',
    needs: { heldout: true },
    produces: { steps: true, uniformSoup: false },
    options: [{ name: 'comparison', configKey: 'greedy.comparison', description: '">=" keeps a candidate on ties (paper), ">" only on improvement (official code)' }],
  },
  {
    id: 'uniform',
    label: 'Uniform soup',
    reference: 'Wortsman et al., ICML 2022, "Model soups", section 3 (uniform soup)',
    needs: { heldout: false },
    produces: { steps: false, uniformSoup: true },
    options: [],
  },
  {
    id: 'learned',
    label: 'Learned soup',
    reference: 'Wortsman et al., ICML 2022, "Model soups", section 3 (learned soup), fitted without gradients: greedy soup, then a compass search on held-out NLL that keeps its held-out accuracy',
    needs: { heldout: true },
    produces: { steps: true, uniformSoup: false },
    options: [
      { name: 'comparison', configKey: 'greedy.comparison', description: 'the comparison of the greedy soup it starts from' },
      { name: 'budget', configKey: 'analyses.learnedBudget', description: 'held-out NLL evaluations of the search, its start included (default 200)' },
    ],
  },
] as const satisfies readonly SoupMethodDescriptor[];

/** The id of a catalogued method. */
export type SoupMethodId = (typeof soupCatalogue)[number]['id'];

/** Looks a method up by id; CONFIG_INVALID naming the known ids otherwise. */
export function findSoupMethod(id: string): SoupMethodDescriptor {
  const m = soupCatalogue.find((s) => s.id === id);
  if (!m) throw new SoupError('CONFIG_INVALID', `unknown soup method "${id}" (known: ${soupMethodIds().join(', ')})`);
  return m;
}

/** The ids of every method, in menu order. */
export function soupMethodIds(): string[] {
  return soupCatalogue.map((m) => m.id);
}

/**
 * The descriptor of a method as a report names it. A report of a method this version does not
 * know (written by a newer one) is described from the report itself: its id as label, steps if
 * it has any, and a separate uniform baseline.
 */
export function describeSoupMethod(id: string, hasSteps: boolean): SoupMethodDescriptor {
  return soupCatalogue.find((s) => s.id === id) ?? { id, label: id, reference: '', needs: { heldout: false }, produces: { steps: hasSteps, uniformSoup: false }, options: [] };
}
