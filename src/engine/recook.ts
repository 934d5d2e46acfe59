// Re-cook (issue 11, point 5): cook a soup again from its report.json, with the recorded
// method, ingredients, options and datasets, after checking that every ingredient is the file
// the soup was cooked from (same SHA-256) and still scores the same on its own metrics.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { SoupConfig } from './config';
import { parseConfig } from './config';
import type { CookOptions, CookPlan } from './cookPlan';
import type { ChosenIngredients } from './cookPhases';
import { fingerprint } from './cookPhases';
import type { CookResult } from './cookSoup';
import { cookSoup } from './cookSoup';
import { SoupError, throwIfAborted } from './errors';
import type { SoupReport } from './report';
import { REPORT_FILE } from './report';
import { readSoupReport } from './soupIndex';
import { findSoupMethod } from './soups/catalogue';
import { ANALYSIS_IDS } from './analyses/settings';
import type { AnalysisId } from './analyses/types';
import { formatPercent } from '../shared/format';

/** What to re-cook and where the new soup goes. */
export interface RecookRequest {
  /** Absolute path of the soup's `report.json`, or of its soup folder. */
  report: string;
  /** New soup folder name (default: `<original name>-recook`, then `-2`, `-3`, ... when taken). */
  name?: string;
  /** Output folder, absolute or workspace-relative (default: the folder holding the original soup). */
  outDir?: string;
  /** Cook even when ingredients changed since the original cook (the result is then no reproduction). */
  allowChanged?: boolean;
  /** The limits only a user sets (never read from a report): symlink roots, dataset memory budget. */
  limits?: Pick<SoupConfig, 'allowedRoots' | 'maxDatasetMB'>;
}

/** An ingredient that is not what the original cook read. */
export interface IngredientChange {
  id: string;
  /** Absolute path of the file that changed, is missing, or whose metrics changed. */
  file: string;
  problem: string;
}

/** A re-cook ready to run: the plan and what was checked. */
export interface RecookPlan {
  /** The cook plan; `name` and `outDir` are always set. */
  plan: CookPlan & { name: string; outDir: string };
  /** Absolute path of the report read. */
  reportPath: string;
  original: SoupReport;
  /** Ingredients in the order the original cook considered them (greedy: its candidate order). */
  ingredients: string[];
  /** Ingredients that changed (empty unless `allowChanged`: otherwise planning throws). */
  changed: IngredientChange[];
}

/** The outcome of a re-cook. */
export interface RecookResult extends CookResult {
  /** Changed ingredients cooked anyway (`allowChanged`); empty for a faithful re-cook. */
  changed: IngredientChange[];
}

/** INGREDIENT_CHANGED naming every ingredient that is not what the original cook read. */
export class IngredientsChangedError extends SoupError {
  constructor(
    readonly changes: readonly IngredientChange[],
    reportPath: string,
  ) {
    super(
      'INGREDIENT_CHANGED',
      `cannot re-cook: ${changes.length} ingredient${changes.length === 1 ? '' : 's'} changed since this soup was cooked: ${changes.map((c) => `${c.id} (${c.file}: ${c.problem})`).join('; ')}. Nothing was written`,
      reportPath,
    );
  }
}

/**
 * Reads the report and derives the re-cook: the workspace (the one holding the soup folder,
 * else the recorded one), the config (the report's `recipe`, or for older reports what its
 * fields tell, refusing with CONFIG_INVALID that lists exactly what is missing), the method and
 * the ingredients. Then hashes every ingredient's file and refuses with
 * {@link IngredientsChangedError} naming each changed or missing one, unless `allowChanged`.
 */
