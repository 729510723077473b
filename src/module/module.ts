/**
 * @module
 * The module API. A module is one kind of privilege (files and network, SQL, page sources, or a
 * third party's outbound e-mail): it names its policy section, the kind of each fact position, and
 * optionally an `install` function that the agent calls inside the service to observe and enforce.
 * Built-in modules use exactly this API.
 */
import type { z } from 'zod';
import type { Kind, SimplifyOptions } from '../core/kind.ts';
import type { Facts, PolicyTree } from '../core/tree.ts';
import { LeashError } from '../errors.ts';

export const MODES = ['off', 'learn', 'report', 'enforce'] as const;
export type Mode = (typeof MODES)[number];

/** Where a privilege use came from, for attribution in policies and messages. */
export interface UseContext {
  /** Route template (`GET /notes/:id`), `@startup`, `@background` or `@unmatched`. */
  readonly scope: string;
  /** npm package whose code made the call; `app` for the service's own code. */
  readonly package: string;
}

export type Verdict =
  | { readonly allowed: true; readonly rule: readonly string[] | undefined }
  | { readonly allowed: false; readonly nearest: readonly string[] | undefined };

export interface CheckOptions {
  /**
   * In learn mode, add this rule (keys; patterns allowed) instead of the facts. It must cover the
   * facts: used to fold noise such as module-loader reads into one rule per root.
   */
  readonly learnAs?: readonly string[];
  /**
   * In learn mode, also add this rule (keys; patterns allowed) when the facts are already allowed:
   * what a repeated observation teaches (a constant seen twice is a member of a set). Not under
   * `leash ci`, which learns exactly what it sees.
   */
  readonly alsoLearn?: readonly string[];
  /**
   * In report and enforce mode, asked before a use the policy does not grant is recorded as a
   * violation: true when the use needs no privilege after all (a metadata probe of a path that does
   * not exist), so it is neither recorded nor refused. The caller then answers as the API would.
   */
  readonly excuse?: () => boolean;
}

/** What a module's observers and enforcers get from the agent. */
export interface ModuleHost {
  readonly mode: Mode;
  /** The policy file's path, for messages. */
  readonly policyFile: string;
  /**
   * Decides one privilege use. learn: records and allows. report: allows and records a violation.
   * enforce: throws `ERR_LEASH_DENIED` when the policy does not allow it. off: allows.
   */
  check(facts: Facts, use: UseContext, options?: CheckOptions): Verdict;
  /** Like `check`, but never throws: for observers that cannot veto (diagnostics channels). */
  observe(facts: Facts, use: UseContext, options?: CheckOptions): Verdict;
  /** Where the current call comes from: the scope (route) and the package on the stack. */
  use(): UseContext;
  /** The service's directory (the config file's, else the working directory). */
  readonly appRoot: string;
  /** Where paths may be generalised (roots, homes) and the threshold, from the config. */
  readonly simplify: SimplifyOptions;
  /** This module's rules as loaded (and, while learning, growing). Read it; never change it. */
  readonly tree: PolicyTree;
  /** Settings from the config that modules read (the principal, extra request inputs). */
  readonly settings: ModuleSettings;
  /**
   * Stops the service before it runs on, with one line: an enforcing module found something it
   * cannot check (ERR_LEASH_UNPATCHED).
   */
  refuseToStart(error: Error): void;
  /** Structured log for the module's own messages. */
  readonly log: {
    warn(object: Record<string, unknown>, message: string): void;
    info(object: Record<string, unknown>, message: string): void;
  };
}

export interface ModuleSettings {
  /** Where the logged-in user comes from: a request property path or a function of the request. */
  readonly principal: string | ((request: unknown) => unknown) | undefined;
  /** Request headers that count as request inputs for SQL constraints (lower case). */
  readonly inputHeaders: readonly string[];
  /** Values remembered per request for `=result` constraints. */
  readonly maxRememberedValues: number;
  /**
   * Learning records facts exactly as observed, nothing generalised or added (`leash ci`): what
   * the run adds must be what the committed policy does not grant, nothing else.
   */
  readonly learnExact?: boolean;
  /** Packages that may stay unpatched in enforce mode (config `ignoreUnpatched`). */
  readonly ignoreUnpatched?: readonly string[];
  /** The csp module's settings (defaults when absent). */
  readonly csp?: CspSettings;
  /** This module's own settings (its config section over its declared defaults), if it has any. */
  readonly own?: Readonly<Record<string, unknown>> | undefined;
}

