/**
 * What src/bundle.js leaves on `globalThis` for the code it runs, read in one place: the directory of the bundle this
 * process runs (undefined under tsx or vitest), and tsx's loader, registered on demand (undefined where bundle.js was
 * never loaded: vitest).
 */
const globals = globalThis as Record<symbol, unknown>;

export function bundleDir(): string | undefined {
  return globals[Symbol.for('mesa.bundleDir')] as string | undefined;
}

export function loadTypeScript(): Promise<unknown> | undefined {
  return (globals[Symbol.for('mesa.loadTypeScript')] as (() => Promise<unknown>) | undefined)?.();
}
