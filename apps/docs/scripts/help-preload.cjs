// Loaded with `node --require` before a CLI: instead of running, the CLI prints the help of its
// program and of every subcommand as one JSON object, so the reference needs one process per CLI
// rather than one per subcommand. `outputHelp()` is what `--help` runs, extra help text included.
const { createRequire } = require('node:module');
const { join } = require('node:path');

const { Command } = createRequire(join(process.cwd(), 'package.json'))('commander');

function helpOf(command) {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

function printAll() {
  const subcommands = {};
  for (const command of this.commands) {
    if (command.name() !== 'help') subcommands[command.name()] = helpOf(command);
  }
  process.stdout.write(JSON.stringify({ help: helpOf(this), subcommands }));
  process.exit(0);
}

Command.prototype.parse = printAll;
Command.prototype.parseAsync = printAll;
