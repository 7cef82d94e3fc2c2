/** Loads a module by name; replaceable in tests to simulate a missing optional package. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** Dynamic import through a variable so bundlers and TypeScript leave optional packages alone. */
export const importOptional: ModuleImporter = (specifier) => import(/* @vite-ignore */ specifier);

/** True when `error` says the module is not installed (rather than broken). */
export function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
