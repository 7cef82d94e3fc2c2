import type { OptimizerSnapshot, TrainingSnapshot } from './checkpoint';

/** Adam's β₁ in the engines' optimisers (tfjs's default). */
const BETA1 = 0.9;

/** The first moments (`<variable>/m`) of one Adam snapshot, concatenated in the optimiser's order. */
function firstMoments(optimizer: OptimizerSnapshot): Float32Array[] {
  const { specs, data } = optimizer.weights;
  const moments: Float32Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization !== undefined || (spec.dtype !== 'float32' && spec.dtype !== 'int32')) {
      throw new Error(`unexpected optimiser slot ${spec.name} (${spec.dtype})`);
    }
    const size = spec.shape.reduce((n, d) => n * d, 1);
    if (spec.name.endsWith('/m')) moments.push(new Float32Array(data.slice(offset, offset + 4 * size)));
    offset += 4 * size;
  }
  return moments;
}

/**
 * The gradient an engine applied in its first step, read back from its optimisers' state: after
 * one Adam step from zero the first moment is m = (1 − β₁)·g, so g = m / (1 − β₁) up to one
 * rounding. Laid out as `LocalEngine.gradients` flattens it (the backbone's trainable weights in
 * order, then the loss's trainable variables), since the engines apply the variables in that order.
 */
export function firstStepGradient(snapshot: TrainingSnapshot): Float32Array {
  const parts = [...firstMoments(snapshot.optimizers.model), ...firstMoments(snapshot.optimizers.loss)];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  const scale = Math.fround(1 - BETA1);
  let offset = 0;
  for (const part of parts) {
    for (let k = 0; k < part.length; k++) out[offset + k] = part[k]! / scale;
    offset += part.length;
  }
  return out;
}
