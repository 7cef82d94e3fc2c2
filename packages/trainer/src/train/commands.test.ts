import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { getLossFactory, listLosses, registerLoss } from '../losses';
import { camLossFactory } from '../losses/cam';
import { registerTrainCommands } from './commands';
import type { TrainConfigInput } from './config';

const calls: TrainConfigInput[] = [];
vi.mock('./train', () => ({
  train: async (input: TrainConfigInput) => {
    calls.push(input);
    return { status: 'completed' };
  },
}));

function program(): Command {
  const p = new Command('anchorage-train').exitOverride();
  registerTrainCommands(p);
  return p;
}

function trainHelp(p: Command): string {
  const train = p.commands.find((c) => c.name() === 'train')!;
  let out = '';
  train.configureOutput({ writeOut: (s) => (out += s) });
  train.outputHelp();
  return out;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('anchorage-train train', () => {
  it('--help lists every registered loss and its options, from the registry', () => {
    const help = trainHelp(program());
    for (const loss of listLosses()) {
      expect(help).toContain(`  ${loss}: ${getLossFactory(loss).description}`);
      for (const option of getLossFactory(loss).options) expect(help).toContain(`--${kebab(option.name)}`);
    }
    const unregister = registerLoss('cam-copy', {
      ...camLossFactory,
      description: 'a registered copy',
      options: [{ name: 'stretchFactor', description: 'how far', default: 2 }],
    });
    try {
      const help2 = trainHelp(program());
      expect(help2).toContain('cam-copy: a registered copy');
      expect(help2).toContain('--stretch-factor');
    } finally {
      unregister();
    }
    expect(trainHelp(program())).not.toContain('cam-copy');
  });

  it("passes the chosen loss, only the loss options given, and --anchor-lr as the loss's learning rate", async () => {
    calls.length = 0;
    await program().parseAsync(
      ['train', '--dataset', 'mnist', '--out', 'x', '--loss', 'triplet', '--margin', '0.3'],
      {
        from: 'user',
      },
    );
    await program().parseAsync(['train', '--dataset', 'mnist', '--out', 'y', '--anchor-lr', '0.02'], {
      from: 'user',
    });
    await program().parseAsync(
      [
        'train',
        '--dataset',
        'mnist',
        '--out',
        'z',
        '--loss',
        'proxy-anchor',
        '--alpha',
        '16',
        '--loss-lr',
        '0.5',
      ],
      { from: 'user' },
    );
    expect(calls[0]).toMatchObject({ loss: 'triplet', lossOptions: { margin: 0.3 }, lossLr: undefined });
    expect(calls[1]).toMatchObject({ loss: 'cam', lossOptions: {}, lossLr: 0.02 });
    expect(calls[2]).toMatchObject({ loss: 'proxy-anchor', lossOptions: { alpha: 16 }, lossLr: 0.5 });
  });
});