export interface CspSettings {
  /** Path of the report endpoint the agent serves (`/__leash/csp-report`). */
  readonly reportPath: string;
  /** HMAC key of report tags from the config; else a key file next to the policy. */
  readonly key: string | undefined;
  readonly tagTtlSeconds: number;
  readonly maxReportBytes: number;
  readonly reportsPerMinute: number;
  /** Also send `report-to` and `Reporting-Endpoints`: always, never, or on HTTPS requests. */
  readonly reportTo: boolean | 'auto';
  /** How scripts of other origins are learned: their URL or their origin. */
  readonly scriptSources: 'path' | 'origin';
  /** Replace a CSP the service sets itself. */
  readonly override: boolean;
}

export interface ModuleLintFinding {
  /** Keys from the section's root to what the finding is about. */
  readonly path: readonly string[];
  readonly message: string;
  /** A warning makes `leash policy lint` exit 1; otherwise it is shown as information. */
  readonly warning: boolean;
}

/** Where the policy is used, for lint findings that depend on it. */
export interface LintContext {
  /** The app directory. */
  readonly appRoot: string;
  /** The OS temp directory. */
  readonly tmpDir: string;
  /** The policy file. */
  readonly policyFile: string;
}

export interface LeashModule {
  /** Policy section name: lower-case letters, digits and dashes. */
  readonly name: string;
  /** One line for `leash --help` and `policy show`. */
  readonly description: string;
  /** Names of the fact positions, for display (`scope`, `package`, `capability`, `resource`). */
  readonly positions: readonly string[];
  /** The kind of the first position; each key names the kind of the next. */
  readonly root: Kind;
  /** Module-specific lint of a policy's rules (`leash policy lint`), beyond each key's breadth. */
  readonly lint?: (tree: PolicyTree, context: LintContext) => readonly ModuleLintFinding[];
  /** Remarks for a person reviewing this module's rules, printed by `leash policy show`. */
  readonly notes?: (tree: PolicyTree) => readonly string[];
  /** Asynchronous preparation before `install` (loading a WASM parser, say). */
  readonly prepare?: () => Promise<void>;
  /** Starts observing/enforcing inside a service; returns how to stop. */
  readonly install?: (host: ModuleHost) => (() => void) | undefined;
  /**
   * The module's own settings: the config section named like the module (`csp: { … }`) is
   * checked against `schema` (unknown keys are errors) and laid over `defaults`; the host hands the
   * result to `install` as `host.settings.own`.
   */
  readonly settings?: ModuleSettingsDeclaration;
}

/** A module's settings: their schema (a strict zod object, every key optional) and defaults. */
export interface ModuleSettingsDeclaration<T extends object = object> {
  readonly schema: z.ZodType<{ [K in keyof T]?: T[K] | undefined }>;
  readonly defaults: Readonly<T>;
}

const NAME = /^[a-z][a-z0-9-]*$/;

/** Declares a module, checking its shape early so a mistake fails at import, not mid-request. */
export function defineModule<M extends LeashModule>(module: M): M {
  if (!NAME.test(module.name)) {
    throw new LeashError(
      'ERR_LEASH_MODULE',
      `module name ${JSON.stringify(module.name)} must match ${NAME}`,
    );
  }
  if (module.name === 'version')
    throw new LeashError('ERR_LEASH_MODULE', `'version' is reserved in the policy file`);
  if (module.positions.length === 0)
    throw new LeashError('ERR_LEASH_MODULE', `module ${module.name} declares no positions`);
  return Object.freeze(module);
}

/** The modules a policy file may contain, by section name. */
export type ModuleRegistry = ReadonlyMap<string, LeashModule>;

export function createRegistry(modules: readonly LeashModule[]): ModuleRegistry {
  const map = new Map<string, LeashModule>();
  for (const module of modules) {
    if (map.has(module.name))
      throw new LeashError('ERR_LEASH_MODULE', `two modules are named ${module.name}`);
    map.set(module.name, module);
  }
  return map;
}
