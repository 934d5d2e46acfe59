import * as path from 'node:path';
import type { CookOptions, CookProgress } from '../engine/cookPlan';
import type { CookResult } from '../engine/cookSoup';
import { cookSoup } from '../engine/cookSoup';
import { recookSoup } from '../engine/recook';
import { scanWorkspace } from '../engine/discovery/scanWorkspace';
import { isCancelled, SoupError } from '../engine/errors';
import { printable } from '../engine/safeText';
import { formatPercent } from '../shared/format';
import type { Metrics, SoupReport } from '../engine/report';
import { REPORT_FILE, SOUP_MODEL_FILE, SOUP_WEIGHTS_FILE } from '../engine/report';
import { DEFAULT_OUTPUT, defaultConfig } from '../engine/config';
import { soupMethodIds } from '../engine/soups/catalogue';
import type { ParsedArgs } from './args';
import { flagValue, parseArgs, UsageError } from './args';
import { CONFIG_FLAGS, CONFIG_FLAGS_USAGE, configFromArgs } from './configFlags';
import { applyLimitFlags, LIMIT_FLAGS, LIMIT_FLAGS_USAGE } from './limitFlags';
import { removeStaleTemps } from '../engine/soupOutput';
import { datasetsNote } from '../shared/datasetSummary';
import { renderAnalyses } from './analysesSections';
import { weightsLabel } from '../engine/checkpoints/weightsLabel';
import { renderTable } from './table';

