#!/usr/bin/env node
import { silenceCpuBanner } from './backends/quiet';
import { createProgram } from './train/program';

// every command may touch tfjs's cpu backend (export does, without choosing a backend)
silenceCpuBanner();

createProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
