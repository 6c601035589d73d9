import { cleanSubject } from './subject.ts';

/**
 * The guides ask customers to name the module and the problem in the subject ("BANCOS, Factura mal cargada").
 * A subject that is empty or only a cry for help is still filed; the confirmation then asks for those details.
 */
const VAGUE_WORDS = new Set([
  'urgente',
  'urgencia',
  'ayuda',
  'help',
  'problema',
  'problemas',
  'error',
  'errores',
  'falla',
  'fallas',
  'soporte',
  'support',
  'consulta',
  'pregunta',
  'solicitud',
  'caso',
  'ticket',
  'importante',
  'urgent',
  'issue',
  'problem',
  'favor',
  'por',
  'porfavor',
  'please',
  'hola',
  'buenos',
  'buenas',
  'dias',
  'días',
  'tardes',
  'sos',
  'asap',
  'ya',
  'necesito',
  'requiero',
  'un',
  'una',
  'con',
  'de',
  'el',
  'la',
  'me',
  'mi',
  'muy',
  'sin',
  'asunto',
  'no',
  'subject',
  'prueba',
  'test',
  'fw',
  'fwd',
  're',
  'rv',
  'info',
  'informacion',
  'información',
  'requerimiento',
  'novedad',
]);

export function subjectNeedsDetail(subject: string | undefined): boolean {
  const words = cleanSubject(subject ?? '')
    .toLowerCase()
    .normalize('NFC')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  return words.every((w) => VAGUE_WORDS.has(w));
}

/** The example the confirmation shows when the subject says too little. */
export const SUBJECT_EXAMPLE = 'BANCOS, Factura mal cargada';
