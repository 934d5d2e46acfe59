/**
 * Creates an element whose text is set with textContent: report data (run and soup names are
 * folder names) is never parsed as HTML.
 */
export function el(tag: string, text = '', className = ''): HTMLElement {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}
