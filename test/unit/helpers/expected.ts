import { readFileSync } from 'node:fs';
import { EXPECTED_FILE } from './paths';

type Counts = Record<string, number>;

/** The parts of the zoo's expected.json the tests compare against. */
export interface Expected {
  ingredients: { id: string; layout: string; correct: Counts; heldout_acc_in_metrics: number }[];
  sorted_by_heldout: string[];
  uniform_soup: { members: string[]; correct: Counts };
  greedy_soup: { members: string[]; correct: Counts; steps: { candidate: string; candidate_soup_heldout_correct: number; accepted: boolean }[] };
  greedy_soup_strict_gt: { members: string[]; correct: Counts };
  ensemble: { logits_mean: { correct: Counts } };
  shift_names: string[];
}

export const expected = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8')) as Expected;
