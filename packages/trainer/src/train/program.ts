import { Command } from 'commander';
import { registerExportCommands } from '../export/cli';
import { registerTrainCommands } from './commands';

/** The `anchorage-train` program with every command group registered. */
export function createProgram(): Command {
  const program = new Command('anchorage-train')
    .description('train and evaluate CAM image-retrieval models on TensorFlow.js')
    .showHelpAfterError();
  registerTrainCommands(program);
  registerExportCommands(program);
  return program;
}
