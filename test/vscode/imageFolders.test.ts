import * as assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SOUP } from '../../src/engine/analyses/runAnalyses';
import { loadConfig } from '../../src/engine/config';
import type { SoupReport } from '../../src/engine/report';
import type { CookOutcome } from '../../src/extension/cookController';
import { DATASET_FORMS } from '../../src/extension/datasetForms';
import type { ModelSoupsApi } from '../../src/extension/testApi';
import { SetupDriver } from './setupDriver';
import { getApi } from './suite';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'fashion-images');
const images = JSON.parse(readFileSync(path.join(FIXTURE, 'expected-images.json'), 'utf8')) as {
  subset_footwear_class_indices: number[];
  counts: Record<string, Record<string, { correct: number; n: number }>>;
};
// The greedy soup of the example, whatever form its held-out set takes (the PNGs are its exact pixels).
const { members: GREEDY_MEMBERS } = (JSON.parse(readFileSync(path.join(FIXTURE, '..', 'fashion-soup', 'expected.json'), 'utf8')) as { greedy_soup: { members: string[] } }).greedy_soup;

describe('Image folders in the extension', () => {
  let api: ModelSoupsApi;
  let ws: string;
  let file: string;
  let original: string;

  before(async () => {
    api = await getApi();
    ws = api.workspace() ?? '';
    assert.ok(ws);
    file = path.join(ws, 'modelsoups.json');
    original = readFileSync(file, 'utf8');
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    writeFileSync(file, original);
    await api.refresh();
  });

  it('Configure Evaluation Data offers image folders; the picked folders are written to modelsoups.json and a greedy cook scores them as folders, the 3-class set among its classes (accuracy and calibration)', async function () {
    // A whole greedy cook (2614 images decoded, 12 ingredients, calibration) on a shared 2-core machine.
    this.timeout(300_000);
    // The fixture's held-out PNGs and 3-class footwear shift set, as a user keeps them: root/<class>/<image>.
    const dir = path.join(ws, 'images');
    cpSync(path.join(FIXTURE, 'heldout'), path.join(dir, 'heldout'), { recursive: true });
    cpSync(path.join(FIXTURE, 'subset', 'footwear'), path.join(dir, 'footwear'), { recursive: true });
    let soupDir: string | undefined;
    try {
      // Other keys survive the setup: calibration alone keeps the cook short.
      writeFileSync(file, JSON.stringify({ exclude: ['expected/**'], datasets: { heldout: 'data/heldout_val.npz' }, analyses: { run: ['calibration'] } }, null, 2));
      await api.refresh();
      const drive = new SetupDriver(api);
      const done = vscode.commands.executeCommand<vscode.Uri | undefined>('modelSoups.configureEvaluation');
      try {
        const s = await drive.step(1);
        const folders = s.pick.items.filter((i) => i.description === 'image folder').map((i) => i.label);
        assert.deepEqual(folders, ['images/footwear', 'images/heldout'], JSON.stringify(s.pick.items.map((i) => [i.label, i.description])));
        // The .npz files are still offered, without the folder description.
        assert.ok(s.pick.items.some((i) => i.label === 'data/test.npz' && i.description === undefined));
        await drive.accept(s, ['images/heldout']);
        await drive.accept(await drive.step(2), ['$(circle-slash) None']);
        const shifts = await drive.step(3);
        assert.ok(!shifts.pick.items.some((i) => i.label === 'images/heldout'), 'the held-out folder is offered as a shift set too');
        await drive.accept(shifts, ['images/footwear']);
        await drive.accept(await drive.step(4), ['$(circle-slash) None']);
        assert.ok(await done, 'nothing was written');
      } finally {
        drive.dispose();
      }
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
        exclude: ['expected/**'],
        datasets: { heldout: 'images/heldout', shifts: { footwear: 'images/footwear' } },
        analyses: { run: ['calibration'] },
      });
      // The engine reads it back: the folders are the held-out set and the one shift set.
      const config = loadConfig(ws);
      assert.deepEqual([config.datasets.heldout, config.datasets.shifts], ['images/heldout', { footwear: 'images/footwear' }]);
      await api.refresh();
      assert.equal(api.sidebarState(), 'ready');

      const outcome = await vscode.commands.executeCommand<CookOutcome>('modelSoups.cookGreedy');
      assert.equal(outcome?.status, 'done', JSON.stringify(outcome));
      if (outcome.status !== 'done') return;
      soupDir = outcome.dir;
      const report = JSON.parse(readFileSync(path.join(outcome.dir, 'report.json'), 'utf8')) as SoupReport;
      const { heldout, footwear } = report.datasets;
      assert.deepEqual([heldout.kind, heldout.path, heldout.n, heldout.subset], ['folder', 'images/heldout', 2000, undefined]);
      assert.deepEqual([footwear.kind, footwear.path, footwear.n, footwear.classesCovered], ['folder', 'images/footwear', 614, 3]);
      assert.deepEqual(footwear.subset, images.subset_footwear_class_indices);
      assert.deepEqual(report.soup.members, GREEDY_MEMBERS);
      // PyTorch's counts of this soup on the same images (the footwear set among its 3 classes).
      const want = images.counts.greedy_soup;
      assert.equal(report.soup.metrics.correct.heldout, want.heldout.correct);
      assert.equal(report.soup.metrics.correct.footwear, want['subset/footwear'].correct);
      // Calibration scores the subset set among the same classes, so it counts the same hits.
      const calibration = report.analyses?.calibration?.models[SOUP]?.datasets.footwear;
      assert.ok(calibration, JSON.stringify(Object.keys(report.analyses ?? {})));
      assert.equal(calibration.correct, want['subset/footwear'].correct);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (soupDir && existsSync(soupDir)) rmSync(soupDir, { recursive: true, force: true });
    }
  });

  it('the Ingredients welcome shown when no runs are found explains the dataset forms and the folder layout', async () => {
    writeFileSync(file, JSON.stringify({ exclude: ['**'] }));
    await api.refresh();
    assert.equal(api.sidebarState(), 'noRuns');
    // An empty tree is what lets VS Code show the welcome content of this state.
    assert.deepEqual(api.ingredientRoots(), []);
    const ext = vscode.extensions.getExtension('model-soups.model-soups');
    const welcome = (ext?.packageJSON as { contributes: { viewsWelcome: { view: string; when?: string; contents: string }[] } }).contributes.viewsWelcome;
    const shown = welcome.filter((w) => w.view === 'modelSoups.ingredients' && w.when === `modelSoups.state == ${api.sidebarState()}`);
    assert.equal(shown.length, 1);
    assert.ok(shown[0].contents.split('\n').includes(DATASET_FORMS), shown[0].contents);
    assert.match(DATASET_FORMS, /FOLDER\/CLASS NAME\/IMAGE \(JPEG, PNG or WebP\)/);
  });
});
