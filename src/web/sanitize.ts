import sanitizeHtml from 'sanitize-html';

/**
 * Mail HTML made safe to show inside the status page, with sanitize-html (an allow-list parser, not a hand-made
 * filter). What a hostile or merely commercial mail could do is taken away:
 * - scripts, event handlers, `javascript:`/`vbscript:`/`data:` links: only the listed tags and attributes survive,
 *   and links keep only http, https and mailto;
 * - style injection and CSS expressions (old IE `expression()`, `behavior:`, `-moz-binding`): no `style`
 *   attribute, no `<style>`/`<link>` element, no `class`/`id` (which could also borrow the page's own look or
 *   clobber DOM names);
 * - remote images, the usual tracking pixel: `<img>` keeps a source only when it is an attachment of the same
 *   message (`cid:`, RFC 2392), served by us, or an inline `data:image/…`; `background=` and `srcset` are dropped;
 * - forms, iframes, objects, SVG and MathML: not allowed at all.
 * The page's Content-Security-Policy (no script at all, images only from us) backs this up should anything pass.
 */

const ALLOWED_TAGS = [
  ...sanitizeHtml.defaults.allowedTags.filter((t) => !['main', 'nav'].includes(t)),
  'img',
  'center',
  'font',
];

const INLINE_IMAGE = /^data:image\/(png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$/i;

export interface SanitizeOptions {
  /** Maps a `cid:` reference to the URL of that attachment on this page, when the message has it. */
  inlineImage?: (contentId: string) => string | undefined;
}

export function sanitizeMailHtml(dirty: string, opts: SanitizeOptions = {}): string {
  return sanitizeHtml(dirty, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      a: ['href', 'title', 'rel', 'target'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      td: ['colspan', 'rowspan', 'align', 'valign'],
      th: ['colspan', 'rowspan', 'align', 'valign', 'scope'],
      table: ['summary'],
      ol: ['start', 'type'],
      '*': ['dir', 'lang', 'title'],
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    parseStyleAttributes: false,
    transformTags: {
      // Links open elsewhere and tell the target nothing about this (token-bearing) page.
      a: (tagName, attribs) => ({
        tagName,
        attribs: {
          ...(attribs.href ? { href: attribs.href } : {}),
          ...(attribs.title ? { title: attribs.title } : {}),
          rel: 'noopener noreferrer nofollow',
          target: '_blank',
        },
      }),
      img: (tagName, attribs) => {
        const src = (attribs.src ?? '').trim();
        let safe: string | undefined;
        if (/^cid:/i.test(src)) safe = opts.inlineImage?.(decodeURIComponent(src.slice(4)).replace(/^<|>$/g, ''));
        else if (INLINE_IMAGE.test(src)) safe = src;
        const kept: Record<string, string> = {};
        for (const k of ['alt', 'title', 'width', 'height'])
          if (attribs[k] && (k === 'alt' || k === 'title' || /^\d{1,4}$/.test(attribs[k]))) kept[k] = attribs[k];
        return { tagName, attribs: safe ? { ...kept, src: safe } : kept };
      },
      font: 'span',
      center: 'div',
    },
    // An image whose source was removed is dropped whole (its alt text stays readable only when it had a source).
    exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
  });
}
