import { boundedMemo } from '../memo.ts';
import { noSubject } from '../tickets/subject.ts';
import type { Priority, Stage } from '../tickets/types.ts';

/**
 * The status page's words, Spanish first (LOCALE=en switches to English). Layout lives in views/; only text here,
 * so a translation never touches markup.
 */
const es = {
  lang: 'es',
  dateLocale: 'es-CO',
  skip: 'Saltar al contenido',
  caseTitle: (n: number) => `Caso #${n}`,
  radicado: 'Radicado',
  subject: 'Asunto',
  filed: 'Radicado el',
  stage: 'Etapa',
  priority: 'Prioridad',
  product: 'Producto',
  attendedBy: 'Lo atiende',
  unassigned: 'Equipo de soporte (por asignar)',
  sla: 'Tiempo de atención',
  slaLight: { green: 'A tiempo', yellow: 'Cerca del plazo', red: 'Fuera de plazo' } as Record<string, string>,
  waitingOn: 'En espera de',
  waiting: { soporte: 'Soporte', cliente: 'Tu respuesta', tercero: 'Un tercero' } as Record<string, string>,
  stages: {
    abierto: 'Abierto',
    analisis: 'En análisis',
    solucion: 'Preparando la solución',
    pruebas: 'En pruebas: esperamos tu confirmación',
    cerrado: 'Cerrado',
    reabierto: 'Reabierto',
  } satisfies Record<Stage, string>,
  priorities: { alta: 'Alta', media: 'Media', baja: 'Baja' } satisfies Record<Priority, string>,
  conversation: 'Conversación',
  me: 'Yo',
  read: 'Leído',
  unverified: 'Remitente sin verificar',
  unverifiedHint:
    'Este correo no responde a uno nuestro ni su dominio lo autenticó: ' +
    'pudo escribirlo otra persona con esta dirección.',
  attachments: 'Adjuntos',
  download: 'Descargar',
  originalFormat: 'Ver el mensaje con su formato original',
  noMessages: 'Todavía no hay mensajes.',
  addMessage: 'Escribir al equipo de soporte',
  messageLabel: 'Mensaje',
  filesLabel: 'Adjuntar archivos',
  filesHint: (max: string, files: number) => `Opcional. Hasta ${files} archivos, de ${max} cada uno como máximo.`,
  send: 'Enviar',
  sent: 'Tu mensaje quedó registrado en el caso. El equipo de soporte ya fue avisado.',
  empty: 'Escribe un mensaje o adjunta un archivo.',
  closedNote:
    'Este caso está cerrado. Si el problema volvió, califica la solución como insatisfactoria para reabrirlo.',
  ratingTitle: '¿Cómo te fue con la solución?',
  ratingIntro: 'Cuéntanos si la solución propuesta resolvió tu caso.',
  ratingComment: 'Comentario',
  ratingCommentHint: 'Opcional si la solución fue satisfactoria; cuéntanos qué falta si no lo fue.',
  good: 'Solución satisfactoria',
  bad: 'Solución insatisfactoria',
  needComment: 'Cuéntanos qué falta para que podamos reabrir el caso con esa información.',
  productTitle: '¿Sobre qué producto es tu caso?',
  productIntro:
    'No pudimos saber a qué producto o módulo se refiere tu caso. Elígelo para que lo atienda quien conoce ese módulo.',
  productField: 'Producto y módulo',
  productPick: 'Elige un producto',
  productAnyModule: (p: string) => `${p} (no sé el módulo)`,
  productHint: 'Si no sabes el módulo, elige solo el producto.',
  versionField: 'Versión (opcional)',
  versionHint: 'Por ejemplo 4.2. Si no la sabes, déjala en blanco.',
  productSave: 'Guardar el producto',
  productSaved: 'Registramos el producto de tu caso; el equipo de soporte lo verá en el caso.',
  productUnknown: (v: string) =>
    v ? `«${v}» no está en el catálogo de productos. Elige uno de la lista.` : 'Elige un producto de la lista.',
  versionUnknown: (v: string, p: string, versions: readonly string[]) =>
    versions.length
      ? `La versión «${v}» no está en el catálogo de ${p} (versiones: ${versions.join(', ')}).`
      : `«${v}» no es una versión: escríbela con números, por ejemplo 4.2.`,
  productTaken: (label: string) =>
    `Este caso ya tiene producto: ${label}. Si no es el correcto, cuéntaselo al equipo de soporte en un mensaje.`,
  productNotCustomer:
    'Solo el cliente elige el producto desde su enlace. Como consultor, corrígelo respondiendo al caso con /producto.',
  ratedGood: 'Gracias. Registramos tu visto bueno y el caso quedó cerrado.',
  ratedBad: 'Reabrimos el caso con tu comentario; el equipo de soporte ya fue avisado.',
  ratingRecorded: (r: string) => `Tu calificación: ${r}.`,
  ratingNames: { satisfactoria: 'solución satisfactoria', insatisfactoria: 'solución insatisfactoria' } as Record<
    string,
    string
  >,
  notFoundTitle: 'Página no encontrada',
  noSubject: noSubject('es'),
  notFound: 'No encontramos esta página.',
  notFoundHelp: 'Si buscas tu caso, abre el enlace del último correo que te enviamos.',
  newCaseByMail: 'Para un caso nuevo, escribe a',
  expiredTitle: 'Este enlace ya no es válido',
  expired:
    'El enlace venció o fue reemplazado por uno más reciente. ' +
    'Podemos enviar un enlace nuevo al correo registrado en el caso.',
  sendFresh: 'Enviarme un enlace nuevo',
  freshSent:
    'Si el caso sigue activo, enviamos un enlace nuevo al correo registrado en él. Revisa tu bandeja de entrada.',
  tooMany: 'Recibimos demasiadas solicitudes. Intenta de nuevo más tarde.',
  tooManyPosts:
    'Recibimos demasiados mensajes o archivos desde este enlace o esta conexión en la última hora. ' +
    'Espera un rato e inténtalo de nuevo, o responde al correo del caso.',
  tooLargeTotal: (max: string) =>
    `Los archivos son demasiado grandes: el límite es ${max} entre todos los de un mensaje. ` +
    'Envía los demás en otro mensaje.',
  readConfirm: 'Ya leí las respuestas',
  readRecorded: 'Registramos que leíste las respuestas del equipo de soporte.',
  lostTitle: 'Perdí mi enlace',
  lostIntro: 'Escribe tu correo electrónico y te enviaremos los enlaces de tus casos abiertos.',
  emailLabel: 'Correo electrónico',
  lostSend: 'Enviarme mis enlaces',
  lostSent: 'Si ese correo tiene casos abiertos, te enviamos los enlaces. Revisa tu bandeja de entrada.',
  lostLink: '¿Perdiste tu enlace?',
  badEmail: 'Escribe una dirección de correo válida.',
  staleForm: 'El formulario caducó. Vuelve a cargar la página e inténtalo de nuevo.',
  tooLarge: (max: string) => `El archivo es demasiado grande: el límite es ${max} por archivo.`,
  tooManyFiles: (max: number) =>
    `Son demasiados archivos: un mensaje lleva hasta ${max}. Envía los demás en otro mensaje.`,
  /** `length`: how many characters it had, when the whole text reached the server. */
  textTooLong: (max: number, length?: number) =>
    `El texto es demasiado largo${length ? ` (${length.toLocaleString('es-CO')} caracteres)` : ''}: ` +
    `el límite es ${max.toLocaleString('es-CO')} caracteres. ` +
    'Divídelo en varios mensajes o adjunta el texto largo como archivo.',
  error: 'Algo salió mal. Intenta de nuevo en unos minutos.',
  back: 'Volver al caso',
  footer: 'Este enlace es personal: no lo compartas.',
};