export async function planRecook(req: RecookRequest, signal?: AbortSignal): Promise<RecookPlan> {
  const reportPath = path.basename(req.report) === REPORT_FILE ? path.resolve(req.report) : path.resolve(req.report, REPORT_FILE);
  const soupDir = path.dirname(reportPath);
  const original = await readSoupReport(soupDir);
  const method = findSoupMethod(original.method).id;
  const workspace = workspaceOf(original, soupDir);
  if (!existsSync(workspace)) throw new SoupError('FILE_NOT_FOUND', `the workspace this soup was cooked in (${workspace}) no longer exists`, reportPath);
  const config = recookConfig(original, reportPath);
  if (req.limits?.allowedRoots) config.allowedRoots = req.limits.allowedRoots;
  if (req.limits?.maxDatasetMB !== undefined) config.maxDatasetMB = req.limits.maxDatasetMB;
  const ingredients = original.baselines.ensemble.members;
  const changed = await changedIngredients(original, workspace, signal);
  if (changed.length > 0 && !req.allowChanged) throw new IngredientsChangedError(changed, reportPath);
  const outDir = req.outDir !== undefined ? path.resolve(workspace, req.outDir) : path.dirname(soupDir);
  const name = req.name ?? `${original.name}-recook`;
  return { plan: { workspace, config, method, ingredients, name, outDir }, reportPath, original, ingredients, changed };
}

/**
 * Re-cooks a soup: {@link planRecook}, then a cook of the plan into a new soup folder (the
 * original is never replaced: a taken name gets `-2`, `-3`, ...). Before anything is
 * evaluated it checks that the scan offers the same ingredients in the same order with the
 * same held-out accuracies as the original (a changed metrics file reorders a greedy soup).
 */
export async function recookSoup(req: RecookRequest, opts: CookOptions = {}): Promise<RecookResult> {
  opts.onProgress?.({ phase: 'scan', done: 0, total: 1, message: `checking the ingredients of ${req.report}` });
  const r = await planRecook(req, opts.signal);
  const changed = [...r.changed];
  const result = await cookSoup(r.plan, {
    ...opts,
    onChosen: (chosen) => {
      const drift = scanDrift(r.original, chosen);
      if (drift.length > 0 && !req.allowChanged) throw new IngredientsChangedError(drift, r.reportPath);
      changed.push(...drift);
    },
  });
  return { ...result, changed };
}

/**
 * The workspace of a soup: the folder holding its soup folder where the report's
 * workspace-relative `soup.path` says (so a copied or moved workspace works), else the one
 * recorded.
 */
function workspaceOf(report: SoupReport, soupDir: string): string {
  const rel = path.posix.dirname(report.soup.path || '');
  const parts = rel.split('/');
  if (rel !== '.' && !path.isAbsolute(rel) && !parts.includes('..')) {
    const candidate = path.resolve(soupDir, ...parts.map(() => '..'));
    if (path.join(candidate, ...parts) === soupDir) return candidate;
  }
  return report.workspace;
}

/**
 * The config to cook with: the recorded one, validated as a `modelsoups.json` would be; for a
 * report without `recipe`, the one its fields imply, or CONFIG_INVALID listing each missing fact.
 */
function recookConfig(report: SoupReport, reportPath: string): SoupConfig {
  if (report.recipe) return parseConfig(report.recipe.config, `${reportPath} (recipe.config)`);
  const missing: string[] = [];
  const raw = configFromFields(report, missing);
  if (missing.length > 0) {
    throw new SoupError('CONFIG_INVALID', `cannot re-cook: this report (${report.schema}, written before reports recorded their config) lacks ${missing.join('; ')}. Cook the soup again with this version instead`, reportPath);
  }
  return parseConfig(raw, `${reportPath} (as recorded)`);
}

