import onnxProto from 'onnx-proto';
import { imageModel, seeded } from '../src/test-fixtures.js';

const { onnx } = onnxProto;

/**
 * A refcnn-shaped ONNX model (the trainer's reference CNN: conv3×3(32)+ReLU+maxpool2 →
 * conv3×3(64)+ReLU+maxpool2 → conv3×3(128)+ReLU → global average pool → dense(dim)) with seeded
 * random weights, taking NHWC float32 raw pixels. Same operators and FLOPs as an exported refcnn,
 * so the benchmark measures a realistic embedding cost without the trainer.
 */
export function refCnnModel(
  height: number,
  width: number,
  channels: number,
  dim: number,
  seed = 1,
): Uint8Array {
  const uniform = seeded(seed);
  const rand = () => uniform() - 0.5;
  const T = onnx.TensorProto.DataType;
  const A = onnx.AttributeProto.AttributeType;
  const initializer: Record<string, unknown>[] = [];
  const weight = (name: string, dims: number[], scale: number) => {
    const n = dims.reduce((x, y) => x * y, 1);
    const data = Float32Array.from({ length: n }, () => rand() * scale);
    initializer.push({ name, dims, dataType: T.FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  };
  const constant = (name: string, values: number[]) => {
    initializer.push({
      name,
      dims: [values.length],
      dataType: T.FLOAT,
      rawData: new Uint8Array(new Float32Array(values).buffer),
    });
    return name;
  };
  const ints = (name: string, values: number[]) => ({ name, type: A.INTS, ints: values });
  const nodes: Record<string, unknown>[] = [
    // pixel scale 1/255 folded into the graph, as the exporter does
    { opType: 'Mul', input: ['image', constant('scale', [1 / 255])], output: ['scaled'] },
    { opType: 'Transpose', input: ['scaled'], output: ['nchw'], attribute: [ints('perm', [0, 3, 1, 2])] },
  ];
  let x = 'nchw';
  let inC = channels;
  const layers: [number, boolean][] = [
    [32, true],
    [64, true],
    [128, false],
  ];
  layers.forEach(([filters, pool], i) => {
    const w = weight(`conv${i}_w`, [filters, inC, 3, 3], Math.sqrt(2 / (9 * inC)) * 2);
    const b = weight(`conv${i}_b`, [filters], 0.01);
    nodes.push({
      opType: 'Conv',
      input: [x, w, b],
      output: [`conv${i}`],
      attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])],
    });
    nodes.push({ opType: 'Relu', input: [`conv${i}`], output: [`relu${i}`] });
    x = `relu${i}`;
    if (pool) {
      nodes.push({
        opType: 'MaxPool',
        input: [x],
        output: [`pool${i}`],
        attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
      });
      x = `pool${i}`;
    }
    inC = filters;
  });
  nodes.push({ opType: 'GlobalAveragePool', input: [x], output: ['gap'] });
  nodes.push({ opType: 'Flatten', input: ['gap'], output: ['flat'] });
  nodes.push({
    opType: 'Gemm',
    input: [
      'flat',
      weight('dense_w', [128, dim], Math.sqrt(6 / (128 + dim)) * 2),
      weight('dense_b', [dim], 0.01),
    ],
    output: ['embeddings'],
  });
  return imageModel({
    name: 'refcnn',
    producer: 'anchorage-bench',
    nodes,
    initializer,
    height,
    width,
    channels,
    dim,
  });
}
