import * as tf from '@tensorflow/tfjs';
import type { BackboneOptions } from './backbone';
import { seedStream } from './backbone';

/**
 * refcnn, the reference CNN: conv3×3(32)+ReLU+maxpool2 → conv3×3(64)+ReLU+maxpool2 →
 * conv3×3(128)+ReLU → global average pool → dense(dim). Convolutions use 'same' padding, so a
 * 28×28 input gives 28 → 14 → 7 spatially. Layers are named (conv1, pool1, conv2, pool2, conv3,
 * gap, embedding) so exports and checkpoints can address them. Input: N×H×W×C float32.
 * Parameters: 9·C·32 + 32 + 18,496 + 73,856 + 129·dim.
 */
export function createRefCnn(options: BackboneOptions): tf.Sequential {
  const [height, width, channels] = options.inputShape;
  const seeds = seedStream(options.seed);
  const conv = (name: string, filters: number, inputShape?: number[]) =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: seeds() }),
      biasInitializer: 'zeros',
      ...(inputShape === undefined ? {} : { inputShape }),
    });
  return tf.sequential({
    name: 'refcnn',
    layers: [
      conv('conv1', 32, [height, width, channels]),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
      conv('conv2', 64),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }),
      conv('conv3', 128),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({
        name: 'embedding',
        units: options.dim,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seeds() }),
        biasInitializer: 'zeros',
      }),
    ],
  });
}
