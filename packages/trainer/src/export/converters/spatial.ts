/** Reads a tfjs spatial parameter (`kernelSize`, `strides`, `poolSize`, …) as [rows, cols]. */
export function pair(value: unknown, fallback: number): [number, number] {
  if (value === undefined || value === null) return [fallback, fallback];
  if (Array.isArray(value)) return [Number(value[0]), Number(value[1] ?? value[0])];
  return [Number(value), Number(value)];
}

/**
 * Explicit ONNX pads [top, left, bottom, right] for one tfjs padding mode. `same` is TensorFlow's
 * SAME: the output has ceil(in / stride) positions and an odd total padding puts the extra row or
 * column at the end (ONNX's SAME_UPPER), which explicit pads reproduce for every size.
 */
export function spatialPads(
  padding: unknown,
  inputHW: readonly [number, number],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number],
): [number, number, number, number] {
  if (padding !== 'same') return [0, 0, 0, 0];
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const size = inputHW[i]!;
    const out = Math.ceil(size / strides[i]!);
    const effectiveKernel = (kernel[i]! - 1) * dilations[i]! + 1;
    const total = Math.max((out - 1) * strides[i]! + effectiveKernel - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [before[0]!, before[1]!, after[0]!, after[1]!];
}
