/**
 * @module
 * Node's `--permission-audit` publishes every would-be denial on `node:permission-model:*`
 * channels, synchronously in the caller's context: the ground truth of what the process touches,
 * including reads the wrappers cannot see (the ESM loader, internal fs use). Used while learning;
 * a subscriber cannot veto, so enforcement stays with the wrappers and Node's own flags.
 */
import diagnostics from 'node:diagnostics_channel';
import type { RuntimeContext } from './context.ts';
import { insideWrappedCall } from './wrap-fs.ts';

interface AuditMessage {
  readonly permission?: string;
  readonly resource?: string;
}

export function observeAudit(context: RuntimeContext): () => void {
  const onFs = (message: unknown) => {
    // A call a wrapper already decided fires its audit event inside the wrapper: skip it.
    if (insideWrappedCall()) return;
    const { permission, resource } = message as AuditMessage;
    if (typeof resource !== 'string' || !resource.startsWith('/')) return;
    if (permission === 'FileSystemRead') context.observe('fs.read', resource);
    else if (permission === 'FileSystemWrite') context.observe('fs.write', resource);
  };
  const onWasi = () => context.observe('wasi.start', 'wasi');
  diagnostics.subscribe('node:permission-model:fs', onFs);
  diagnostics.subscribe('node:permission-model:wasi', onWasi);
  return () => {
    diagnostics.unsubscribe('node:permission-model:fs', onFs);
    diagnostics.unsubscribe('node:permission-model:wasi', onWasi);
  };
}
