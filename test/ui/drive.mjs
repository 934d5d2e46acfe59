// UI drive: clicks through the workbench in headless Chromium and takes screenshots into
// test-results/. test/host/runCodeServer.mjs starts code-server (once per theme, with
// `workbench.colorTheme` in its user settings) and calls driveWorkbench() with a fresh page.
//
// Run it alone with `node test/ui/drive.mjs` (= `node test/host/runCodeServer.mjs --ui-only`).
//
// To add a step, append to STEPS below; each step gets the page and the drive's context and uses
// the helpers, e.g.
//   { name: 'show the results again', run: async (page, ctx) => {
//       await runCommand(page, 'Model Soups: Show Results');
//       await waitForWebview(page, { text: 'Greedy soup', timeoutMs: 60_000 });
//       await screenshot(page, ctx, 'results-again');
//   } },
//
// Screenshots: workbench<suffix>.png (the sidebar), and <theme>-progress.png (the cook's progress
// notification), <theme>-results.png (the workbench with the results panel), <theme>-charts.png
// (the panel scrolled to its charts), <theme>-analyses-<id>.png (each analyses section, and
// -angles-table: the heatmap's table view), <theme>-compare.png and <theme>-compare-chart.png (the
// compare panel on the greedy and the uniform soup); failure-<n><suffix>.png when a step fails.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const VIEWPORT = { width: 1600, height: 1000 };
/** The title of the extension's activity-bar container (package.json contributes.viewsContainers). */
export const CONTAINER_TITLE = 'Model Soups';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Whether package.json contributes an activity-bar container with this title. */
export function manifestContributesContainer(title) {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const containers = manifest.contributes?.viewsContainers?.activitybar ?? [];
  return containers.some((c) => c.title === title);
}

// ---------------------------------------------------------------------------------------------
// helpers

/** Opens the workbench URL and waits until it is laid out and the explorer lists the workspace. */
export async function openWorkbench(page, url, { timeoutMs = 120_000 } = {}) {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
  // The explorer shows the workspace once the remote file system answers.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/** The activity-bar item whose aria-label starts with `labelPrefix`. */
export function activityBarItem(page, labelPrefix) {
  return page.locator(`.activitybar [aria-label^="${labelPrefix}"]`).first();
}

/** Clicks an activity-bar item; resolves false (instead of throwing) when it does not show up. */
export async function clickActivityBarItem(page, labelPrefix, { timeoutMs = 30_000 } = {}) {
  const item = activityBarItem(page, labelPrefix);
  try {
    await item.waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    return false;
  }
  await item.click();
  return true;
}

/** Opens the command palette (F1) and resolves with its input box. */
export async function openPalette(page, { timeoutMs = 15_000 } = {}) {
  await page.locator('.monaco-workbench').click({ position: { x: 800, y: 5 } }).catch(() => {});
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  return input;
}

/** Runs a command by its palette title (e.g. 'Model Soups: Cook Greedy Soup'): F1, type, Enter. */
export async function runCommand(page, title, { timeoutMs = 15_000 } = {}) {
  const input = await openPalette(page, { timeoutMs });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: timeoutMs });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: timeoutMs }).catch(() => {});
}

