import type { App } from '../../src/app.ts';
import { insertSql, row } from '../../src/db/sql.ts';

/** A case row written straight to the table (no mail, no events): for tests of the storage itself. Its id. */
export async function bareCase(a: App, number = 1, requester = 'carla@empresa.com'): Promise<number> {
  const r = await row(
    a.db,
    `${insertSql('tickets', ['number', 'subject', 'requester', 'organization', 'priority', 'stage', 'waiting_on', 'created_at', 'updated_at'])} returning "id"`,
    [number, `Prueba ${number}`, requester, 'empresa.com', 'media', 'abierto', 'soporte', 1, 1],
  );
  return Number(r.id);
}
