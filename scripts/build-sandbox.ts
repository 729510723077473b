// Part of `npm install` in this repository (the `prepare` script): builds the kernel layer's
// launcher (native/leash-sandbox.c) with the system C compiler, so that the first
// `leash enforce` (or the first run that waits in it, `--wait`) does not have to. Never fails the
// install: without a compiler, or off Linux, leash enforce runs without the kernel layer and says
// so, and leash waits for the service in Node (`leash doctor` tells why).
import { findOrBuildHelper } from '../src/supervisor/kernel/helper.ts';

const result = findOrBuildHelper();
process.stderr.write(
  result.ok
    ? `build-sandbox: ${result.built ? 'built' : 'up to date:'} ${result.path}\n`
    : `build-sandbox: no kernel layer on this machine: ${result.reason}\n`,
);
