/**
 * @module
 * The runtime module's capabilities and the kind of resource each one names.
 */
import type { Kind } from '../../core/kind.ts';
import { commandKind } from '../../core/kinds/command.ts';
import { endpointKind } from '../../core/kinds/endpoint.ts';
import { literalKind } from '../../core/kinds/literal.ts';
import { pathKind } from '../../core/kinds/path.ts';

const path = pathKind();
const endpoint = endpointKind();
const command = commandKind();

export const CAPABILITIES = {
  'fs.read': { resource: path, summary: 'read a file or list a directory' },
  'fs.write': { resource: path, summary: 'create, change or remove a file or directory' },
  'net.connect': { resource: endpoint, summary: 'open an outbound connection to host:port' },
  'net.listen': { resource: endpoint, summary: 'listen on address:port' },
  'dns.lookup': { resource: literalKind({ name: 'hostname' }), summary: 'resolve a host name' },
  'child.spawn': { resource: command, summary: 'start a process with this command line' },
  'worker.start': { resource: path, summary: 'start a worker thread from this file' },
  'addon.load': { resource: path, summary: 'load a native addon' },
  'wasi.start': { resource: literalKind({ name: 'wasi' }), summary: 'start a WASI instance' },
  'env.read': {
    resource: literalKind({ name: 'variable' }),
    summary: 'read an environment variable',
  },
} as const satisfies Record<string, { resource: Kind; summary: string }>;

export type Capability = keyof typeof CAPABILITIES;

export function isCapability(name: string): name is Capability {
  return Object.hasOwn(CAPABILITIES, name);
}

export const capabilityKind: Kind = literalKind({
  name: 'capability',
  child: (key) => (isCapability(key) ? CAPABILITIES[key].resource : null),
  validate: (key) =>
    isCapability(key)
      ? undefined
      : `unknown capability; expected one of ${Object.keys(CAPABILITIES).join(', ')}`,
});
