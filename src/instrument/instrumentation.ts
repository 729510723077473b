/**
 * @module
 * What an instrumentation declares, in the shape of OpenTelemetry's
 * `InstrumentationNodeModuleDefinition`: the npm package it patches, and per file it patches
 * (the package's entry, or an internal file such as `lib/application.js`) a closed semver range
 * and `patch`/`unpatch`. The layer (enable.ts) loads nothing itself: it patches each file as the
 * service requires it, and only inside its range.
 */

export interface PatchedFile {
  /** Path inside the package (`lib/application.js`); `''` for the package's main export. */
  readonly file: string;
  /** A closed semver range (`>=4.0.0 <6`): another major may have moved what is patched. */
  readonly versions: string;
  /**
   * Patches the file's exports in place (wrap methods) and returns how to undo it; or, for a
   * module whose export is a function, returns the exports to use instead and how to disable them.
   */
  patch(
    exports: unknown,
    version: string,
  ): (() => void) | { readonly exports: unknown; readonly restore: () => void };
}

export interface Instrumentation {
  /** The npm package's name, as its package.json says. */
  readonly package: string;
  /** What this instrumentation gives (for the README's supported-versions table). */
  readonly purpose: string;
  /** What goes unchecked when the package is outside every range (for the warning). */
  readonly consequence: string;
  /**
   * Enforcement depends on it (a database driver): in enforce mode an unsupported version
   * refuses to start (`ERR_LEASH_UNPATCHED`). Attribution-only targets (frameworks) warn.
   */
  readonly failClosed: boolean;
  readonly files: readonly PatchedFile[];
}

export function defineInstrumentation(instrumentation: Instrumentation): Instrumentation {
  return Object.freeze(instrumentation);
}

/** The union of a target's file ranges, for messages and the README table. */
export function versionsOf(instrumentation: Instrumentation): string {
  return [...new Set(instrumentation.files.map((file) => file.versions))].join(' || ');
}
