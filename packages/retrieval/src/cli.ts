#!/usr/bin/env node
import { AnchorageError } from '@anchorage/loss-core';
import { CommanderError, InvalidArgumentError } from 'commander';
import { createProgram } from './cli/program.js';

createProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    // Every failure is one line and status 1: input errors carry their own message (naming the
    // file), anything else says it is unexpected; ANCHORAGE_DEBUG=1 adds the stack for a bug report.
    const expected =
      error instanceof AnchorageError ||
      error instanceof InvalidArgumentError ||
      error instanceof CommanderError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`anchorage-index: ${expected ? message : `unexpected error: ${message}`}\n`);
    if (!expected && process.env.ANCHORAGE_DEBUG && error instanceof Error) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exitCode = 1;
  });
