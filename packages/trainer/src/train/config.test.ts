import { AnchorageError, DEFAULT_CAM_OPTIONS } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN_CONFIG, resolveTrainConfig } from './config';

describe('resolveTrainConfig', () => {
  it('fills the defaults: measured margin and minNorm, loss-core term weights', () => {
    const config = resolveTrainConfig({ dataset: 'mnist', epochs: 2 });
    expect(config).toMatchObject({
      dataset: 'mnist',
      epochs: 2,
      batchSize: 128,
      workers: 1,
      data: undefined,
    });
    expect(config.lossOptions).toMatchObject({ margin: 3, minNorm: 3, anchorInit: 'spread' });
    expect(config).toMatchObject({ lr: 1e-3, lossLr: 1e-2 });
    expect(config.lossOptions.repellerWeight).toBe(DEFAULT_CAM_OPTIONS.repellerWeight);
    expect(config.lossOptions.minNormWeight).toBe(DEFAULT_CAM_OPTIONS.minNormWeight);
    expect(DEFAULT_TRAIN_CONFIG.loss).toBe('cam');
  });

  it.each([
    ['epochs', 0],
    ['batchSize', 1.5],
    ['lr', -1],
    ['lossLr', Number.NaN],
    ['dim', 0],
    ['seed', 0.5],
    ['shots', 0],
    ['limit', -3],
    ['workers', 0],
  ])('rejects %s = %s naming the argument', (argument, value) => {
    let error: unknown;
    try {
      resolveTrainConfig({ dataset: 'mnist', [argument]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AnchorageError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', argument, value });
  });

  it.each([
    ['margin', 0],
    ['minNorm', -0.1],
    ['anchorInit', 'grid'],
  ])('rejects the CAM option %s = %s naming it', (option, value) => {
    expect(() => resolveTrainConfig({ dataset: 'mnist', lossOptions: { [option]: value } })).toThrow(
      new RegExp(`cam option ${option}`),
    );
  });

  it('rejects an unknown loss naming the known ones, and an option the loss does not have', () => {
    expect(() => resolveTrainConfig({ dataset: 'mnist', loss: 'arcface' })).toThrow(
      /unknown loss "arcface"; known: .*cam/,
    );
    expect(() => resolveTrainConfig({ dataset: 'mnist', lossOptions: { alpha: 32 } })).toThrow(
      /no option alpha/,
    );
  });
});

describe('resolveTrainConfig input options', () => {
  it('keeps --image-size, --channels and --fit, and leaves them absent when unset', () => {
    const set = resolveTrainConfig({ dataset: 'mnist', imageSize: 32, channels: 3, fit: 'pad' });
    expect(set).toMatchObject({ imageSize: 32, channels: 3, fit: 'pad' });
    const unset = resolveTrainConfig({ dataset: 'mnist' });
    expect(Object.keys(unset)).not.toContain('imageSize');
    expect(Object.keys(unset)).not.toContain('fit');
  });

  it.each([
    ['imageSize', 0],
    ['imageSize', 31.5],
    ['channels', 2],
    ['fit', 'stretch'],
  ])('rejects %s = %s naming it', (argument, value) => {
    expect(() => resolveTrainConfig({ dataset: 'mnist', [argument]: value })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument }),
    );
  });
});
