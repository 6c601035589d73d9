import type { TransitionName } from './state-machine.ts';
import type { Priority, Stage, WaitingOn } from './types.ts';

/**
 * A consultant's command on a case, already checked against the case as it is: read from the top of a reply by the
 * commands filter (src/inbound/filters/commands.ts), applied by CaseService.runCommands. `line` is the command as
 * written, for the event log.
 */
export type Command =
  | { kind: 'stage'; transition: TransitionName; to: Stage; line: string }
  | { kind: 'priority'; priority: Priority; line: string }
  | { kind: 'assign'; assignee: string; line: string }
  | { kind: 'waiting'; waitingOn: WaitingOn; line: string }
  | { kind: 'note'; line: string }
  /** `/producto NÓMINA 4.2`: product (and module, version) of the case, resolved against the catalogue. */
  | { kind: 'product'; product: string; module?: string; version?: string; line: string }
  /** `/publicar [título]`: the solved case becomes a knowledge-base article; `text` (the rest of the mail) is its
   * body when given. The mail itself stays internal. */
  | { kind: 'publish'; title?: string; text: string; line: string }
  /** `/lista`: mail the consultant their signed link to every organization's cases. */
  | { kind: 'list'; line: string }
  /** `/cc +a@… -b@…` (/agregar, /quitar, /add, /remove): people put on or taken off the case. */
  | { kind: 'participants'; add: string[]; remove: string[]; line: string };
