import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { rawMail } from '../outbound/fixtures.ts';
import { chromiumForFile } from '../web/browser.ts';
import { type LiveWorld, liveWorld } from '../../support/worlds.ts';

/**
 * A long text pasted into the case page's message box (a log, a whole mail thread), in a real Chromium against the
 * real server. It used to be cut without a word: the textarea's maxlength stopped the paste at 50 000 characters and
 * the server cut to the same. Now the browser keeps all of it, and the server refuses it with its length, keeping the
 * draft, so that the person decides what to do.
 */
const CUSTOMER = 'laura@cliente.test';

const { browser, keep } = chromiumForFile();

async function casePage(world: LiveWorld): Promise<Page> {
  const opened = await world.ingest(
    rawMail({ from: CUSTOMER, subject: 'Error al cerrar caja', body: 'Hola', messageId: 'laura-largo@cliente.test' }),
  );
  const [confirmation] = await world.sink.waitFor(
    (m) => m.to.includes(CUSTOMER) && m.subject.includes(`[Caso #${opened.ticketNumber}]`),
  );
  const link = new RegExp(`${world.baseUrl.replace(/[.:/]/g, '\\$&')}/caso/[^\\s"<>]+`).exec(confirmation.text)![0];
  const page = await (await browser().newContext({ locale: 'es-CO' })).newPage();
  await page.goto(link);
  return page;
}

/** Typed as a paste is: one input event with the whole text. */
async function paste(page: Page, text: string): Promise<void> {
  await page.getByLabel('Mensaje').fill('');
  await page.getByLabel('Mensaje').focus();
  await page.keyboard.insertText(text);
}

async function send(page: Page): Promise<number> {
  const answer = page.waitForResponse((r) => r.url().includes('/mensaje'));
  await page.getByRole('button', { name: 'Enviar' }).click();
  return (await answer).status();
}

const webMessages = (world: LiveWorld) => world.app.db('messages').where({ source: 'web' });

describe('a long text on the case page', () => {
  it('is kept whole by the browser and refused with its length, the draft kept; one at the limit is sent whole', async () => {
    const world = keep(await liveWorld());
    const page = await casePage(world);
    const log = `${'ERROR 0x80004005 al cerrar caja\n'.repeat(1875)}Fin.`; // 60 004 characters
    await paste(page, log);
    expect((await page.getByLabel('Mensaje').inputValue()).length).toBe(60_004);
    expect(await send(page)).toBe(413);
    await expect
      .poll(() => page.locator('[role=alert]').innerText())
      .toBe(
        'El texto es demasiado largo (60.004 caracteres): el límite es 50.000 caracteres. ' +
          'Divídelo en varios mensajes o adjunta el texto largo como archivo.',
      );
    expect(await page.getByLabel('Mensaje').inputValue()).toBe(log);
    expect(await webMessages(world)).toHaveLength(0);

    const atLimit = `${'x'.repeat(49_999)}!`;
    await paste(page, atLimit);
    expect(await send(page)).toBe(303); // back to the page, the message added
    const [stored] = await webMessages(world);
    expect(stored.body_text).toBe(atLimit);
  });

  it('says so, without a count, for a text over what the form reads of a field', async () => {
    const world = keep(await liveWorld());
    const page = await casePage(world);
    await paste(page, 'a'.repeat(270_000)); // over the form's 256 KiB per field
    expect(await send(page)).toBe(413);
    await expect
      .poll(() => page.locator('[role=alert]').innerText())
      .toBe(
        'El texto es demasiado largo: el límite es 50.000 caracteres. ' +
          'Divídelo en varios mensajes o adjunta el texto largo como archivo.',
      );
    expect(await webMessages(world)).toHaveLength(0);
  });
});