export type Strings = typeof es;

const en: Strings = {
  lang: 'en',
  dateLocale: 'en-US',
  skip: 'Skip to content',
  caseTitle: (n) => `Case #${n}`,
  radicado: 'Case number',
  subject: 'Subject',
  filed: 'Filed',
  stage: 'Stage',
  priority: 'Priority',
  product: 'Product',
  attendedBy: 'Handled by',
  unassigned: 'Support team (not yet assigned)',
  sla: 'Response time',
  slaLight: { green: 'On time', yellow: 'Close to the deadline', red: 'Late' },
  waitingOn: 'Waiting on',
  waiting: { soporte: 'Support', cliente: 'Your answer', tercero: 'A third party' },
  stages: {
    abierto: 'Open',
    analisis: 'Under analysis',
    solucion: 'Preparing a solution',
    pruebas: 'Testing: waiting for your confirmation',
    cerrado: 'Closed',
    reabierto: 'Reopened',
  },
  priorities: { alta: 'High', media: 'Medium', baja: 'Low' },
  conversation: 'Conversation',
  me: 'Me',
  read: 'Read',
  unverified: 'Sender not verified',
  unverifiedHint:
    'This mail does not answer one of ours and its domain did not authenticate it: ' +
    'someone else may have written it with this address.',
  attachments: 'Attachments',
  download: 'Download',
  originalFormat: 'Show the message with its original formatting',
  noMessages: 'No messages yet.',
  addMessage: 'Write to the support team',
  messageLabel: 'Message',
  filesLabel: 'Attach files',
  filesHint: (max, files) => `Optional. Up to ${files} files, ${max} each at most.`,
  send: 'Send',
  sent: 'Your message was added to the case. The support team has been told.',
  empty: 'Write a message or attach a file.',
  closedNote: 'This case is closed. If the problem is back, rate the solution as unsatisfactory to reopen it.',
  ratingTitle: 'How did the solution work for you?',
  ratingIntro: 'Tell us whether the proposed solution solved your case.',
  ratingComment: 'Comment',
  ratingCommentHint: 'Optional if the solution worked; tell us what is missing if it did not.',
  good: 'Solution satisfactory',
  bad: 'Solution unsatisfactory',
  needComment: 'Tell us what is missing so we can reopen the case with that information.',
  productTitle: 'Which product is your case about?',
  productIntro:
    'We could not tell which product or module your case is about. Choose it so that the right person answers.',
  productField: 'Product and module',
  productPick: 'Choose a product',
  productAnyModule: (p) => `${p} (module unknown)`,
  productHint: 'If you do not know the module, choose the product only.',
  versionField: 'Version (optional)',
  versionHint: 'For example 4.2. Leave it blank if you do not know it.',
  productSave: 'Save the product',
  productSaved: 'We recorded the product of your case; the support team will see it on the case.',
  productUnknown: (v) =>
    v ? `“${v}” is not in the product catalogue. Choose one from the list.` : 'Choose a product from the list.',
  versionUnknown: (v, p, versions) =>
    versions.length
      ? `Version “${v}” is not in the catalogue for ${p} (versions: ${versions.join(', ')}).`
      : `“${v}” is not a version: write it in numbers, for example 4.2.`,
  productTaken: (label) =>
    `This case already has a product: ${label}. If it is wrong, tell the support team in a message.`,
  productNotCustomer:
    'Only the customer chooses the product from their link. ' +
    'As a consultant, correct it by answering the case with /producto.',
  ratedGood: 'Thank you. Your approval was recorded and the case is closed.',
  ratedBad: 'We reopened the case with your comment; the support team has been told.',
  ratingRecorded: (r) => `Your rating: ${r}.`,
  ratingNames: { satisfactoria: 'solution satisfactory', insatisfactoria: 'solution unsatisfactory' },
  notFoundTitle: 'Page not found',
  noSubject: noSubject('en'),
  notFound: 'We could not find this page.',
  notFoundHelp: 'If you are looking for your case, open the link in the last message we sent you.',
  newCaseByMail: 'For a new case, write to',
  expiredTitle: 'This link is no longer valid',
  expired: 'The link expired or was replaced by a newer one. We can send a new link to the address on the case.',
  sendFresh: 'Send me a new link',
  freshSent: 'If the case is still active, we sent a new link to the address on it. Check your inbox.',
  tooMany: 'Too many requests. Please try again later.',
  tooManyPosts:
    'Too many messages or files from this link or this connection in the last hour. ' +
    'Wait a while and try again, or answer the case mail.',
  tooLargeTotal: (max) =>
    `The files are too large: the limit is ${max} for all the files of one message. Send the rest in another message.`,
  readConfirm: 'I have read the answers',
  readRecorded: 'We recorded that you read the support team’s answers.',
  lostTitle: 'I lost my link',
  lostIntro: 'Type your e-mail address and we will send you the links to your open cases.',
  emailLabel: 'E-mail address',
  lostSend: 'Send me my links',
  lostSent: 'If that address has open cases, we sent it the links. Check your inbox.',
  lostLink: 'Lost your link?',
  badEmail: 'Type a valid e-mail address.',
  staleForm: 'The form expired. Reload the page and try again.',
  tooLarge: (max) => `The file is too large: the limit is ${max} per file.`,
  tooManyFiles: (max) => `Too many files: a message carries up to ${max}. Send the others in another message.`,
  textTooLong: (max, length) =>
    `The text is too long${length ? ` (${length.toLocaleString('en')} characters)` : ''}: ` +
    `the limit is ${max.toLocaleString('en')} characters. ` +
    'Split it into several messages or attach the long text as a file.',
  error: 'Something went wrong. Please try again in a few minutes.',
  back: 'Back to the case',
  footer: 'This link is personal: do not share it.',
};

