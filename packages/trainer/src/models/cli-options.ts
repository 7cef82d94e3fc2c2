import { type Command, Option } from 'commander';
import { integer, kebab, number } from '../cli-args';
import type { BackboneOptionSpec } from './backbone';
import { OWN_MODEL_OPTIONS } from './own-model';
import { getBackboneFactory, listBackbones } from './registry';

/** Every option of every registered backbone and of a model file, once per name. */
function optionTable(): Map<string, { spec: BackboneOptionSpec; owners: string[] }> {
  const table = new Map<string, { spec: BackboneOptionSpec; owners: string[] }>();
  const add = (owner: string, spec: BackboneOptionSpec) => {
    const row = table.get(spec.name) ?? { spec, owners: [] };
    row.owners.push(owner);
    table.set(spec.name, row);
  };
  for (const name of listBackbones())
    for (const spec of getBackboneFactory(name).options ?? []) add(name, spec);
  for (const spec of OWN_MODEL_OPTIONS) add('model file', spec);
  return table;
}

/** `train --help`'s list of backbones and their options, written from the registry. */
export function backboneHelp(): string {
  const lines = [
    '',
    'Backbones (--backbone NAME, or --backbone path/model.json) and their options (defaults):',
  ];
  for (const name of listBackbones()) {
    const factory = getBackboneFactory(name);
    lines.push(`  ${name}: ${factory.description}`);
    for (const spec of factory.options ?? []) {
      const choices = spec.choices ? ` [${spec.choices.join(' | ')}]` : '';
      lines.push(`    --${kebab(spec.name)}${choices} (${spec.default})`);
    }
  }
  lines.push('  path/model.json: a tfjs layers model cut at --feature-layer, with dense(d) added');
  return lines.join('\n');
}

/**
 * Adds the backbones' own options (`--width`, `--patch`, `--feature-layer`, …) and `--freeze`,
 * `--unfreeze-after` to `train`; returns the function that reads them back from the parsed flags
 * as config fields (only what was given).
 */
export function addBackboneOptions(command: Command): (flags: Record<string, unknown>) => {
  backboneOptions: Record<string, unknown>;
  freeze?: number;
  unfreezeAfter?: number;
} {
  const table = optionTable();
  for (const [name, { spec, owners }] of table) {
    const option = new Option(`--${kebab(name)} <value>`, `${spec.description} (${owners.join(', ')})`);
    if (spec.choices !== undefined) option.choices([...spec.choices]);
    else if (typeof spec.default === 'number') option.argParser(number);
    command.addOption(option);
  }
  command
    .option('--freeze <n>', 'keep the first n layers of the backbone fixed (see --unfreeze-after)', integer)
    .option('--unfreeze-after <epochs>', 'train the frozen layers too after this many epochs', integer)
    .addHelpText('after', backboneHelp);
  return (flags) => {
    const backboneOptions: Record<string, unknown> = {};
    for (const name of table.keys()) if (flags[name] !== undefined) backboneOptions[name] = flags[name];
    return {
      backboneOptions,
      ...(flags.freeze === undefined ? {} : { freeze: flags.freeze as number }),
      ...(flags.unfreezeAfter === undefined ? {} : { unfreezeAfter: flags.unfreezeAfter as number }),
    };
  };
}
