// Types of src/bundle.js (plain JavaScript: it runs before any TypeScript loader is registered).
export declare const SRC: string;
export declare const ROOT: string;
export declare const MIGRATIONS: string;
export declare const MESA_ENTRIES: { cli: string; 'parse-worker': string };
export declare function migrationEntries(dir?: string): Record<string, string>;
export declare function loadTypeScript(): Promise<unknown>;
export declare function runBundle(dir: string, file: string): Promise<void>;
export declare function cachedBundle(opts?: { name?: string; entryPoints?: Record<string, string>; sources?: string[] }): Promise<string>;
