import * as tf from '@tensorflow/tfjs';
import type { BackboneOptions } from './backbone';
import { seedStream } from './backbone';
import {
  ClassToken,
  ClassTokenPooling,
  LayerNorm,
  MultiHeadSelfAttention,
  PositionEmbedding,
} from './vit-layers';

/** The shape of a vision transformer. */
export interface VitShape {
  /** Patch size in pixels; 0 picks 4 for inputs up to 64×64, else 16. */
  readonly patch: number;
  /** Token width D. */
  readonly width: number;
  /** Encoder blocks. */
  readonly depth: number;
  /** Attention heads; must divide `width`. */
  readonly heads: number;
  /** Hidden width of each block's MLP, as a multiple of `width`. */
  readonly mlpRatio: number;
  /** `class`: a learned class token is pooled; `mean`: the mean of the patch tokens. */
  readonly pooling: 'class' | 'mean';
}

/** The patch size actually used for an image of `height`×`width` when `patch` is 0 (auto). */
export function vitPatch(patch: number, height: number, width: number): number {
  if (patch > 0) return patch;
  return Math.max(height, width) <= 64 ? 4 : 16;
}

/**
 * A vision transformer (ViT): non-overlapping patches embedded by a patch×patch stride-patch
 * convolution (`patch_embed`), a learned class token (with `class` pooling), learned position
 * embeddings, `depth` pre-norm encoder blocks (x + MHSA(LN(x)), then x + MLP(LN(x)) with a GELU
 * hidden layer), a final layer norm (ε = 1e-6, as every one), pooling and the embedding layer
 * (dense, d units). Input height and width must be multiples of the patch size.
 */
export function createVit(options: BackboneOptions, shape: VitShape): tf.LayersModel {
  const [height, imageWidth, channels] = options.inputShape;
  const seeds = seedStream(options.seed);
  const patch = vitPatch(shape.patch, height, imageWidth);
  const tokens = (height / patch) * (imageWidth / patch);
  const width = shape.width;
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    layer.apply(x) as tf.SymbolicTensor;
  const dense = (name: string, units: number, activation?: 'gelu') =>
    tf.layers.dense({
      name,
      units,
      ...(activation ? { activation } : {}),
      kernelInitializer: tf.initializers.glorotUniform({ seed: seeds() }),
      biasInitializer: 'zeros',
    });
  const norm = (name: string) => new LayerNorm({ name, epsilon: 1e-6 });

  const input = tf.input({ shape: [height, imageWidth, channels], name: 'images' });
  let x = apply(
    tf.layers.conv2d({
      name: 'patch_embed',
      filters: width,
      kernelSize: patch,
      strides: patch,
      padding: 'valid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seeds() }),
      biasInitializer: 'zeros',
    }),
    input,
  );
  x = apply(tf.layers.reshape({ name: 'patch_tokens', targetShape: [tokens, width] }), x);
  if (shape.pooling === 'class') x = apply(new ClassToken({ name: 'class_token' }), x);
  x = apply(new PositionEmbedding({ name: 'position_embedding', seed: seeds() }), x);
  for (let b = 1; b <= shape.depth; b++) {
    const name = `block${b}`;
    const attention = new MultiHeadSelfAttention({
      name: `${name}_attention`,
      heads: shape.heads,
      seed: seeds(),
    });
    x = apply(tf.layers.add({ name: `${name}_add1` }), [x, apply(attention, apply(norm(`${name}_ln1`), x))]);
    let h = apply(
      dense(`${name}_mlp1`, Math.round(width * shape.mlpRatio), 'gelu'),
      apply(norm(`${name}_ln2`), x),
    );
    h = apply(dense(`${name}_mlp2`, width), h);
    x = apply(tf.layers.add({ name: `${name}_add2` }), [x, h]);
  }
  x = apply(norm('final_ln'), x);
  x = apply(
    shape.pooling === 'class'
      ? new ClassTokenPooling({ name: 'pool' })
      : tf.layers.globalAveragePooling1d({ name: 'pool' }),
    x,
  );
  const output = apply(dense('embedding', options.dim), x);
  return tf.model({ name: 'vit', inputs: input, outputs: output });
}
