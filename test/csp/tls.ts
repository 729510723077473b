// A throwaway certificate for 127.0.0.1, made per test run (nothing secret is kept in the
// repository), and the SPKI pin that makes Chromium trust it.
import { createHash, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface LoopbackCertificate {
  readonly keyFile: string;
  readonly certFile: string;
  /** For `--ignore-certificate-errors-spki-list`: base64 SHA-256 of the public key. */
  readonly spki: string;
}

export async function loopbackCertificate(dir: string): Promise<LoopbackCertificate> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const keyFile = join(dir, 'tls.key');
  const certFile = join(dir, 'tls.crt');
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert);
  const der = createPublicKey(pems.cert).export({ type: 'spki', format: 'der' });
  return { keyFile, certFile, spki: createHash('sha256').update(der).digest('base64') };
}
