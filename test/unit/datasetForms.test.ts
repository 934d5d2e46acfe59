import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { IMAGE_EXTENSIONS } from '../../src/engine/datasets/imageDecode';
import { DATASET_FORMS } from '../../src/extension/datasetForms';
import { REPO } from './helpers/paths';

interface WelcomeView {
  view: string;
  when?: string;
  contents: string;
}
const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: { viewsWelcome: WelcomeView[] } };
const FORMAT_NAMES: Record<string, string> = { '.jpg': 'JPEG', '.jpeg': 'JPEG', '.png': 'PNG', '.webp': 'WebP' };

describe('the dataset layout told to users (Ingredients welcome view, setup row tooltip)', () => {
  it('is in the welcome view shown when no runs are found, word for word, below its "Configure Evaluation Data" button', () => {
    const welcome = manifest.contributes.viewsWelcome.find((w) => w.view === 'modelSoups.ingredients' && w.when === 'modelSoups.state == noRuns');
    assert.ok(welcome, 'no noRuns welcome view for the Ingredients view');
    const lines = welcome.contents.split('\n');
    const at = lines.indexOf(DATASET_FORMS);
    assert.ok(at > 0, `the welcome does not hold the text on a line of its own:\n${welcome.contents}`);
    assert.match(lines[at - 1], /^\[Configure Evaluation Data\]\(command:modelSoups\.configureEvaluation\)$/);
  });

  it('names every image format the engine decodes, the folder layout and the label-map order', () => {
    for (const ext of IMAGE_EXTENSIONS) {
      const name = FORMAT_NAMES[ext];
      assert.ok(name, `no format name for the engine's ${ext}: add it here and to the text`);
      assert.ok(DATASET_FORMS.includes(name), `${name} (${ext}) missing`);
    }
    assert.match(DATASET_FORMS, /\.npz/);
    assert.match(DATASET_FORMS, /FOLDER\/CLASS NAME\/IMAGE/);
    // The label map's order of precedence, as the engine reads it (classes, id2label, sorted names).
    const order = ['"classes"', 'id2label', 'sorted folder names'].map((s) => DATASET_FORMS.indexOf(s));
    assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), `order ${JSON.stringify(order)}`);
    assert.match(DATASET_FORMS, /only some of the classes is scored among those classes/);
  });
});
