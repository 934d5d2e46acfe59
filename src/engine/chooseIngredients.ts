import type { InspectedWorkspace } from './discovery/scanWorkspace';
import { markArchitectureUnreadable } from './discovery/scanWorkspace';
import type { RunRecord } from './discovery/runRecord';
import type { WorkspaceScan } from './discovery/scanResult';
import { SoupError } from './errors';
import type { EvaluatorOptions } from './evaluate/evaluator';
import { Evaluator } from './evaluate/evaluator';
import type { OnnxModelInfo } from './formats/onnxModel';
import type { SoupIngredient } from './soups/method';

/**
 * The runs a soup may use: every `ok` run, or the `wanted` ones. Throws NO_INGREDIENTS when a
 * wanted run does not exist or is not `ok` (with its reason), or when nothing is left.
 */
export function pickIngredients(scan: WorkspaceScan, wanted: readonly string[] | undefined, workspace: string): RunRecord[] {
  let chosen = scan.runs.filter((r) => r.status === 'ok');
  if (wanted) {
    const ids = new Set(wanted);
    for (const id of ids) {
      const run = scan.runs.find((r) => r.id === id);
      if (!run) throw new SoupError('NO_INGREDIENTS', `no run "${id}" in ${workspace}`);
      if (run.status !== 'ok') throw new SoupError('NO_INGREDIENTS', `run "${id}" cannot be an ingredient: ${run.status} (${run.reason ?? 'no reason given'})`);
    }
    chosen = chosen.filter((r) => ids.has(r.id));
  }
  if (chosen.length === 0) {
    throw new SoupError('NO_INGREDIENTS', `no scored, compatible runs to cook from in ${workspace} (found ${scan.runs.length} run${scan.runs.length === 1 ? '' : 's'})`);
  }
  return chosen;
}

/**
 * Picks the ingredients and opens one onnxruntime session on their architecture. The scan only
 * parses a graph; when onnxruntime then refuses it (an unknown operator, a broken node), every
 * run of that architecture is marked `unreadable` with onnxruntime's reason, the runs are
 * regrouped and the next architecture is tried: one bad export does not stop the cook.
 */
export async function openEvaluator(
  inspected: InspectedWorkspace,
  wanted: readonly string[] | undefined,
  workspace: string,
  options: EvaluatorOptions,
): Promise<{ ingredients: SoupIngredient[]; evaluator: Evaluator }> {
  for (;;) {
    const chosen = pickIngredients(inspected.scan, wanted, workspace);
    const ingredients = chosen.map((r) => ({ id: r.id, model: inspected.models.get(r.id) as OnnxModelInfo, heldout: r.heldout as number }));
    try {
      return { ingredients, evaluator: await Evaluator.create(ingredients[0].model, options) };
    } catch (err) {
      if (!(err instanceof SoupError) || err.code !== 'EVALUATION_FAILED' || err.file !== ingredients[0].model.path) throw err;
      markArchitectureUnreadable(inspected, ingredients[0].id, err.problem);
      // Nothing left to cook: onnxruntime's own error says more than "no ingredients".
      if (!inspected.scan.runs.some((r) => r.status === 'ok')) throw err;
      options.onWarning?.(`${ingredients[0].id}: ${err.problem}; cooking without the runs of that architecture`);
    }
  }
}