/** What a report without `recipe` tells about its config; each fact it lacks goes to `missing`. */
function configFromFields(report: SoupReport, missing: string[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const o = report.options as Partial<SoupReport['options']> | undefined;
  if (!o || typeof o.batchSize !== 'number') missing.push('"options" (batch size, scale, model input and output)');
  else {
    raw.batchSize = o.batchSize;
    raw.scale = o.scale;
    raw.model = { input: o.input, output: o.output };
    if (o.device) raw.device = o.device;
    if (o.comparison) raw.greedy = { comparison: o.comparison };
    if (o.budget !== undefined) raw.analyses = { learnedBudget: o.budget };
  }
  const dataset = (key: string): string | undefined => {
    const info = report.datasets?.[key];
    if (!info) {
      missing.push(`"datasets.${key}"`);
      return undefined;
    }
    if (info.kind === 'folder') missing.push(`the preprocessing and class names of image folder "datasets.${key}" (${info.path})`);
    else if (info.path.endsWith('.npy')) missing.push(`the labels file of "datasets.${key}" (only its images ${info.path} are recorded)`);
    return info.path;
  };
  const datasets: Record<string, unknown> = { shifts: {} };
  for (const key of ['heldout', 'test'] as const) if (report.datasets?.[key]) datasets[key] = dataset(key);
  for (const s of report.shiftNames) (datasets.shifts as Record<string, unknown>)[s] = dataset(s);
  raw.datasets = datasets;
  if (report.mapping) raw.graph = report.mapping.graph;
  const a = report.analyses;
  // A report without analyses ran none (@1 predates them).
  const ran = a ? ANALYSIS_IDS.filter((id) => analysisRan(a, id) || a.skipped.some((s) => s.id === id)) : [];
  raw.analyses = { ...(raw.analyses as object), run: ran };
  const pretrained = a?.wiseFt?.settings.pretrained ?? a?.angles?.settings.pretrained;
  if (pretrained) raw.pretrained = pretrained;
  else if (ran.includes('wiseft') || ran.includes('angles')) missing.push('the pretrained model that WiSE-FT and angles used');
  if (a?.angles) (raw.analyses as Record<string, unknown>).maxPairs = a.angles.settings.maxPairs;
  if (a?.learned) (raw.analyses as Record<string, unknown>).learnedBudget = a.learned.settings.budget;
  return raw;
}

function analysisRan(a: NonNullable<SoupReport['analyses']>, id: AnalysisId): boolean {
  const key = ({ calibration: 'calibration', wiseft: 'wiseFt', angles: 'angles', learned: 'learned' } as const)[id];
  return a[key] !== undefined;
}

/** The considered ingredients whose file is missing, unhashed in the report, or hashes differently. */
async function changedIngredients(report: SoupReport, workspace: string, signal?: AbortSignal): Promise<IngredientChange[]> {
  const changes: IngredientChange[] = [];
  for (const id of report.baselines.ensemble.members) {
    throwIfAborted(signal);
    const ing = report.ingredients.find((i) => i.id === id);
    if (!ing) {
      changes.push({ id, file: path.join(workspace, id), problem: 'not among the report\'s ingredients' });
      continue;
    }
    // The file the cook hashed: a checkpoint run's weights, else its ONNX model.
    const file = path.resolve(workspace, ing.weights?.file ?? ing.model);
    if (!ing.sha256) {
      changes.push({ id, file, problem: 'the report records no SHA-256 for it' });
      continue;
    }
    const now = (await fingerprint(file).catch(() => undefined))?.sha256;
    if (now === undefined) changes.push({ id, file, problem: 'missing or unreadable' });
    else if (now !== ing.sha256) changes.push({ id, file, problem: `SHA-256 is ${now.slice(0, 12)}…, was ${ing.sha256.slice(0, 12)}…` });
  }
  return changes;
}

/**
 * How the scan's choice differs from the original's: an ingredient whose held-out accuracy (as
 * read from its metrics) changed, or another set or order of ingredients.
 */
function scanDrift(report: SoupReport, chosen: ChosenIngredients): IngredientChange[] {
  const drift: IngredientChange[] = [];
  for (const ing of chosen.ingredients) {
    const was = report.ingredients.find((i) => i.id === ing.id);
    const run = chosen.scan.runs.find((r) => r.id === ing.id);
    if (was?.heldout !== undefined && run && run.heldout !== was.heldout) {
      const file = run.metricsSource ? path.resolve(chosen.workspace, run.metricsSource.file) : run.dir;
      drift.push({ id: ing.id, file, problem: `held-out accuracy in its metrics is now ${formatPercent(run.heldout, 2)}, was ${formatPercent(was.heldout, 2)}` });
    }
  }
  const now = chosen.ingredients.map((i) => i.id);
  const then = report.baselines.ensemble.members;
  if (drift.length === 0 && now.join('\n') !== then.join('\n')) {
    drift.push({ id: then.join(', '), file: chosen.workspace, problem: `the scan now offers ${now.join(', ')} in that order` });
  }
  return drift;
}
