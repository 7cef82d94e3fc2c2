import * as tf from '@tensorflow/tfjs';
import type { BackboneOptions } from './backbone';
import { seedStream } from './backbone';

/** Inputs up to this height and width get the CIFAR stem (3×3 conv, no max-pool). */
export const RESNET_SMALL_INPUT = 64;

/** ResNet-18's channels per stage at width 1. */
const STAGE_CHANNELS = [64, 128, 256, 512] as const;

/** Channels of a stage at width multiplier `width`: a multiple of 8 (what the wasm kernels take), ≥ 8. */
export function resnetChannels(base: number, width: number): number {
  return Math.max(8, Math.round((base * width) / 8) * 8);
}

/**
 * ResNet-18: a stem, four stages of two basic blocks (3×3 conv–BN–ReLU–3×3 conv–BN plus the
 * shortcut, then ReLU; the first block of stages 2–4 has stride 2 and a 1×1 stride-2 conv–BN
 * shortcut), global average pooling and the embedding layer (dense, d units). Inputs up to 64×64
 * take the CIFAR stem (3×3 conv, stride 1, no max-pool), larger ones the ImageNet stem (7×7 conv,
 * stride 2, then 3×3 max-pool, stride 2). Convolutions have no bias (batch norm follows each);
 * batch norm uses momentum 0.9 and ε = 1e-5 (PyTorch's defaults). `width` scales every stage's
 * channels (64·width, …, 512·width, rounded to multiples of 8). Layers are named `stem_conv`,
 * `stage2_block1_conv1`, `stage2_block1_shortcut_bn`, …, `gap`, `embedding`.
 */
export function createResNet18(options: BackboneOptions, width = 1): tf.LayersModel {
  const [height, imageWidth, channels] = options.inputShape;
  const seeds = seedStream(options.seed);
  const conv = (name: string, filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: seeds() }),
    });
  const bn = (name: string) => tf.layers.batchNormalization({ name, axis: -1, momentum: 0.9, epsilon: 1e-5 });
  const relu = (name: string) => tf.layers.reLU({ name });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    layer.apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [height, imageWidth, channels], name: 'images' });
  const stemWidth = resnetChannels(STAGE_CHANNELS[0], width);
  let x: tf.SymbolicTensor;
  if (Math.max(height, imageWidth) <= RESNET_SMALL_INPUT) {
    x = apply(conv('stem_conv', stemWidth, 3, 1), input);
    x = apply(relu('stem_relu'), apply(bn('stem_bn'), x));
  } else {
    x = apply(conv('stem_conv', stemWidth, 7, 2), input);
    x = apply(relu('stem_relu'), apply(bn('stem_bn'), x));
    x = apply(tf.layers.maxPooling2d({ name: 'stem_pool', poolSize: 3, strides: 2, padding: 'same' }), x);
  }
  let inChannels = stemWidth;
  STAGE_CHANNELS.forEach((base, s) => {
    const filters = resnetChannels(base, width);
    for (let b = 0; b < 2; b++) {
      const name = `stage${s + 1}_block${b + 1}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y = apply(conv(`${name}_conv1`, filters, 3, stride), x);
      y = apply(relu(`${name}_relu1`), apply(bn(`${name}_bn1`), y));
      y = apply(bn(`${name}_bn2`), apply(conv(`${name}_conv2`, filters, 3, 1), y));
      let shortcut = x;
      if (stride !== 1 || inChannels !== filters) {
        shortcut = apply(bn(`${name}_shortcut_bn`), apply(conv(`${name}_shortcut`, filters, 1, stride), x));
      }
      x = apply(relu(`${name}_relu2`), apply(tf.layers.add({ name: `${name}_add` }), [y, shortcut]));
      inChannels = filters;
    }
  });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), x);
  const output = apply(
    tf.layers.dense({
      name: 'embedding',
      units: options.dim,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seeds() }),
      biasInitializer: 'zeros',
    }),
    x,
  );
  return tf.model({ name: 'resnet18', inputs: input, outputs: output });
}
