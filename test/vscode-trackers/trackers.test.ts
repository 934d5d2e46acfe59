import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { getApi } from '../vscode/suite';
import { readZoo, zooDir } from '../vscode-checkpoints/zoo';

const { expected } = readZoo('fashion-trackers');

/** The name a tracker gave the run, read from the fixture's own files (MLflow's tag, W&B's folder name). */
function trackerName(id: string): string | undefined {
  if (id.startsWith('mlruns/')) return readFileSync(path.join(zooDir('fashion-trackers'), id, 'tags', 'mlflow.runName'), 'utf8').trim();
  // W&B names its run folders run-<date>_<time>-<run id>.
  if (id.startsWith('wandb/')) return path.basename(id).split('-').at(-1);
  return undefined;
}

describe('Tracker runs (fashion-trackers) in VS Code', () => {
  let api: ModelSoupsApi;

  before(async () => {
    api = await getApi();
    assert.equal(path.basename(api.workspace() ?? ''), 'fashion-trackers');
    await api.refresh();
  });

  it('lists the 12 runs in held-out order, all usable and checked', () => {
    const rows = api.ingredientRows();
    assert.deepEqual(
      rows.map((r) => r.id),
      expected.sorted_by_heldout,
    );
    assert.ok(rows.every((r) => r.status === 'ok' && r.checked === true), JSON.stringify(rows));
  });

  it('shows the MLflow run names and W&B run ids, and the dtype of each run\'s weights', () => {
    const rows = new Map(api.ingredientRows().map((r) => [r.id, r]));
    let named = 0;
    for (const ing of expected.ingredients) {
      const description = rows.get(ing.id)?.description ?? '';
      const name = trackerName(ing.id);
      if (name !== undefined) {
        named++;
        assert.ok(description.includes(` · ${name} · `), `${ing.id}: "${name}" not in ${description}`);
      }
      assert.match(description, new RegExp(` · [a-z-]+ ${ing.dtype}$`), `${ing.id}: ${description}`);
    }
    // Four MLflow and four W&B runs.
    assert.equal(named, 8);
  });
});