/** The content frame of the active webview (VS Code nests it: outer iframe, then #active-frame). */
export function webviewFrame(page) {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

/** Waits until a webview is ready and, if given, shows `text` (or matches `selector`). */
export async function waitForWebview(page, { text, selector = 'body', timeoutMs = 60_000 } = {}) {
  const frame = webviewFrame(page);
  const target = text ? frame.getByText(text).first() : frame.locator(selector).first();
  await target.waitFor({ state: 'visible', timeout: timeoutMs });
  return frame;
}

/** Tree rows of the visible views (sidebar trees), e.g. to count ingredients. */
export function treeRows(page, viewSelector = '.part.sidebar') {
  return page.locator(`${viewSelector} .monaco-list-row`);
}

/** Saves `test-results/<name><theme suffix>.png` and resolves with its path. */
export async function screenshot(page, ctx, name) {
  mkdirSync(ctx.resultsDir, { recursive: true });
  const path = join(ctx.resultsDir, `${name}${ctx.suffix ?? ''}.png`);
  // Park the mouse on the status bar's empty middle so no hover tooltip covers the shot, and let
  // transitions and lazy renders settle.
  await page.mouse.move(VIEWPORT.width / 2, VIEWPORT.height - 8);
  await page.waitForTimeout(750);
  await page.screenshot({ path });
  ctx.log(`screenshot ${path}`);
  return path;
}

// ---------------------------------------------------------------------------------------------
// the drive

/** The example workspace's runs, best held-out accuracy first (examples/fashion-soup). */
export const EXPECTED_RUNS = { count: 12, first: 'lightning_logs/version_0', firstAccuracy: '87.8 %', last: 'sweep-b05' };
/** What the greedy soup of the example keeps (test/vscode/cooking.test.ts checks the members). */
export const EXPECTED_GREEDY_MEMBERS = 5;
/**
 * User settings of the drive's code-server (runCodeServer.mjs adds them): the cook runs every
 * analysis, the learned soup too (through the comma-list form of the setting), so that the
 * panel shows all four analyses sections; a small learned budget keeps the cook short.
 */
export const DRIVE_SETTINGS = { 'modelSoups.analyses.run': 'calibration, wiseft, angles, learned', 'modelSoups.analyses.learnedBudget': 20 };
/** The analyses sections the panel shows after that cook (webview/analysesView.ts `data-analysis`). */
export const EXPECTED_ANALYSES = ['calibration', 'wiseft', 'angles', 'learned'];
/** A cook of the example with every analysis took over four minutes on a loaded 2-core machine. */
const COOK_TIMEOUT_MS = Number(process.env.MODEL_SOUPS_UI_COOK_TIMEOUT_MS || 480_000);

/** `dark` or `light`: screenshots of this drive are named `<theme>-<what>.png`. */
function themeName(ctx) {
  return ctx.theme ?? (ctx.suffix === '-light' ? 'light' : 'dark');
}

/** Saves `test-results/<theme>-<what>.png` (e.g. `dark-results.png`). */
export async function themedScreenshot(page, ctx, what) {
  return screenshot(page, { ...ctx, suffix: '' }, `${themeName(ctx)}-${what}`);
}

/**
 * Runs the item `label` of the open context menu as a user does: the pointer onto the item (it
 * highlights), then the click. VS Code's menus ignore mouseup on an item until a 100 ms timer in
 * the page has run (menu.ts `runOnceToEnableMouseUp`: the release of the button that opened the
 * menu must not run an item). Right after a click on a soup brings its results panel forward,
 * that timer can still be pending when Playwright's click arrives: the menu stays open and
 * nothing runs (14 of 64 such clicks in trials; a second click a moment later always ran). So
 * wait on the page's own clock, whose timer cannot run before the menu's; should the menu still
 * be open after the click, press Enter on the highlighted item. Resolves with the way that ran it.
 */
async function runContextMenuItem(page, label, { timeoutMs = 10_000 } = {}) {
  const item = page.locator('.monaco-menu .action-item', { hasText: label }).first();
  await item.waitFor({ state: 'visible', timeout: timeoutMs });
  await item.hover();
  const highlighted = page.locator('.monaco-menu .action-item.focused', { hasText: label }).first();
  await highlighted.waitFor({ state: 'visible', timeout: timeoutMs });
  await page.evaluate(() => new Promise((done) => setTimeout(done, 250)));
  await item.click();
  if (await item.waitFor({ state: 'hidden', timeout: 5_000 }).then(() => true, () => false)) return 'click';
  await highlighted.waitFor({ state: 'visible', timeout: timeoutMs });
  await page.keyboard.press('Enter');
  await item.waitFor({ state: 'hidden', timeout: timeoutMs });
  return 'Enter (the click left the menu open)';
}

/** A view pane of the sidebar by its title, e.g. 'Ingredients'. */
export function sidebarPane(page, title) {
  return page.locator('.part.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: title }) }).first();
}

/** The aria-labels of a pane's tree rows, top to bottom (runs say "<id>, <accuracy> · <layout>, included"). */
async function rowLabels(pane, { text = false } = {}) {
  return pane.locator('.monaco-list-row').evaluateAll((rows, useText) =>
    rows
      .map((r) => ({ top: Number.parseFloat(r.style.top) || 0, label: (useText ? r.innerText.replace(/\s+/g, ' ') : r.getAttribute('aria-label')) ?? r.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map((r) => r.label),
  text);
}

/** Polls `probe` (resolving to a value or undefined) until it yields a value or time runs out. */
async function poll(probe, { timeoutMs, intervalMs = 500, what }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe().catch((err) => ({ error: err }));
    if (last !== undefined && !(last && last.error)) return last;
    if (Date.now() > deadline) {
      const why = last && last.error ? `: ${last.error.message ?? last.error}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Notifications show as toasts, or, when the workbench runs with the smoke-test driver (the harness
// needs it for the mocha suite) VS Code suppresses toasts, as items of the notification center.
const NOTIFICATIONS = '.notifications-toasts .notification-toast, .notifications-center .notification-list-item';

/** A notification (toast or notification-center item) showing `hasText`. */
export function notification(page, hasText) {
  return page.locator(NOTIFICATIONS, { hasText }).first();
}

/** Texts of the notifications on screen (for error messages). */
async function notificationTexts(page) {
  const texts = await page.locator(NOTIFICATIONS).allInnerTexts().catch(() => []);
  return texts.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

/** Shows the notification center unless a toast of `hasText` appears by itself within `graceMs`. */
async function revealNotification(page, ctx, hasText, { graceMs = 3_000 } = {}) {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText }).first();
  if (await toast.waitFor({ state: 'visible', timeout: graceMs }).then(() => true, () => false)) return;
  if (await page.locator('.notifications-center.visible').isVisible().catch(() => false)) return;
  ctx.log('no toast (the smoke-test driver suppresses them): opening the notification center');
  await runCommand(page, 'Notifications: Show Notifications');
  await page.locator('.notifications-center').waitFor({ state: 'visible', timeout: 10_000 });
}

/**
 * Runs in the results webview: what a screen reader and the keyboard get. One short live line
 * (not the whole page), row headers for the model column, "best" in the cells' accessible
 * names, the greedy steps, the scatter's points and the shift bars as tables, focusable charts,
 * and a scatter zoomed to the runs.
 */
function accessibilityProblems() {
  const problems = [];
  const live = [...document.querySelectorAll('[aria-live]')];
  if (live.length !== 1 || live[0].getAttribute('role') !== 'status') problems.push(`expected one live region, the status line; found ${live.map((e) => e.tagName + '#' + e.id).join(', ')}`);
  else if (!live[0].textContent || live[0].textContent.length > 200) problems.push(`the live status line is empty or long: "${live[0].textContent}"`);
  const rows = document.querySelectorAll('vscode-data-grid-row:not([row-type="header"])').length;
  const rowHeaders = document.querySelectorAll('vscode-data-grid-cell[cell-type="rowheader"]').length;
  if (rowHeaders !== rows) problems.push(`${rowHeaders} rowheader cells for ${rows} rows`);
  const best = [...document.querySelectorAll('vscode-data-grid-cell.best')];
  if (!best.every((c) => /best in column/.test(c.getAttribute('aria-label') ?? ''))) problems.push('a best cell does not say "best in column" in its accessible name');
  if (!best.every((c) => c.querySelector('.best-mark')?.getAttribute('aria-hidden') === 'true')) problems.push('a ★ is not hidden from screen readers');
  const steps = document.querySelectorAll('details.steps tbody tr').length;
  if (steps !== 12) problems.push(`the greedy steps table has ${steps} rows, not 12`);
  // The scatter's and the shift bars' numbers as tables: the soup, the ensemble, the uniform soup and 12 runs; 5 shift sets.
  const points = document.querySelectorAll('.chart:has(#chart-scatter) details.chart-numbers tbody tr').length;
  if (points !== 15) problems.push(`the scatter's table has ${points} rows, not 15`);
  const shiftRows = document.querySelectorAll('.chart:has(#chart-shifts) details.chart-numbers tbody tr').length;
  if (shiftRows !== 5) problems.push(`the shift bars' table has ${shiftRows} rows, not 5`);
  const canvases = [...document.querySelectorAll('.charts canvas')];
  if (!canvases.every((c) => c.tabIndex === 0 && c.getAttribute('aria-label'))) problems.push('a chart is not focusable or has no accessible name');
  // The example's uniform soup (62 %) lies far below the runs: on the edge, not stretching the axes.
  const scatter = document.getElementById('chart-scatter')?.getAttribute('aria-label') ?? '';
  if (!/Off scale, drawn on the edge: Uniform soup at /.test(scatter)) problems.push(`the scatter does not put the uniform soup on its edge: "${scatter}"`);
  return problems;
}

/**
 * Runs in the results webview: each expected analyses section is there, and each chart in them
 * is an image with an accessible name, next to a "Table view" button (not pressed,
 * aria-controls naming the chart and a hidden table that has rows).
 */
function analysesProblems(_body, expected) {
  const problems = [];
  for (const id of expected) {
    const section = document.querySelector(`section.analysis[data-analysis="${id}"]`);
    if (!section) {
      problems.push(`no "${id}" analyses section (sections: ${[...document.querySelectorAll('section.analysis')].map((s) => s.dataset.analysis).join(', ')})`);
      continue;
    }
    const figures = [...section.querySelectorAll('figure.analysis-figure')];
    if (figures.length === 0) problems.push(`the ${id} section has no chart`);
    for (const f of figures) {
      const name = f.querySelector('h3')?.textContent ?? '?';
      const svg = f.querySelector('.figure-chart svg');
      if (!svg || svg.getAttribute('role') !== 'img' || !svg.getAttribute('aria-label') || !svg.querySelector(':scope > title')) problems.push(`${id} / ${name}: the chart is not an image with a name and a title`);
      else if (svg.getBoundingClientRect().height < 50 || svg.querySelectorAll('circle, rect, polygon, polyline').length < 3) problems.push(`${id} / ${name}: the chart is empty`);
      const button = f.querySelector('button.view-toggle');
      if (!button) {
        problems.push(`${id} / ${name}: no "Table view" toggle`);
        continue;
      }
      const controls = (button.getAttribute('aria-controls') ?? '').split(/\s+/).map((i) => document.getElementById(i));
      if (button.getAttribute('aria-pressed') !== 'false') problems.push(`${id} / ${name}: the toggle is not aria-pressed="false" at first`);
      if (controls.length !== 2 || controls.some((c) => !c) || !controls.includes(svg?.parentElement)) problems.push(`${id} / ${name}: aria-controls does not name the chart and the table`);
      const table = f.querySelector('.figure-table');
      if (!table || !table.hidden || table.querySelectorAll('tbody tr').length === 0) problems.push(`${id} / ${name}: no hidden table view with rows`);
    }
  }
  return problems;
}

/** Saves `test-results/<theme>-<what>.png` of one element (a panel section). */
async function themedScreenshotOf(locator, ctx, what) {
  mkdirSync(ctx.resultsDir, { recursive: true });
  const path = join(ctx.resultsDir, `${themeName(ctx)}-${what}.png`);
  await locator.scrollIntoViewIfNeeded();
  await locator.screenshot({ path });
  ctx.log(`screenshot ${path}`);
  return path;
}

/** The run rows of the Ingredients view (the pretrained reference row is not a run). */
function runLabels(labels) {
  return labels.filter((l) => /, (included|excluded)$/.test(l) || /^\S+, \d+(\.\d+)? % · /.test(l));
}

export const STEPS = [
  {
    name: 'open the workbench',
    run: async (page, ctx) => {
      await openWorkbench(page, ctx.url);
    },
  },
  {
    name: `open the "${CONTAINER_TITLE}" activity-bar container`,
    run: async (page, ctx) => {
      if (!manifestContributesContainer(CONTAINER_TITLE)) throw new Error(`package.json contributes no activity-bar container titled "${CONTAINER_TITLE}"`);
      if (!(await clickActivityBarItem(page, CONTAINER_TITLE))) {
        throw new Error(`package.json contributes "${CONTAINER_TITLE}" but no activity-bar item with that aria-label appeared`);
      }
      await page.locator('.part.sidebar').waitFor({ state: 'visible', timeout: 15_000 });
      await sidebarPane(page, 'Ingredients').waitFor({ state: 'visible', timeout: 15_000 });
    },
  },
  {
    name: `the Ingredients view lists the ${EXPECTED_RUNS.count} runs, best first`,
    run: async (page, ctx) => {
      const pane = sidebarPane(page, 'Ingredients');
      // Discovery runs after activation: wait for the rows instead of sleeping.
      let labels = [];
      try {
        await poll(
          async () => {
            labels = runLabels(await rowLabels(pane));
            return labels.length >= EXPECTED_RUNS.count ? labels : undefined;
          },
          { timeoutMs: 60_000, what: `${EXPECTED_RUNS.count} run rows` },
        );
      } catch (err) {
        throw new Error(`${err.message}; the Ingredients view shows ${labels.length} run rows: ${JSON.stringify(await rowLabels(pane))}`);
      }
      const problems = [];
      if (labels.length !== EXPECTED_RUNS.count) problems.push(`expected ${EXPECTED_RUNS.count} run rows, found ${labels.length}`);
      if (!labels[0].startsWith(`${EXPECTED_RUNS.first}, `)) problems.push(`expected "${EXPECTED_RUNS.first}" first, found "${labels[0]}"`);
      if (!labels[0].includes(EXPECTED_RUNS.firstAccuracy)) problems.push(`expected the first row to show "${EXPECTED_RUNS.firstAccuracy}", found "${labels[0]}"`);
      if (!labels.at(-1).startsWith(`${EXPECTED_RUNS.last}, `)) problems.push(`expected "${EXPECTED_RUNS.last}" last, found "${labels.at(-1)}"`);
      if (problems.length > 0) throw new Error(`${problems.join('; ')}. Rows: ${JSON.stringify(labels)}`);
      ctx.log(`Ingredients: ${labels.length} runs, "${labels[0]}" … "${labels.at(-1)}"`);
      await screenshot(page, ctx, 'workbench');
    },
  },
  {
    name: 'Configure Evaluation Data is one multi-step input: "1/4" … "4/4", the test step leaves out the held-out file',
    run: async (page, ctx) => {
      await runCommand(page, 'Model Soups: Configure Evaluation Data');
      const widget = page.locator('.quick-input-widget');
      const title = widget.locator('.quick-input-title');
      const rows = widget.locator('.monaco-list-row');
      const expectStep = async (n, text) => {
        await poll(async () => ((await title.innerText()).includes(text) && (await widget.innerText()).includes(`${n}/4`) ? true : undefined), {
          timeoutMs: 15_000,
          what: `step ${n}/4 "${text}"`,
        }).catch(async (err) => {
          throw new Error(`${err.message}; the quick input shows "${(await widget.innerText().catch(() => '')).replace(/\s+/g, ' ')}"`);
        });
        await page.waitForTimeout(300);
      };
      await expectStep(1, 'Held-out');
      await themedScreenshot(page, ctx, 'setup-heldout');
      await page.keyboard.press('Enter');
      await expectStep(2, 'Test dataset');
      const offered = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
      if (offered.some((t) => t.includes('heldout_val.npz'))) throw new Error(`the test step offers the held-out file again: ${JSON.stringify(offered)}`);
      if (!(await widget.locator('.quick-input-titlebar .action-label[aria-label*="Back"], .quick-input-titlebar .codicon-quick-input-back').count())) throw new Error('step 2 has no Back button');
      await page.keyboard.press('Enter');
      await expectStep(3, 'Distribution-shift');
      if (!(await widget.innerText()).includes('No shift sets')) throw new Error('the shift step offers no "No shift sets"');
      await themedScreenshot(page, ctx, 'setup-shifts');
      await page.keyboard.press('Enter');
      await expectStep(4, 'Pretrained');
      const models = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
      const first = models.findIndex((t) => t.includes('.onnx'));
      if (first < 0 || !models[first].includes('pretrained/model.onnx')) throw new Error(`the pretrained step does not offer pretrained/model.onnx first: ${JSON.stringify(models)}`);
      await page.keyboard.press('Enter');
      await widget.waitFor({ state: 'hidden', timeout: 10_000 });
      await revealNotification(page, ctx, 'wrote modelsoups.json');
      await notification(page, 'wrote modelsoups.json').waitFor({ state: 'visible', timeout: 15_000 });
      ctx.log('setup: four steps, written');
      await runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
      await page.keyboard.press('Escape');
    },
  },
  {
    name: 'run "Model Soups: Cook Greedy Soup" from the palette and screenshot its progress',
    run: async (page, ctx) => {
      await runCommand(page, 'Model Soups: Cook Greedy Soup');
      const title = 'Model Soups: cooking Greedy soup';
      await revealNotification(page, ctx, title);
      const item = notification(page, title);
      try {
        await item.waitFor({ state: 'visible', timeout: 30_000 });
      } catch {
        throw new Error(`no "${title}" progress notification within 30 s; notifications: ${JSON.stringify(await notificationTexts(page))}`);
      }
      // The notification offers Cancel while the job runs.
      if ((await item.locator('.monaco-button', { hasText: 'Cancel' }).count()) === 0) {
        throw new Error(`the progress notification offers no Cancel button: "${(await item.innerText()).replace(/\s+/g, ' ')}"`);
      }
      // Wait for a phase message after the title ("evaluating …") so the picture shows progress.
      await poll(async () => ((await item.innerText()).replace(/\s+/g, ' ').length > title.length + 3 ? true : undefined), { timeoutMs: 10_000, what: 'a progress message' }).catch(() => {});
      if (await item.isVisible()) {
        ctx.log(`progress: "${(await item.innerText()).replace(/\s+/g, ' ').trim()}"`);
        await themedScreenshot(page, ctx, 'progress');
      } else {
        ctx.log('note: the cook finished before the progress screenshot');
      }
      // With the notification hidden, one status-bar item describes the job, and a click on it
      // shows the progress (with its Cancel) instead of cancelling.
      // Escape hides the toasts (notifications.hideToasts), as a user dismisses them.
      if (await page.locator('.notifications-toasts .notification-toast').first().isVisible().catch(() => false)) {
        await page.locator('.monaco-workbench .part.editor').click({ position: { x: 400, y: 200 } }).catch(() => {});
        await page.keyboard.press('Escape');
      }
      if (await page.locator('.notifications-center.visible').isVisible().catch(() => false)) await page.keyboard.press('Escape');
      const jobItems = page.locator('.part.statusbar .statusbar-item', { hasText: /cooking|Greedy soup/i });
      // VS Code adds its own item for a hidden progress notification; it is the only one.
      const count = await poll(async () => ((await jobItems.count()) > 0 ? jobItems.count() : undefined), { timeoutMs: 10_000, what: 'the job in the status bar' }).catch(() => 0);
      if (count > 1) throw new Error(`${count} status-bar items describe one job: ${JSON.stringify(await jobItems.allInnerTexts())}`);
      if (count === 0) ctx.log('status bar: no item for the job (the notification is its one place)');
      else {
        ctx.log(`status bar: "${(await jobItems.first().innerText()).trim()}"`);
        await jobItems.first().click().catch(() => {});
        const shown = notification(page, title);
        if (await shown.waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false)) {
          // A click shows the progress, with its Cancel; it never cancels by itself.
          if ((await shown.locator('.monaco-button', { hasText: 'Cancel' }).count()) === 0) throw new Error('the progress shown from the status bar has no Cancel');
          ctx.log('status bar click: the progress notification with Cancel');
        }
      }
    },
  },
  {
    name: 'the cook ends: a notification names the result and the results panel opens by itself',
    run: async (page, ctx) => {
      const started = Date.now();
      // Nobody clicks "Show Results": the panel opens by itself when the cook ends.
      const tab = page.locator('.tabs-container .tab', { hasText: /Soup: greedy-/ }).first();
      await tab.waitFor({ state: 'visible', timeout: COOK_TIMEOUT_MS }).catch(async () => {
        throw new Error(`no results panel opened within ${COOK_TIMEOUT_MS / 1000} s (MODEL_SOUPS_UI_COOK_TIMEOUT_MS); notifications: ${JSON.stringify(await notificationTexts(page))}`);
      });
      ctx.log(`the cook ended after ${((Date.now() - started) / 1000).toFixed(1)} s more; its panel is open`);
      // The notification names the result too (in the center when no toast shows it).
      await revealNotification(page, ctx, /Show Results|cooking Greedy soup (failed|was cancelled)/);
      const done = notification(page, 'Show Results');
      const failed = notification(page, /cooking Greedy soup (failed|was cancelled)/);
      const outcome = await Promise.race([
        done.waitFor({ state: 'visible', timeout: 30_000 }).then(() => 'done'),
        failed.waitFor({ state: 'visible', timeout: 30_000 }).then(() => 'failed'),
      ]).catch(async () => {
        throw new Error(`the cook ended without a "Show Results" notification; notifications: ${JSON.stringify(await notificationTexts(page))}`);
      });
      if (outcome !== 'done') throw new Error(`the cook did not succeed: ${JSON.stringify(await notificationTexts(page))}`);
      ctx.log(`done: "${(await done.innerText()).replace(/\s+/g, ' ').trim()}"`);
      await themedScreenshot(page, ctx, 'done');
      await runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
      await page.keyboard.press('Escape');
    },
  },
  {
    name: 'the results panel shows the table and draws its charts',
    run: async (page, ctx) => {
      let frame;
      try {
        frame = await waitForWebview(page, { selector: 'vscode-data-grid-row.row-soup', timeoutMs: 120_000 });
      } catch (err) {
        throw new Error(`the results panel did not show its table: ${err.message}`);
      }
      const body = frame.locator('body');
      // Every canvas must have pixels on it: chart.js draws synchronously (animation off).
      const charts = await poll(
        async () => {
          const r = await body.evaluate(() => {
            const canvases = [...document.querySelectorAll('.charts canvas')];
            const painted = canvases.filter((c) => {
              if (c.width === 0 || c.height === 0) return false;
              const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
              if (!data) return false;
              for (let i = 3; i < data.length; i += 4 * 7) if (data[i] !== 0) return true;
              return false;
            });
            return { canvases: canvases.length, painted: painted.length, notes: document.querySelectorAll('.chart-note').length };
          });
          return r.canvases >= 3 && r.painted === r.canvases ? r : undefined;
        },
        { timeoutMs: 30_000, what: 'three painted chart canvases' },
      );
      const rows = await frame.locator('vscode-data-grid-row:not([row-type="header"])').count();
      const soupRow = (await frame.locator('vscode-data-grid-row.row-soup').innerText()).replace(/\s+/g, ' ').trim();
      const problems = [];
      if (!/greedy soup/i.test(soupRow)) problems.push(`the first row does not say "Greedy soup": "${soupRow}"`);
      if (!soupRow.includes(`soup of ${EXPECTED_GREEDY_MEMBERS}`)) problems.push(`the soup row does not say "soup of ${EXPECTED_GREEDY_MEMBERS}": "${soupRow}"`);
      // soup, uniform, ensemble, best individual and the 12 ingredients
      if (rows < EXPECTED_RUNS.count + 4) problems.push(`expected ${EXPECTED_RUNS.count + 4} table rows, found ${rows}`);
      const summary = (await frame.locator('header .summary').innerText()).replace(/\s+/g, ' ');
      const counts = `${EXPECTED_GREEDY_MEMBERS} of ${EXPECTED_RUNS.count} checked (${EXPECTED_RUNS.count} found)`;
      if (!summary.includes(counts)) problems.push(`the header does not say "${counts}": "${summary}"`);
      const bestCells = await frame.locator('vscode-data-grid-cell.best').count();
      if (bestCells === 0) problems.push('no table cell is marked as the best of its column');
      problems.push(...(await body.evaluate(accessibilityProblems)));
      if (problems.length > 0) throw new Error(problems.join('; '));
      // The charts are reachable with Tab.
      await frame.locator('vscode-button').first().focus();
      let reached = false;
      for (let i = 0; i < 60 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await body.evaluate(() => document.activeElement?.tagName === 'CANVAS');
      }
      if (!reached) throw new Error('Tab never reaches a chart');
      await body.evaluate(() => {
        if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
        window.scrollTo(0, 0);
      });
      ctx.log(`results: ${rows} table rows, ${charts.painted} charts drawn, ${bestCells} best cells; soup row "${soupRow}"`);
      await themedScreenshot(page, ctx, 'results');
      // The charts sit below the table: scroll the panel to them for a second picture.
      await body.evaluate(() => document.querySelector('.charts')?.closest('section')?.scrollIntoView({ block: 'start' }));
      await themedScreenshot(page, ctx, 'charts');
      await body.evaluate(() => window.scrollTo(0, 0));
    },
  },
  {
    name: 'the panel shows the four analyses sections, each chart with a keyboard "Table view" toggle holding the same numbers',
    run: async (page, ctx) => {
      const frame = await waitForWebview(page, { selector: 'section.analysis[data-analysis="calibration"]', timeoutMs: 60_000 });
      const body = frame.locator('body');
      const problems = await body.evaluate(analysesProblems, EXPECTED_ANALYSES);
      if (problems.length > 0) throw new Error(problems.join('; '));
      // The heatmap's toggle, from the keyboard: Space shows the table (the same matrix), Enter the chart again.
      const heatmap = frame.locator('section[data-analysis="angles"] figure.analysis-figure').first();
      const toggle = heatmap.locator('button.view-toggle');
      await toggle.focus();
      await page.keyboard.press('Space');
      const shown = await heatmap.evaluate((f) => ({
        pressed: f.querySelector('button.view-toggle').getAttribute('aria-pressed'),
        chartHidden: f.querySelector('.figure-chart').hidden,
        tableVisible: !f.querySelector('.figure-table').hidden && f.querySelector('.figure-table table').getBoundingClientRect().height > 0,
        rows: f.querySelectorAll('.figure-table tbody tr').length,
        cells: f.querySelectorAll('svg rect.heat-cell').length,
      }));
      if (shown.pressed !== 'true' || !shown.chartHidden || !shown.tableVisible) throw new Error(`Space on the heatmap's "Table view" did not show its table: ${JSON.stringify(shown)}`);
      // K rows; the K·(K−1) coloured cells plus the legend's steps.
      if (shown.rows !== EXPECTED_RUNS.count) throw new Error(`the angle table has ${shown.rows} rows, not ${EXPECTED_RUNS.count}`);
      if (shown.cells < EXPECTED_RUNS.count * (EXPECTED_RUNS.count - 1)) throw new Error(`the heatmap has ${shown.cells} cells for ${EXPECTED_RUNS.count} ingredients`);
      await themedScreenshotOf(heatmap, ctx, 'analyses-angles-table');
      await page.keyboard.press('Enter');
      if ((await toggle.getAttribute('aria-pressed')) !== 'false' || (await heatmap.locator('.figure-chart').isHidden())) throw new Error('Enter on the pressed toggle did not bring the chart back');
      // The reliability diagram follows the dataset picker.
      const picker = frame.locator('section[data-analysis="calibration"] select.dataset-select');
      const options = await picker.locator('option').allInnerTexts();
      for (const want of ['held-out', 'test', 'rotate', 'shift average (pooled)']) if (!options.includes(want)) throw new Error(`the reliability dataset picker lacks "${want}": ${JSON.stringify(options)}`);
      await picker.selectOption({ label: 'rotate' });
      const label = await frame.locator('section[data-analysis="calibration"] svg.analysis-svg').first().getAttribute('aria-label');
      if (!/on rotate:/.test(label ?? '')) throw new Error(`after picking "rotate" the reliability diagram says "${label}"`);
      await picker.selectOption({ label: 'test' });
      ctx.log(`analyses: ${EXPECTED_ANALYSES.join(', ')}; heatmap table ${shown.rows} rows; reliability datasets ${options.length}`);
      // A tall viewport, so each section fits in the picture whole; no focus ring in the pictures.
      await body.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
      await page.setViewportSize({ width: VIEWPORT.width, height: 1900 });
      try {
        await page.waitForTimeout(500);
        for (const id of EXPECTED_ANALYSES) await themedScreenshotOf(frame.locator(`section[data-analysis="${id}"]`), ctx, `analyses-${id}`);
      } finally {
        await page.setViewportSize(VIEWPORT);
      }
      await body.evaluate(() => window.scrollTo(0, 0));
    },
  },
  {
    name: 'at about 750 px the table scrolls sideways under a sticky model column, full ids in tooltips',
    run: async (page, ctx) => {
      // Activity bar + sidebar take about 350 px: the panel gets about 750.
      await page.setViewportSize({ width: 1100, height: VIEWPORT.height });
      try {
        const frame = await waitForWebview(page, { selector: 'vscode-data-grid-row.row-soup' });
        const body = frame.locator('body');
        await page.waitForTimeout(500);
        const before = await body.evaluate(() => {
          const scroller = document.querySelector('.table-scroll');
          const firstIngredient = document.querySelector('vscode-data-grid-row.row-ingredient vscode-data-grid-cell[grid-column="1"]');
          return { width: window.innerWidth, scrollWidth: scroller.scrollWidth, clientWidth: scroller.clientWidth, left: firstIngredient.getBoundingClientRect().left, title: firstIngredient.title, text: firstIngredient.textContent };
        });
        ctx.log(`narrow panel: ${before.width} px wide, table ${before.scrollWidth} px in ${before.clientWidth} px`);
        if (before.width > 820 || before.width < 600) throw new Error(`the panel is ${before.width} px wide, not about 750`);
        if (before.scrollWidth <= before.clientWidth) throw new Error(`the table does not scroll sideways (${before.scrollWidth} px in ${before.clientWidth} px)`);
        if (!before.title.startsWith(before.text)) throw new Error(`the model cell's tooltip "${before.title}" does not give the whole id "${before.text}"`);
        await themedScreenshot(page, ctx, 'narrow');
        const after = await body.evaluate(() => {
          const scroller = document.querySelector('.table-scroll');
          scroller.scrollLeft = scroller.scrollWidth;
          const cell = document.querySelector('vscode-data-grid-row.row-ingredient vscode-data-grid-cell[grid-column="1"]');
          const last = document.querySelector('vscode-data-grid-row.row-ingredient vscode-data-grid-cell:last-child');
          const box = scroller.getBoundingClientRect();
          return { left: cell.getBoundingClientRect().left, lastRight: last.getBoundingClientRect().right, right: box.right };
        });
        if (Math.abs(after.left - before.left) > 1) throw new Error(`the model column scrolled away (${before.left} -> ${after.left} px)`);
        if (after.lastRight > after.right + 1) throw new Error('the last column cannot be scrolled into view');
        await themedScreenshot(page, ctx, 'narrow-scrolled');
        await body.evaluate(() => (document.querySelector('.table-scroll').scrollLeft = 0));
      } finally {
        await page.setViewportSize(VIEWPORT);
      }
    },
  },
  {
    name: 'the Soups view lists the new soup',
    run: async (page, ctx) => {
      const pane = sidebarPane(page, 'Soups');
      const label = await poll(
        async () => (await rowLabels(pane, { text: true })).find((l) => /^greedy-\d{8}-\d{6}/.test(l.trim())),
        { timeoutMs: 30_000, what: 'a greedy-<date> row in the Soups view' },
      ).catch(async (err) => {
        throw new Error(`${err.message}; Soups rows: ${JSON.stringify(await rowLabels(pane, { text: true }))}`);
      });
      if (!label.includes(`${EXPECTED_GREEDY_MEMBERS} members`)) throw new Error(`the soup row does not say "${EXPECTED_GREEDY_MEMBERS} members": "${label}"`);
      ctx.log(`Soups: "${label}"`);
    },
  },
  {
    name: 'Compare Soups… on two soups selected in the Soups view: one panel, B − A per dataset with its sign in words',
    run: async (page, ctx) => {
      // A second soup to compare with: the uniform soup of the same runs.
      await runCommand(page, 'Model Soups: Cook Uniform Soup');
      const tab = page.locator('.tabs-container .tab', { hasText: /Soup: uniform-/ }).first();
      await tab.waitFor({ state: 'visible', timeout: COOK_TIMEOUT_MS }).catch(async () => {
        throw new Error(`the uniform soup's panel did not open within ${COOK_TIMEOUT_MS / 1000} s; notifications: ${JSON.stringify(await notificationTexts(page))}`);
      });
      await runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
      await page.keyboard.press('Escape');
      // Select both soups as a user does: click one, Ctrl+click the other, then the context menu.
      const pane = sidebarPane(page, 'Soups');
      const soupRow = (re) => pane.locator('.monaco-list-row', { hasText: re }).first();
      const greedy = soupRow(/greedy-\d{8}-\d{6}/);
      const uniform = soupRow(/uniform-\d{8}-\d{6}/);
      await uniform.waitFor({ state: 'visible', timeout: 30_000 });
      // A click on a soup also shows its results: let that panel come up before going on.
      await greedy.click();
      await page.locator('.tabs-container .tab.active', { hasText: /Soup: greedy-/ }).waitFor({ state: 'visible', timeout: 30_000 });
      await uniform.click({ modifiers: ['Control'] });
      const selectedRows = pane.locator('.monaco-list-row[aria-selected="true"]');
      const selected = await poll(async () => ((await selectedRows.count()) === 2 ? selectedRows.allInnerTexts() : undefined), { timeoutMs: 5_000, intervalMs: 100, what: 'the two soups selected' }).catch(async (err) => {
        throw new Error(`${err.message}; selected rows: ${JSON.stringify(await selectedRows.allInnerTexts())}`);
      });
      await uniform.click({ button: 'right' });
      const path = await runContextMenuItem(page, 'Compare Soups…');
      ctx.log(`Compare Soups… on ${selected.map((t) => t.match(/\w+-\d{8}-\d{6}/)?.[0] ?? t).join(' and ')}, by ${path}`);
      await page.locator('.tabs-container .tab', { hasText: /Compare: / }).first().waitFor({ state: 'visible', timeout: 30_000 }).catch(async () => {
        throw new Error(`no "Compare: " tab within 30 s after Compare Soups… (by ${path}); notifications: ${JSON.stringify(await notificationTexts(page))}`);
      });
      const frame = await waitForWebview(page, { selector: 'table.compare-table tbody tr', timeoutMs: 60_000 });
      const body = frame.locator('body');
      const shown = await body.evaluate(() => ({
        title: document.querySelector('h1')?.textContent ?? '',
        rows: [...document.querySelectorAll('table.compare-table')[0].querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent ?? '')),
        warnings: document.querySelectorAll('.compare-warnings li').length,
        live: [...document.querySelectorAll('[aria-live]')].map((e) => e.getAttribute('role')),
        rowHeaders: [...document.querySelectorAll('table.compare-table tbody tr')].every((r) => r.firstElementChild?.tagName === 'TH' && r.firstElementChild.getAttribute('scope') === 'row'),
      }));
      const problems = [];
      if (!/greedy-.*\(A\).*uniform-.*\(B\)/.test(shown.title)) problems.push(`the title does not name greedy as A and uniform as B: "${shown.title}"`);
      const labels = shown.rows.map((r) => r[0]);
      if (labels[0] !== 'held-out' || labels.at(-1) !== 'shift average') problems.push(`unexpected dataset rows ${JSON.stringify(labels)}`);
      for (const r of shown.rows) {
        if (!/^[+−±]\d+\.\d\d pp$/.test(r[5])) problems.push(`B − A of ${r[0]} is "${r[5]}", not a signed number of points`);
        if (!/^(B higher|A higher|the same)/.test(r[6])) problems.push(`"${r[6]}" does not say in words which soup is higher on ${r[0]}`);
      }
      if (shown.warnings !== 0) problems.push(`${shown.warnings} warnings for two soups of the same data`);
      if (shown.live.length !== 1 || shown.live[0] !== 'status') problems.push(`expected one live region, the status line; found ${JSON.stringify(shown.live)}`);
      if (!shown.rowHeaders) problems.push('a table row does not start with its dataset as a row header');
      if (problems.length > 0) throw new Error(problems.join('; '));
      ctx.log(`compare: ${shown.rows.length} dataset rows; held-out ${JSON.stringify(shown.rows[0])}`);
      await themedScreenshot(page, ctx, 'compare');
      // The chart behind its toggle, for the second picture.
      await frame.locator('.compare-chart summary').click();
      await body.evaluate(() => document.querySelector('.compare-chart')?.scrollIntoView({ block: 'start' }));
      await themedScreenshot(page, ctx, 'compare-chart');
      await body.evaluate(() => window.scrollTo(0, 0));
    },
  },
];

/**
 * Runs STEPS on `page`. ctx: { url, resultsDir, suffix ('' or '-light'), log(message) }.
 * A failing step leaves `failure-<n><suffix>.png` behind and rethrows.
 */
export async function driveWorkbench(page, ctx) {
  for (const [index, step] of STEPS.entries()) {
    const started = Date.now();
    ctx.log(`step ${index + 1}/${STEPS.length}: ${step.name}`);
    try {
      await step.run(page, ctx);
    } catch (err) {
      await screenshot(page, ctx, `failure-${index + 1}`).catch(() => {});
      throw new Error(`step "${step.name}" failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    ctx.log(`step ${index + 1} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // A child process, not an import: runCodeServer.mjs imports this module.
  const runner = fileURLToPath(new URL('../host/runCodeServer.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [runner, '--ui-only', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
