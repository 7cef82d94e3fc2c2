import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../train/config';
import { addBackboneOptions, backboneHelp } from './cli-options';

function parse(args: string[]) {
  const command = new Command('train').exitOverride();
  const read = addBackboneOptions(command);
  command.parse(args, { from: 'user' });
  return read(command.opts());
}

describe('backbone flags', () => {
  it('become backboneOptions, freeze and unfreezeAfter, only when given', () => {
    expect(parse([])).toEqual({ backboneOptions: {} });
    expect(parse(['--width', '0.5'])).toEqual({ backboneOptions: { width: 0.5 } });
    expect(parse(['--patch', '8', '--pooling', 'class', '--mlp-ratio', '3'])).toEqual({
      backboneOptions: { patch: 8, pooling: 'class', mlpRatio: 3 },
    });
    expect(parse(['--feature-layer', 'block_5', '--freeze', '3', '--unfreeze-after', '1'])).toEqual({
      backboneOptions: { featureLayer: 'block_5' },
      freeze: 3,
      unfreezeAfter: 1,
    });
    expect(() => parse(['--pooling', 'max'])).toThrow(/Allowed choices are class, mean/);
  });

  it('resolve against the chosen backbone: defaults filled in, foreign options refused', () => {
    const config = (backbone: string, backboneOptions: Record<string, unknown>) =>
      resolveTrainConfig({ dataset: 'fashion-mnist', backbone, backboneOptions });
    expect(config('vit', { patch: 8 }).backboneOptions).toEqual({
      patch: 8,
      width: 64,
      depth: 4,
      heads: 4,
      mlpRatio: 2,
      pooling: 'mean',
    });
    expect(config('resnet18-cpu', {}).backboneOptions).toEqual({ width: 0.25 });
    expect(config('refcnn', {}).backboneOptions).toBeUndefined();
    expect(() => config('refcnn', { width: 2 })).toThrow(
      /backbone "refcnn" has no option width; its options: none/,
    );
    expect(() => config('vit', { width: 64.5 })).toThrow(/vit option width must be an integer/);
    expect(() => resolveTrainConfig({ dataset: 'fashion-mnist', unfreezeAfter: 2 })).toThrow(
      /unfreezeAfter must be given only with freeze/,
    );
    expect(backboneHelp()).toMatch(/resnet18-cpu: resnet18 at width 0.25[^\n]*\n {4}--width \(0.25\)/);
  });
});
