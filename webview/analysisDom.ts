// DOM pieces of the analyses sections, built with DOM calls and textContent only: ids come from
// run folder names, which may contain markup.

/** Creates an element whose text is set with textContent. */
export function el(tag: string, text = '', className = ''): HTMLElement {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** A header cell's text, with the whole value in its tooltip when the text is a short form. */
export interface HeaderCell {
  text: string;
  title?: string;
}

/**
 * A table with a caption, column headers and a row header per row (the first cell), in a
 * sideways scroller for narrow panels.
 */
export function dataTable(caption: string, header: (string | HeaderCell)[], rows: (string | HeaderCell)[][]): HTMLElement {
  const t = document.createElement('table');
  t.className = 'analysis-table';
  t.appendChild(el('caption', caption));
  const tr = (cells: (string | HeaderCell)[], head: boolean) => {
    const r = document.createElement('tr');
    cells.forEach((cell, i) => {
      const c = document.createElement(head || i === 0 ? 'th' : 'td');
      if (head || i === 0) c.setAttribute('scope', head ? 'col' : 'row');
      const { text, title } = typeof cell === 'string' ? { text: cell, title: undefined } : cell;
      c.textContent = text;
      if (title && title !== text) c.title = title;
      r.appendChild(c);
    });
    return r;
  };
  const thead = document.createElement('thead');
  thead.appendChild(tr(header, true));
  const tbody = document.createElement('tbody');
  for (const r of rows) tbody.appendChild(tr(r, false));
  t.append(thead, tbody);
  const wrap = el('div', '', 'table-scroll');
  wrap.appendChild(t);
  return wrap;
}

/** A section of the analyses, `data-analysis` naming it (the UI drive finds sections by it). */
export function analysisSection(id: string, title: string, note: string): HTMLElement {
  const s = document.createElement('section');
  s.className = 'analysis';
  s.dataset.analysis = id;
  s.appendChild(el('h2', title));
  if (note) s.appendChild(el('p', note, 'muted'));
  return s;
}
