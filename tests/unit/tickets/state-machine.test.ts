import { describe, expect, it } from 'vitest';
import { isMesaError } from '../../../src/errors.ts';
import {
  canTransition,
  changeWaiting,
  isOpen,
  logEntry,
  transition,
  transitionTo,
  TRANSITIONS,
  WAITING_TRANSITIONS,
  waitingAfterMessage,
  waitingAfterTransition,
  type TransitionName,
  type WaitingTransitionName,
} from '../../../src/tickets/state-machine.ts';
import { STAGES, WAITING_ON, type Stage, type WaitingOn } from '../../../src/tickets/types.ts';

/** The whole table, written out: any change to the lifecycle has to change this table too. */
const ALLOWED: Record<TransitionName, Stage[]> = {
  analizar: ['abierto', 'reabierto'],
  proponer_solucion: ['abierto', 'analisis', 'reabierto'],
  enviar_a_pruebas: ['abierto', 'analisis', 'solucion', 'reabierto'],
  cerrar: ['abierto', 'analisis', 'solucion', 'pruebas', 'reabierto'],
  reabrir: ['cerrado', 'pruebas', 'solucion'],
  volver_a_analisis: ['solucion', 'pruebas'],
};
const TARGET: Record<TransitionName, Stage> = {
  analizar: 'analisis',
  proponer_solucion: 'solucion',
  enviar_a_pruebas: 'pruebas',
  cerrar: 'cerrado',
  reabrir: 'reabierto',
  volver_a_analisis: 'analisis',
};

const stageCases = (Object.keys(TRANSITIONS) as TransitionName[]).flatMap((name) =>
  STAGES.map((from) => ({ name, from, allowed: ALLOWED[name].includes(from) })),
);

describe('stage transitions: every name from every stage', () => {
  it('the table covers every named transition', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it.each(stageCases)('$name from $from → allowed: $allowed', ({ name, from, allowed }) => {
    expect(canTransition(from, name)).toBe(allowed);
    if (allowed) {
      expect(transition(from, name)).toEqual({ transition: name, from, to: TARGET[name] });
    } else {
      let err: unknown;
      try {
        transition(from, name);
      } catch (e) {
        err = e;
      }
      expect(isMesaError(err, 'TRANSITION_REFUSED')).toBe(true);
      // The refusal names the transition, the current stage and where it is allowed from.
      expect((err as Error).message).toContain(name);
      expect((err as Error).message).toContain(`"${from}"`);
    }
  });

  it.each(STAGES.flatMap((from) => STAGES.map((to) => ({ from, to }))))(
    'transitionTo($from → $to) finds the named move or none',
    ({ from, to }) => {
      const name = transitionTo(from, to);
      const expected = (Object.keys(ALLOWED) as TransitionName[]).find(
        (n) => TARGET[n] === to && ALLOWED[n].includes(from),
      );
      expect(name).toBe(expected);
    },
  );

  it('only cerrado is not open', () => {
    expect(STAGES.filter((s) => !isOpen(s))).toEqual(['cerrado']);
  });
});

const WAIT_ALLOWED: Record<WaitingTransitionName, WaitingOn[]> = {
  esperar_cliente: ['soporte', 'tercero'],
  esperar_soporte: ['cliente', 'tercero'],
  esperar_tercero: ['soporte', 'cliente'],
};

describe('waiting-on transitions', () => {
  const cases = (Object.keys(WAITING_TRANSITIONS) as WaitingTransitionName[]).flatMap((name) =>
    WAITING_ON.flatMap((from) =>
      (['analisis', 'cerrado'] as Stage[]).map((stage) => ({
        name,
        from,
        stage,
        allowed: stage !== 'cerrado' && WAIT_ALLOWED[name].includes(from),
      })),
    ),
  );

  it.each(cases)('$name from $from in $stage → allowed: $allowed', ({ name, from, stage, allowed }) => {
    if (allowed)
      expect(changeWaiting(stage, from, name)).toEqual({ transition: name, from, to: WAITING_TRANSITIONS[name].to });
    else expect(() => changeWaiting(stage, from, name)).toThrow(/Cambio de etapa no permitido/);
  });

  it.each([
    ['consultant', 'soporte', 'cliente'],
    ['consultant', 'tercero', 'cliente'],
    ['customer', 'cliente', 'soporte'],
    ['customer', 'soporte', 'soporte'],
    ['customer', 'tercero', 'tercero'],
  ] as const)('a %s message while waiting on %s → waiting on %s', (role, current, expected) => {
    expect(waitingAfterMessage(role, current)).toBe(expected);
  });
});

describe('who the case waits on after a stage change', () => {
  const expected = (name: TransitionName, current: WaitingOn): WaitingOn =>
    name === 'reabrir' || name === 'volver_a_analisis' ? 'soporte' : name === 'enviar_a_pruebas' ? 'cliente' : current;
  it.each(
    (Object.keys(TRANSITIONS) as TransitionName[]).flatMap((name) => WAITING_ON.map((current) => ({ name, current }))),
  )('$name while waiting on $current', ({ name, current }) => {
    expect(waitingAfterTransition(name, current)).toBe(expected(name, current));
  });
});

describe('event log entries', () => {
  it('record who, when, from, to and why', () => {
    expect(logEntry(transition('pruebas', 'cerrar'), 'sistema', 1000, 'cierre automático')).toEqual({
      type: 'stage_changed',
      actor: 'sistema',
      from: 'pruebas',
      to: 'cerrado',
      reason: 'cierre automático',
      at: 1000,
      data: { transition: 'cerrar' },
    });
    expect(
      logEntry(changeWaiting('analisis', 'soporte', 'esperar_tercero'), 'ana@mesa.test', 5, '/esperar tercero'),
    ).toMatchObject({
      type: 'waiting_changed',
      from: 'soporte',
      to: 'tercero',
      actor: 'ana@mesa.test',
      reason: '/esperar tercero',
    });
  });
});
