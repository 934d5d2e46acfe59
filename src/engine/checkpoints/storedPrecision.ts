/**
 * The soup precision rule (the same for uniform soups, greedy candidates and baselines): a
 * tensor's soup dtype is BF16 / F16 only when every member stores it so, else F32; the float64
 * mean is rounded to float32 and then to that dtype (round to nearest even, as PyTorch's
 * `.float().to(torch.bfloat16)`). Every mean is evaluated as it would be stored, so the float32
 * means the averaging code produces are rounded in place here before anyone reads them.
 */
import type { OnnxModelInfo } from '../formats/onnxModel';
import { bf16ToNumber, f16ToNumber, float32ToBf16, float32ToF16, type FloatDtype } from '../formats/tensorDtypes';
import type { WeightSet } from '../soups/weights';
import type { MeanOptions } from '../soups/streamingMean';
import { StreamingMean } from '../soups/streamingMean';

/** The dtype a soup stores: half types survive only when every member has them. */
export type SoupDtype = 'F32' | 'F16' | 'BF16';

/** Per tensor: the soup dtype of members storing `members[m][t]` (`undefined`: float32 graph weights). */
export function soupDtypes(members: readonly (readonly (FloatDtype | undefined)[])[], tensors: number): SoupDtype[] {
  const out: SoupDtype[] = [];
  for (let t = 0; t < tensors; t++) {
    const first = members[0]?.[t];
    const half = first === 'BF16' || first === 'F16' ? first : undefined;
    out.push(half && members.every((m) => m[t] === half) ? half : 'F32');
  }
  return out;
}

/** The soup dtype of one tensor over members' stored dtypes. */
export function soupDtypeOf(stored: readonly (FloatDtype | undefined)[]): SoupDtype {
  return soupDtypes(stored.map((d) => [d]), 1)[0];
}

/** Rounds float32 means to the tensors' soup dtypes in place (idempotent; F32 tensors untouched). */
export function roundAsStored(weights: WeightSet, dtypes: readonly SoupDtype[]): WeightSet {
  weights.forEach((w, t) => {
    const d = dtypes[t];
    if (d === 'F32' || d === undefined) return;
    const to = d === 'BF16' ? float32ToBf16 : float32ToF16;
    const back = d === 'BF16' ? bf16ToNumber : f16ToNumber;
    for (let k = 0; k < w.length; k++) w[k] = back(to(w[k]));
  });
  return weights;
}

/** Stored dtypes of a graph-space ingredient model, per graph weight; absent for ONNX ingredients (float32). */
export type StoredDtypes = ReadonlyMap<OnnxModelInfo, readonly (FloatDtype | undefined)[]>;

/** Per graph weight: the soup dtype of a soup of `models` (graph-space ingredients; ONNX ones are float32). */
export function storedDtypesOf(models: readonly OnnxModelInfo[], stored: StoredDtypes): SoupDtype[] {
  return soupDtypes(models.map((m) => stored.get(m) ?? []), models[0]?.weights.length ?? 0);
}

/**
 * The uniform mean of `models` (StreamingMean: float64 sum in member order, divided, rounded to
 * float32), rounded as the soup of exactly these models would store it: what a uniform soup, a
 * baseline and every greedy candidate are evaluated with.
 */
export async function storedMean(models: readonly OnnxModelInfo[], stored: StoredDtypes, opts: MeanOptions = {}): Promise<WeightSet> {
  const mean = await new StreamingMean().mean([...models], opts);
  return stored.size > 0 ? roundAsStored(mean, storedDtypesOf(models, stored)) : mean;
}