export function strings(locale: 'es' | 'en'): Strings {
  return locale === 'en' ? en : es;
}

/**
 * The notice a redirect asks the case page to show (`?aviso=mensaje`): only these keys. A Map, not an object
 * lookup: `?aviso=constructor` or `__proto__` must find nothing, not a property every object inherits.
 */
export function noticeText(s: Strings, key: unknown): string | undefined {
  const notices = new Map<string, string>([
    ['mensaje', s.sent],
    ['vobo', s.ratedGood],
    ['reabierto', s.ratedBad],
    ['leido', s.readRecorded],
    ['producto', s.productSaved],
  ]);
  return typeof key === 'string' ? notices.get(key) : undefined;
}

/** Human sizes for limits and attachments ("25 MB"). */
export function formatBytes(bytes: number, locale: 'es' | 'en'): string {
  const fmt = new Intl.NumberFormat(locale === 'en' ? 'en-US' : 'es-CO', { maximumFractionDigits: 1 });
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${fmt.format(bytes / 1024)} KB`;
  return `${fmt.format(bytes / (1024 * 1024))} MB`;
}

/** Date and time in the configured zone, e.g. "22 nov 2026, 9:15 a. m.". */
export function formatWhen(ms: number, s: Strings, timeZone: string): string {
  return whenFormat(s.dateLocale, timeZone).format(new Date(ms));
}

/** Building an Intl formatter costs far more than using one: one per locale and zone, made once. */
const whenFormat = boundedMemo(
  16,
  (locale: string, timeZone: string) => `${locale}\0${timeZone}`,
  (locale: string, timeZone: string) =>
    new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'medium', timeStyle: 'short' }),
);
