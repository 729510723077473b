#!/usr/bin/env node
// The leash command. Checks the Node version before loading anything that needs a newer one.
import { existsSync } from 'node:fs';

const REQUIRED = 26;
const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED) {
  process.stderr.write(
    `leash: needs Node.js ${REQUIRED} or newer; this is Node.js ${process.versions.node}\n`,
  );
  process.exit(2);
}

// A checkout runs its TypeScript sources (Node strips types outside node_modules); an installed
// package runs the compiled dist/.
const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(entry.href);
await main(process.argv);
