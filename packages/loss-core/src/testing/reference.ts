// Independent float64 reference of the CAM formulas (apps/docs/src/concepts/cam-loss.md), written as literally as possible
// (ordered pairs, explicit norms), used only by tests.
import type { CamLossOptions } from '../options';

export function referenceLoss(
  embeddings: ArrayLike<number>,
  labels: ArrayLike<number>,
  anchors: ArrayLike<number>,
  dim: number,
  o: CamLossOptions,
): { loss: number; attractor: number; repeller: number; minNorm: number } {
  const B = labels.length;
  const C = anchors.length / dim;
  const row = (a: ArrayLike<number>, i: number) => Array.from({ length: dim }, (_, k) => a[i * dim + k]!);
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const sub = (a: number[], b: number[]) => a.map((x, k) => x - b[k]!);

  let attractor = 0;
  for (let i = 0; i < B; i++) attractor += 0.5 * norm(sub(row(embeddings, i), row(anchors, labels[i]!))) ** 2;
  if (o.reduction.attractor === 'mean') attractor /= B;

  let repeller = 0;
  for (let y = 0; y < C; y++) {
    for (let z = 0; z < C; z++) {
      if (y === z) continue;
      repeller += 0.5 * Math.max(0, 2 * o.margin - norm(sub(row(anchors, y), row(anchors, z)))) ** 2;
    }
  }
  if (o.reduction.repeller === 'mean') repeller = C > 1 ? repeller / (C * (C - 1)) : 0;

  let minNorm = 0;
  for (let y = 0; y < C; y++) minNorm += Math.max(0, o.minNorm - norm(row(anchors, y)));
  if (o.reduction.minNorm === 'mean') minNorm /= C;

  return {
    loss: attractor + o.repellerWeight * repeller + o.minNormWeight * minNorm,
    attractor,
    repeller,
    minNorm,
  };
}
