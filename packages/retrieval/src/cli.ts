#!/usr/bin/env node
import { AnchorageError } from '@anchorage/loss-core';
import { InvalidArgumentError } from 'commander';
import { createProgram } from './cli/program.js';

createProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    if (error instanceof AnchorageError || error instanceof InvalidArgumentError) {
      process.stderr.write(`anchorage-index: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  });