const USAGE = `Usage:
  model-soup scan [DIR] [config overrides] [--json]
  model-soup cook [DIR] [--method ${soupMethodIds().join('|')}] [--name NAME] [--ingredients ID,ID,...]
                  [config overrides] [--json]
  model-soup recook REPORT [--name NAME] [--out DIR] [--allow-changed] [limits] [--json]

DIR is the workspace holding the runs and modelsoups.json (default: the current folder).
  scan   lists the runs found, best held-out accuracy first
  cook   cooks a soup into <out>/<name>/{${SOUP_MODEL_FILE},${REPORT_FILE}} (default out: ${DEFAULT_OUTPUT})
  recook cooks the soup of REPORT (a ${REPORT_FILE} or its soup folder) again with its recorded method,
         ingredients, options and datasets, after checking each ingredient's SHA-256; the new
         soup goes beside the original as <name>-recook (--out DIR is relative to the current
         folder); --allow-changed cooks even when ingredients changed (then it is no reproduction)

${CONFIG_FLAGS_USAGE}

${LIMIT_FLAGS_USAGE}

Exit codes: 0 success, 1 error, 2 bad usage.`;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(USAGE + '\n');
      return command ? 0 : 2;
    }
    if (command === 'scan') return await scanCommand(parseArgs(rest, [...CONFIG_FLAGS, ...LIMIT_FLAGS], ['json']));
    if (command === 'cook') return await cookCommand(parseArgs(rest, [...CONFIG_FLAGS, ...LIMIT_FLAGS, 'method', 'name', 'ingredients'], ['json']));
    if (command === 'recook') return await recookCommand(parseArgs(rest, [...LIMIT_FLAGS, 'name', 'out'], ['json', 'allow-changed']));
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`model-soup: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (isCancelled(err)) {
      process.stderr.write('\nmodel-soup: cancelled; nothing was written\n');
      return 130;
    }
    // Messages name files, and file names may hold control characters: one escaped line.
    const msg = err instanceof SoupError ? printable(err.message) : `unexpected error: ${(err as Error).stack ?? String(err)}`;
    process.stderr.write(`\nmodel-soup: error: ${msg}\n`);
    return 1;
  }
}

function workspaceOf(args: ParsedArgs): string {
  if (args.positionals.length > 1) throw new UsageError(`expected one workspace folder, got ${args.positionals.length}`);
  return path.resolve(args.positionals[0] ?? '.');
}

async function scanCommand(args: ParsedArgs): Promise<number> {
  const workspace = workspaceOf(args);
  const config = applyLimitFlags(configFromArgs(workspace, args), args);
  const scan = await scanWorkspace(workspace, config);
  // Temp folders of cooks killed mid-write (only ours, proven by their marker) go here too.
  const swept = await removeStaleTemps(path.resolve(workspace, config.output));
  if (swept.length > 0) process.stderr.write(`model-soup: removed ${swept.length} temp folder${swept.length === 1 ? '' : 's'} left by a killed cook: ${swept.map(printable).join(', ')}\n`);
  if (args.flags.has('json')) {
    process.stdout.write(JSON.stringify(scan, null, 2) + '\n');
    return 0;
  }
  const rows = scan.runs.map((r, i) => [
    String(i + 1),
    r.id,
    r.layout,
    weightsLabel(r),
    // A run that cannot be read is not ranked: its claimed accuracy would look like a score.
    formatPercent(r.status === 'unreadable' ? undefined : r.heldout, 2),
    r.status,
    r.reason ?? (r.metricsSource ? `${r.metricsSource.file} (${r.metricsSource.field})` : ''),
  ]);
  process.stdout.write(renderTable(['#', 'run', 'layout', 'weights', 'held-out', 'status', 'source / reason'], rows) + '\n');
  const warnings = scan.runs.flatMap((r) => r.warnings ?? []);
  if (warnings.length > 0) process.stdout.write(`\nWarnings:\n${warnings.map((w) => `  ${printable(w)}`).join('\n')}\n`);
  const skipped = scan.skipped ?? [];
  if (skipped.length > 0) process.stdout.write(`\nNot scanned (${skipped.length}):\n${skipped.map((s) => `  ${printable(s.path)}: ${printable(s.reason)}`).join('\n')}\n`);
  if (scan.groups.length > 1) process.stdout.write(`\n${scan.groups.length} architectures: ${scan.groups.map((g) => `${g.label} (${g.runIds.length} runs)`).join('; ')}\n`);
  if (scan.pretrained) process.stdout.write(`\n${printable(`pretrained (not an ingredient): ${scan.pretrained.id}${scan.pretrained.reason ? ` — ${scan.pretrained.reason}` : ''}`)}\n`);
  return 0;
}

async function cookCommand(args: ParsedArgs): Promise<number> {
  const workspace = workspaceOf(args);
  const config = applyLimitFlags(configFromArgs(workspace, args), args);
  const method = flagValue(args, 'method') ?? 'greedy';
  if (!soupMethodIds().includes(method)) throw new UsageError(`unknown method "${method}" (known: ${soupMethodIds().join(', ')})`);
  const ingredients = flagValue(args, 'ingredients')?.split(',').map((s) => s.trim()).filter(Boolean);
  return withCookSession(args, (opts) => cookSoup({ workspace, config, method, ingredients, name: flagValue(args, 'name') }, opts));
}

async function recookCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length !== 1) throw new UsageError(`recook takes one report.json (or soup folder), got ${args.positionals.length}`);
  const out = flagValue(args, 'out');
  // Limits come from the user's flags only, as for a cook (never from the report).
  const limits = applyLimitFlags(defaultConfig(), args);
  return withCookSession(args, async (opts) => {
    const result = await recookSoup(
      {
        report: path.resolve(args.positionals[0]),
        name: flagValue(args, 'name'),
        outDir: out === undefined ? undefined : path.resolve(out),
        allowChanged: args.flags.has('allow-changed'),
        limits: { allowedRoots: limits.allowedRoots, maxDatasetMB: limits.maxDatasetMB },
      },
      opts,
    );
    for (const c of result.changed) process.stderr.write(printable(`model-soup: warning: cooked with a changed ingredient ${c.id} (${c.file}: ${c.problem})`) + '\n');
    return result;
  });
}

/**
 * Runs one cook with Ctrl-C cancelling it and progress on stderr, then prints the report
 * (`--json`) or the results table.
 */
async function withCookSession(args: ParsedArgs, cook: (opts: CookOptions) => Promise<CookResult>): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = new ProgressLine();
  try {
    const { report, dir } = await cook({ signal: controller.signal, onProgress: (p) => bar.update(p) });
    bar.done();
    if (args.flags.has('json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(renderReport(report, path.relative(process.cwd(), dir) || dir) + '\n');
    return 0;
  } finally {
    bar.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A one-line progress bar on a terminal, plain lines otherwise (CI logs). */
class ProgressLine {
  private readonly tty = Boolean(process.stderr.isTTY);
  private open = false;

  update(p: CookProgress): void {
    const message = printable(p.message);
    if (!this.tty) {
      process.stderr.write(`[${p.phase}] ${message}\n`);
      return;
    }
    const width = 24;
    const filled = p.total > 0 ? Math.round((p.done / p.total) * width) : 0;
    const line = `${p.phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${message}`;
    const cols = process.stderr.columns ?? 100;
    process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
    this.open = true;
  }

  done(): void {
    if (this.open) process.stderr.write('\n');
    this.open = false;
  }
}

/** The results table printed after a cook. */
export function renderReport(report: SoupReport, dir: string): string {
  const shifts = report.shiftNames;
  const header = ['model', 'held-out', 'test', ...shifts, 'shift avg', 'cost'];
  const cells = (m: Metrics | undefined, cost: string) => [
    formatPercent(m?.heldout, 2),
    formatPercent(m?.test, 2),
    ...shifts.map((s) => formatPercent(m?.shifts[s], 2)),
    formatPercent(m?.shiftAvg, 2),
    cost,
  ];
  const scored = report.ingredients.filter((i) => i.metrics);
  const k = report.baselines.ensemble.members.length;
  const rows = [
    ...scored.map((i) => [i.id, ...cells(i.metrics, '1×')]),
    [`best individual (${report.baselines.bestIndividual.members[0]})`, ...cells(report.baselines.bestIndividual.metrics, '1×')],
    [`uniform soup (${report.baselines.uniform.members.length})`, ...cells(report.baselines.uniform.metrics, '1×')],
    [`logit ensemble (${k})`, ...cells(report.baselines.ensemble.metrics, `${k}×`)],
    [`${report.method} soup (${report.soup.members.length}) *`, ...cells(report.soup.metrics, '1×')],
  ];
  const out = [renderTable(header, rows)];
  if (report.steps.length > 0) {
    out.push('', 'Greedy steps (held-out correct of soup + candidate):');
    out.push(
      renderTable(
        ['step', 'candidate', 'correct', 'held-out', 'best before', 'added'],
        report.steps.map((s, i) => [String(i), s.candidate, String(s.correct), formatPercent(s.heldout, 2), s.bestBefore === undefined ? '' : String(s.bestBefore), s.added ? 'yes' : 'no']),
      ),
    );
  }
  out.push(...renderAnalyses(report.analyses));
  const note = datasetsNote(report);
  if (note) out.push('', note);
  if (report.warnings?.length) out.push('', 'Warnings:', ...report.warnings.map((w) => `  ${w}`));
  const skipped = report.ingredients.filter((i) => i.status !== 'ok');
  if (skipped.length > 0) out.push('', 'Not used:', ...skipped.map((i) => `  ${printable(i.id)}: ${i.status} — ${printable(i.reason ?? '')}`));
  out.push('', `Soup members (${report.soup.members.length}): ${report.soup.members.map(printable).join(', ')}`, printable(`Wrote ${dir}/${SOUP_MODEL_FILE}${report.soup.weights ? `, ${dir}/${SOUP_WEIGHTS_FILE}` : ''} and ${dir}/${REPORT_FILE}`));
  if (report.warnings?.length) out.push('', 'Warnings:', ...report.warnings.map((w) => `  ${printable(w)}`));
  return out.join('\n');
}

if (require.main === module || process.argv[1]?.endsWith('model-soup.js')) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
