import type { Config } from '../config.ts';
import { isMesaError } from '../errors.ts';
import { listParticipants, removeFromCase } from '../services/participants.ts';
import { withApp } from './commands.ts';
import { EXIT, idArgument } from './env.ts';

/** How each origin reads in the list (src/tickets/types.ts ParticipantOrigin). */
const ORIGIN: Record<string, string> = {
  requester: 'abrió el caso',
  opening: 'en el correo que abrió el caso',
  signed_reply: 'respuesta verificada (Message-ID nuestro)',
  dmarc: 'respuesta con DMARC válido',
  consultant: 'agregado por un consultor',
  assigned: 'consultor asignado',
  unproven: 'sin verificar (anterior)',
};

/** Who a participant is on the case, as the list shows it (`--json` keeps the stored role). */
const ROLE: Record<string, string> = { requester: 'solicitante', cc: 'en copia', consultant: 'consultor' };

/** `mesa participants N [--remove correo]`: lists who is on a case, or takes one Cc'd person off it (links revoked). */
export async function participantsCommand(
  config: Config,
  numberArg: string,
  opts: { remove?: string; json?: boolean },
): Promise<number> {
  const number = idArgument(numberArg, 'un número de caso');
  if (number === undefined) return EXIT.USAGE;
  return withApp(config, async (app) => {
    try {
      if (opts.remove) {
        const who = opts.remove.trim().toLowerCase();
        await removeFromCase(app.db, number, who, `mesa participants (${process.env.USER ?? 'cli'})`, Date.now());
        if (opts.json) process.stdout.write(JSON.stringify({ removed: who, number }) + '\n');
        else process.stdout.write(`${who} ya no está en el caso #${number}; sus enlaces quedaron revocados.\n`);
        return EXIT.OK;
      }
      const list = await listParticipants(app.db, number);
      if (opts.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      else
        for (const p of list)
          process.stdout.write(
            `${p.address.padEnd(40)} ${(ROLE[p.role] ?? p.role).padEnd(11)} ` +
              `${p.addedAt.replace('T', ' ').slice(0, 16)}  ${ORIGIN[p.addedBy] ?? p.addedBy}\n`,
          );
      return EXIT.OK;
    } catch (err) {
      if (isMesaError(err, 'TICKET_NOT_FOUND')) {
        process.stderr.write(`mesa: el caso #${number} no existe\n`);
        return EXIT.NOINPUT;
      }
      if (isMesaError(err, 'PARTICIPANT_REFUSED')) {
        process.stderr.write(`mesa: ${err.message}\n`);
        return EXIT.DATAERR;
      }
      throw err;
    }
  });
}
