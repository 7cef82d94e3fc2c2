/**
 * A small CAM example with nothing but loss-core: a linear embedding W (inputs → dim) and the
 * class anchors are trained together on seeded synthetic classes, each with its own learning
 * rate; held-out points are then classified by their nearest anchor (stage 1 of the search).
 *
 * Run: pnpm start   (from the repository root)
 */
import { anchorStats, CamLoss, initAnchors, nearestAnchors, Random } from '../src/index';

const classes = 10;
const inputs = 32;
const dim = 8;
const perClass = 60;
const rng = new Random(7);

// synthetic data: a random centre per class plus unit noise
const centres = new Float32Array(classes * inputs).map(() => rng.normal() * 1.5);
function sample(count: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(count * classes * inputs);
  const y = new Int32Array(count * classes);
  for (let i = 0; i < y.length; i++) {
    y[i] = i % classes;
    for (let k = 0; k < inputs; k++) x[i * inputs + k] = centres[y[i]! * inputs + k]! + rng.normal();
  }
  return { x, y };
}
const train = sample(perClass);
const test = sample(20);

const weights = new Float32Array(inputs * dim).map(() => rng.normal() * 0.1);
const anchors = initAnchors(classes, dim, { seed: 1 });
const cam = new CamLoss({ dim, classes });
const lr = 0.05;
const anchorLr = 0.01;
const batch = 64;

function embed(x: Float32Array, rows: number, out = new Float32Array(rows * dim)): Float32Array {
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < dim; j++) {
      let s = 0;
      for (let k = 0; k < inputs; k++) s += x[r * inputs + k]! * weights[k * dim + j]!;
      out[r * dim + j] = s;
    }
  return out;
}

function accuracy(): number {
  const rows = test.y.length;
  const { indices } = nearestAnchors(embed(test.x, rows), anchors, dim, 1);
  let correct = 0;
  for (let i = 0; i < rows; i++) if (indices[i] === test.y[i]) correct++;
  return correct / rows;
}

console.log(`CAM on ${classes} synthetic classes: ${inputs}-d inputs → ${dim}-d embeddings`);
console.log(
  `margin ${cam.options.margin}, minNorm ${cam.options.minNorm}; nearest-anchor accuracy before training: ${(accuracy() * 100).toFixed(1)}%`,
);
const order = Int32Array.from({ length: train.y.length }, (_, i) => i);
const xb = new Float32Array(batch * inputs);
const yb = new Int32Array(batch);
const eb = new Float32Array(batch * dim);
for (let epoch = 1; epoch <= 8; epoch++) {
  rng.shuffle(order);
  let sum = 0;
  let steps = 0;
  for (let start = 0; start + batch <= order.length; start += batch) {
    for (let b = 0; b < batch; b++) {
      const i = order[start + b]!;
      yb[b] = train.y[i]!;
      xb.set(train.x.subarray(i * inputs, (i + 1) * inputs), b * inputs);
    }
    const { loss, grad } = cam.compute({ embeddings: embed(xb, batch, eb), labels: yb, anchors });
    // backpropagate through the linear layer: ∂L/∂W = Xᵀ · ∂L/∂E
    for (let k = 0; k < inputs; k++)
      for (let j = 0; j < dim; j++) {
        let g = 0;
        for (let b = 0; b < batch; b++) g += xb[b * inputs + k]! * grad.embeddings[b * dim + j]!;
        weights[k * dim + j] = weights[k * dim + j]! - lr * g;
      }
    for (let i = 0; i < anchors.length; i++) anchors[i] = anchors[i]! - anchorLr * grad.anchors[i]!;
    sum += loss;
    steps++;
  }
  const stats = anchorStats(anchors, dim, cam.options);
  console.log(
    `epoch ${epoch}: loss ${(sum / steps).toFixed(4)}  anchors: min distance ${stats.minDistance.toFixed(3)}, ` +
      `pairs within 2m ${stats.pairsWithinMargin}, below minNorm ${stats.belowMinNorm}  test accuracy ${(accuracy() * 100).toFixed(1)}%`,
  );
}
