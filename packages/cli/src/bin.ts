#!/usr/bin/env node
import { escapeControl } from '@normbridge/safetensors';
import { main } from './main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Messages quote file names, keys and paths from the input: no control character reaches the terminal.
    process.stderr.write(`normbridge: ${escapeControl(err instanceof Error ? err.message : String(err))}\n`);
    process.exitCode = 2;
  },
);
