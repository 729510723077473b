// A learned policy file as JSON, with its portable tokens ({app}, {tmp}, {home}, {env:NAME})
// expanded the way the service that wrote it would read them: tests compare rules with the
// absolute paths they set up.
import { readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { expandKey, localityOf } from '../../src/store/locality.ts';

export interface PolicyJsonOptions {
  /** The app directory of the service (where its config is, else its working directory). */
  readonly app: string;
  /** The service's environment, for `{env:NAME}`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

// biome-ignore lint/suspicious/noExplicitAny: a policy file is any JSON tree of keys
type Json = any;

export function readPolicyJson(file: string, options: PolicyJsonOptions): Json {
  const locality = localityOf({
    app: options.app,
    tmp: tmpdir(),
    home: homedir(),
    env: options.env ?? {},
    envRoots: Object.keys(options.env ?? {}),
  });
  const expand = (key: string) => expandKey(key, locality);
  const walk = (node: Json): Json => {
    if (Array.isArray(node))
      return node.map((item) => (typeof item === 'string' ? expand(item) : item));
    if (typeof node !== 'object' || node === null) return node;
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [expand(k), walk(v)]));
  };
  const policy = JSON.parse(readFileSync(file, 'utf8'));
  // Only the runtime section holds tokens.
  if (policy.runtime !== undefined) policy.runtime = walk(policy.runtime);
  return policy;
}
