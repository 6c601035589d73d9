import { MODULE_SEPARATOR } from '../../services/portal-product.ts';
import { html, trusted, type SafeHtml } from '../html.ts';
import type { CatalogueProduct } from '../../tickets/products.ts';
import type { Strings } from '../i18n.ts';

export interface ProductFormInput {
  s: Strings;
  /** The case page's path: the form posts to `<base>/producto`. */
  base: string;
  csrf: string;
  choices: readonly CatalogueProduct[];
  error?: { form: string; text: string };
  productDraft?: { choice: string; version: string };
}

/** The customer's choice of product and module (and version) while the case has none: one select, no script. */
export function productForm(p: ProductFormInput): SafeHtml {
  const { s } = p;
  const err = p.error?.form === 'product' ? p.error.text : undefined;
  const chosen = p.productDraft?.choice ?? '';
  const option = (value: string, text: string) =>
    html`<option value="${value}" ${value === chosen ? trusted(' selected') : ''}>${text}</option>`;
  return html`<section class="card product-choice" id="producto" aria-labelledby="product-h">
    <h2 id="product-h">${s.productTitle}</h2>
    <p>${s.productIntro}</p>
    <form method="post" action="${p.base}/producto">
      <input type="hidden" name="_csrf" value="${p.csrf}" />
      ${err ? html`<p class="error" role="alert" id="product-err">${err}</p>` : ''}
      <label for="producto-modulo">${s.productField}</label>
      <select
        id="producto-modulo"
        name="producto"
        required
        aria-describedby="producto-hint${err ? ' product-err' : ''}"
        ${err ? trusted(' aria-invalid="true"') : ''}
      >
        <option value="">${s.productPick}</option>
        ${p.choices.map(
          (pr) =>
            html`<optgroup label="${pr.name}">
              ${option(pr.name, s.productAnyModule(pr.name))}
              ${pr.modules.map((m) => option(`${pr.name}${MODULE_SEPARATOR}${m.name}`, `${pr.name} · ${m.name}`))}
            </optgroup>`,
        )}
      </select>
      <p class="hint" id="producto-hint">${s.productHint}</p>
      <label for="version">${s.versionField}</label>
      <input
        id="version"
        name="version"
        type="text"
        inputmode="decimal"
        autocomplete="off"
        maxlength="20"
        value="${p.productDraft?.version ?? ''}"
        aria-describedby="version-hint"
      />
      <p class="hint" id="version-hint">${s.versionHint}</p>
      <button type="submit">${s.productSave}</button>
    </form>
  </section>`;
}
