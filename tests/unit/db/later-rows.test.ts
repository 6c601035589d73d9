import { describe, expect, it } from 'vitest';
import { rowsWhere, WaitingTable, type LaterRow, type RowTest } from '../../../src/db/later-rows.ts';

/**
 * A batch's waiting rows (UnitOfWork.insertLater) are read back by the batch's readers, with a test and, on the
 * readers every mail runs, a hint of the column the test compares. The hint narrows the rows looked at; the answer is
 * the rows a test of every row gives, in the order they were given.
 */
const KEYS = ['ticket_id', 'recipient', 'state'];
const row = (ticketId: unknown, recipient: string | null, state = 'pending'): LaterRow => ({
  table: 'outbox',
  keys: KEYS,
  values: [ticketId, recipient, state],
  tail: '',
});

describe('waiting rows read with a hint (src/db/later-rows.ts)', () => {
  it('finds with an index what a test of every row finds, in the order given, rows added later included', () => {
    const table = new WaitingTable();
    const rows = [row(1, 'ana@x.test'), row(2, 'luis@x.test'), row(1, 'luis@x.test', 'held'), row(3, null)];
    for (const r of rows.slice(0, 2)) table.add(r);
    const toLuis: RowTest = (v) => v('recipient') === 'luis@x.test' && v('state') !== 'held';
    const hinted = { test: toLuis, narrow: [{ column: 'recipient', values: ['luis@x.test'] }] };
    expect(table.matching(hinted)).toEqual([rows[1]]);
    // The index made by the first read follows the rows added after it.
    for (const r of rows.slice(2)) table.add(r);
    table.add(row(4, 'luis@x.test'));
    expect(table.matching(hinted)).toEqual(table.matching(toLuis));
    expect(table.matching(hinted).map((r) => r.values[0])).toEqual([2, 4]);
  });

  it('joins several hints and values without repeating a row, and still applies the test', () => {
    const table = new WaitingTable();
    const rows = [row(5, 'ana@x.test'), row(6, 'luis@x.test'), row(7, 'ana@x.test'), row(5, 'eva@x.test')];
    for (const r of rows) table.add(r);
    const all: RowTest = () => true;
    const either = {
      test: all,
      narrow: [
        { column: 'ticket_id', values: [5, 7] },
        { column: 'recipient', values: ['ana@x.test'] },
      ],
    };
    expect(table.matching(either)).toEqual([rows[0], rows[2], rows[3]]);
    expect(table.matching({ test: (v) => v('recipient') !== 'eva@x.test', narrow: either.narrow })).toEqual([
      rows[0],
      rows[2],
    ]);
    expect(table.anyMatters({ test: all, narrow: [{ column: 'ticket_id', values: [8] }] })).toBe(false);
    expect(table.anyMatters({ test: all, narrow: [{ column: 'ticket_id', values: [6] }] })).toBe(true);
  });

  it('compares a hint as text (a case id bound as 5 or read as "5"), and never takes a row whose column is empty', () => {
    const table = new WaitingTable();
    table.add(row('5', 'ana@x.test'));
    table.add(row(5n, 'luis@x.test'));
    table.add(row(null, 'eva@x.test'));
    const byCase = (id: unknown) => ({ test: () => true, narrow: [{ column: 'ticket_id', values: [id] }] });
    expect(table.matching(byCase(5)).map((r) => r.values[1])).toEqual(['ana@x.test', 'luis@x.test']);
    expect(table.matching(byCase(null))).toEqual([]);
    expect(table.matching(byCase('null'))).toEqual([]);
  });

  it('rowsWhere: the rows with every value given and passing the rest, narrowed by the first column', () => {
    const table = new WaitingTable();
    const rows = [row(1, 'ana@x.test'), row(1, 'luis@x.test'), row('1', 'luis@x.test'), row(1, 'luis@x.test', 'held')];
    for (const r of rows) table.add(r);
    const which = rowsWhere({ ticket_id: 1, recipient: 'luis@x.test' }, (v) => v('state') !== 'held');
    expect(which.narrow).toEqual([{ column: 'ticket_id', values: [1] }]);
    expect(table.matching(which)).toEqual([rows[1]]);
    expect(table.matching(which)).toEqual(table.matching(which.test));
  });
});
