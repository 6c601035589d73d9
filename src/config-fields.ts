import { z } from 'zod';

/** Field validators shared by the environment (src/config.ts) and the optional config file (src/policy/settings.ts). */
export const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'zona horaria IANA desconocida (p. ej. America/Bogota)');
