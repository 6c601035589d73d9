import path from 'node:path';

/**
 * The public mail corpus the corpus tests read. It is not part of the repository (real third-party mail, read from
 * tests only, never copied in): MESA_CORPUS_DIR names it, by default a `shared/corpus` folder beside the repository.
 * Tests that use it say so and pass when it is absent.
 */
export const CORPUS_DIR =
  process.env.MESA_CORPUS_DIR ?? path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'corpus');
