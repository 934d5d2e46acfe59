import type { DatasetInfo, SoupReport } from '../engine/report';

/**
 * What a dataset of a report is, in words: "folder, 614 images, 3 of 10 classes (scored among
 * them), 2 files skipped". Reports written before image folders give "2000 examples".
 */
export function describeDataset(d: DatasetInfo): string {
  const parts: string[] = [];
  if (d.kind === 'folder') parts.push('folder', `${d.n} images`);
  else parts.push(d.kind === 'arrays' ? 'arrays' : '', `${d.n} examples`);
  if (d.classesCovered !== undefined && d.classes !== undefined && d.classesCovered < d.classes) {
    parts.push(`${d.classesCovered} of ${d.classes} classes${d.subset ? ' (scored among them)' : ''}`);
  }
  if (d.skipped && d.skipped.count > 0) parts.push(`${d.skipped.count} file${d.skipped.count === 1 ? '' : 's'} skipped`);
  return parts.filter(Boolean).join(', ');
}

/**
 * One sentence naming the image-folder and class-subset sets of a report ("Datasets: footwear:
 * folder, 614 images, ..."); empty when every set is a plain array file.
 */
export function datasetsNote(report: SoupReport): string {
  const notable = Object.entries(report.datasets ?? {}).filter(([, d]) => d.kind === 'folder' || d.subset);
  if (notable.length === 0) return '';
  return `Datasets: ${notable.map(([key, d]) => `${key.replace(/_/g, ' ')}: ${describeDataset(d)}`).join('; ')}.`;
}
