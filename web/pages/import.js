// Import: a CRM's CSV export uploaded (file input or drag and drop). Before anything is
// sent, the header row is read in the browser and each column shown with the field it goes
// to, by the server's own column names (GET /api/leads/import/columns) and its rule for
// comparing them; then POST /api/leads/import, whose report (created, updated, skipped,
// errors by row, and the columns as the server mapped them) is shown. A file over the
// server's body limit becomes a background job, followed on /api/imports/{id}/stream.
import { put, fill } from '../lib.js';

// The first line of text with two cells or more, split by the delimiter the server would
// sniff (, ; or tab), quotes honoured. Returns {cells, delimiter} or null.
export function headerOf(text) {
  const t = text.replace(/^\uFEFF/, '');
  for (const raw of t.split(/\r\n|\n|\r/).slice(0, 20)) {
    if (!raw.trim()) continue;
    const counts = [',', ';', '\t'].map(d => [d, raw.split(d).length - 1]).sort((a, b) => b[1] - a[1]);
    const delimiter = counts[0][0];
    if (counts[0][1] === 0) continue; // a report's title line
    const cells = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i];
      if (quoted) {
        if (ch === '"' && raw[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === delimiter) {
        cells.push(cell.trim());
        cell = '';
      } else cell += ch;
    }
    cells.push(cell.trim());
    return { cells, delimiter };
  }
  return null;
}

const norm = s => s.toLowerCase().replace(/[^a-z0-9]/g, '');
const extraName = s => s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');

// Each header cell with where it goes: {column, mapped_to} | {column, kept_as} | {column, ignored}.
export function mapHeader(cells, known) {
  const byName = new Map(known.map(c => [c.header, c]));
  const taken = new Set();
  return cells.map(column => {
    const k = byName.get(norm(column));
    if (k && k.ignored) return { column, ignored: k.ignored };
    if (k && k.mapped_to && !taken.has(k.mapped_to)) {
      taken.add(k.mapped_to);
      return { column, mapped_to: k.mapped_to };
    }
    return { column, kept_as: extraName(column) || 'column' };
  });
}

// A report's error: loc is ["rows", 2, "contact_info", "email"] (["body", "rows", ...] in a 422).
const rowsAt = e => (Array.isArray(e.loc) ? e.loc.indexOf('rows') : -1);
const rowOf = e => e.row ?? (rowsAt(e) >= 0 ? e.loc[rowsAt(e) + 1] : '');
const fieldOf = e => (rowsAt(e) >= 0 ? e.loc.slice(rowsAt(e) + 2).join('.') : Array.isArray(e.loc) ? e.loc.join('.') : '');

const LARGE = 1024 * 1024; // the server's MAX_BODY_BYTES default: above it, a background job

// Whether bytes are valid UTF-8 (a sequence cut at the end of a slice is not an error).
export function isUtf8(bytes) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

const SNIFF = 8 * 1024 * 1024; // how much of a file is checked for UTF-8

export async function render(root, ctx) {
  const { api, stream, h, fmt, announce } = ctx;
  const canWrite = (ctx.principal?.scopes || []).some(x => x === 'write' || x === 'admin');
  if (!canWrite) {
    put(root, h('h1', {}, 'Import leads'),
      h('p', { class: 'note', id: 'cannot-import' }, 'Your key can read the leads but not add them: importing needs the write scope. Ask your admin for a key that has it.'),
      h('p', {}, h('a', { href: '#/leads' }, 'See the leads')));
    return undefined;
  }
  let known = [];
  let file = null; // the file chosen last
  let abort = null;

  const input = h('input', { type: 'file', id: 'csv-file', accept: '.csv,.txt,text/csv', 'aria-describedby': 'csv-help' });
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop a CSV file here, or choose one:'),
    h('label', { for: 'csv-file' }, 'CSV file'), input,
    h('p', { id: 'csv-help', class: 'help' },
      'HubSpot, Salesforce, Pipedrive and Apollo exports are read as they are. The same e-mail updates the same lead.'));
  const charsetNote = h('p', { class: 'note', id: 'charset-note' });
  const partial = h('input', { type: 'checkbox', id: 'partial', checked: true });
  const charset = h('select', { id: 'charset' },
    [['', 'UTF-8 (default)'], ['windows-1252', 'Windows-1252 (Excel on Windows)'], ['iso-8859-1', 'Latin-1'], ['iso-8859-15', 'Latin-9']]
      .map(([v, t]) => h('option', { value: v }, t)));
  const options = h('div', { class: 'row' },
    h('div', {}, h('label', { for: 'charset' }, 'Encoding'), charset, charsetNote),
    h('div', {}, h('label', { for: 'partial', class: 'inline' }, partial, ' Import the valid rows and report the bad ones')));
  const preview = h('section', { id: 'preview' }); // announce() says what it found, once
  const go = h('button', { type: 'button', class: 'primary', id: 'do-import', disabled: true }, 'Import');
  const progress = h('div', { id: 'progress' });
  const report = h('section', { id: 'report' });
  const error = h('p', { class: 'error', role: 'alert', id: 'import-error' });
  put(root, h('h1', {}, 'Import leads'), h('div', { class: 'card' }, drop, options, h('div', { class: 'actions' }, go)),
    error, preview, progress, report);

  // the column names, asked at once; a file chosen before they arrive waits for them
  const knownReady = api('/api/leads/import/columns').then(r => {
    known = r.columns;
  }, () => {
    known = [];
  });

  async function choose(f) {
    file = f;
    error.textContent = '';
    fill(report);
    fill(progress);
    fill(preview);
    go.disabled = true;
    charsetNote.textContent = '';
    if (!f) return;
    await knownReady;
    // each file its own encoding: UTF-8 unless its bytes are not, then Excel's Windows-1252
    const bytes = new Uint8Array(await f.slice(0, SNIFF).arrayBuffer());
    if (file !== f) return; // another file was chosen meanwhile
    if (isUtf8(bytes)) charset.value = '';
    else {
      charset.value = 'windows-1252';
      charsetNote.textContent = 'This file is not UTF-8: it will be read as Windows-1252 (Excel on Windows). Pick another encoding if its accents look wrong.';
    }
    const head = new TextDecoder(charset.value || 'utf-8').decode(bytes.subarray(0, 65536));
    const hdr = headerOf(head);
    if (!hdr) {
      error.textContent = 'No header row found: is this a CSV file?';
      return;
    }
    const mapped = mapHeader(hdr.cells, known);
    const hasCompany = mapped.some(m => m.mapped_to === 'company_name');
    put(preview, h('h2', {}, `Columns of ${f.name}`),
      h('p', { class: 'muted' }, `${fmt.number(f.size)} bytes; delimiter ${hdr.delimiter === '\t' ? 'tab' : `"${hdr.delimiter}"`}.`,
        f.size > LARGE ? ' A large file: it is imported in the background and its progress shown.' : ''),
      h('div', { class: 'table-wrap' }, h('table', { id: 'mapping' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Column'), h('th', { scope: 'col' }, 'Goes to'))),
        h('tbody', {}, mapped.map(m => h('tr', {}, h('td', {}, m.column),
          h('td', {}, m.mapped_to ? h('strong', {}, m.mapped_to) : m.ignored ? `ignored (${m.ignored})` : `kept on the lead as ${m.kept_as}`)))))),
      hasCompany ? null : h('p', { class: 'error' }, 'No column names the company: the server will refuse this file.'));
    go.disabled = false;
    go.textContent = `Import ${f.name}`;
    announce(`${mapped.length} columns read from ${f.name}; ${mapped.filter(m => m.mapped_to).length} map to lead fields.`);
  }

  // refused: a 422 (nothing written): only the rows in error are counted
  function showReport(r, title = 'Import report', refused = false) {
    const n = k => fmt.number(r[k] ?? 0);
    const errs = r.errors || [];
    const some = k => (r[k] ? [h('dt', {}, { merged_in_file: 'Merged in the file', skipped: 'Skipped' }[k]), h('dd', {}, n(k))] : null);
    const badRows = new Set(errs.map(e => rowOf(e)).filter(x => x !== '' && x !== undefined)).size;
    fill(report, h('h2', {}, title),
      refused ? h('dl', { class: 'facts', id: 'report-counts' },
        h('dt', {}, 'Rows with errors'), h('dd', { id: 'count-failed' }, fmt.number(badRows || errs.length)),
        h('dt', {}, 'Written'), h('dd', {}, 'none')) : h('dl', { class: 'facts', id: 'report-counts' },
        h('dt', {}, 'Rows'), h('dd', {}, n('rows')),
        h('dt', {}, 'Created'), h('dd', { id: 'count-created' }, n('created')),
        h('dt', {}, 'Updated'), h('dd', { id: 'count-updated' }, n('updated')),
        some('merged_in_file'), some('skipped'),
        h('dt', {}, 'Failed'), h('dd', { id: 'count-failed' }, n('failed')),
        r.not_imported !== undefined ? [h('dt', {}, 'Valid but not written'), h('dd', {}, n('not_imported'))] : null,
        r.do_not_contact ? [h('dt', {}, 'Marked do-not-contact'), h('dd', {}, n('do_not_contact'))] : null),
      errs.length ? h('h3', {}, 'Errors by row') : null,
      errs.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'report-errors' },
        h('thead', {}, h('tr', {}, ...['Row', 'Line', 'Field', 'Problem'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, errs.map(e => h('tr', {}, h('td', {}, rowOf(e)), h('td', {}, e.line ?? ''),
          h('td', {}, fieldOf(e)), h('td', {}, e.msg)))))) : null,
      Array.isArray(r.columns) ? h('details', { class: 'more' }, h('summary', {}, 'Columns as the server mapped them'),
        h('ul', {}, r.columns.map(c => h('li', {}, `${c.column} → ${c.mapped_to || (c.kept_as ? `kept as ${c.kept_as}` : c.ignored || '')}`)))) : null,
      Array.isArray(r.skipped_lines) && r.skipped_lines.length ? h('p', { class: 'muted' },
        `Skipped lines (not rows): ${r.skipped_lines.map(s => `${s.line} (${s.reason})`).join('; ')}`) : null,
      h('p', {}, h('a', { href: '#/leads' }, 'See the leads')));
    announce(refused ? `Nothing imported: ${fmt.number(badRows || errs.length)} rows have errors.`
      : `Import done: ${n('created')} created, ${n('updated')} updated, ${n('failed')} failed.`);
  }

  async function follow(job) {
    const bar = h('progress', { max: String(job.rows_total || 1), value: String(job.rows_done || 0), 'aria-label': 'Rows imported' });
    const words = h('span', {}, 'Importing in the background…');
    fill(progress, h('p', {}, words), bar);
    abort = new AbortController();
    let final = null;
    await stream(`/api/imports/${encodeURIComponent(job.import_id)}/stream`, (name, data) => {
      const j = data && typeof data === 'object' ? data : {};
      if (name === 'progress') {
        bar.max = j.rows_total || bar.max;
        bar.value = j.rows_done || 0;
        words.textContent = `${fmt.number(j.rows_done)} of ${fmt.number(j.rows_total)} rows`;
      } else if (name === 'done' || name === 'failed') final = { name, j };
    }, { signal: abort.signal });
    abort = null;
    fill(progress);
    if (!final) {
      error.textContent = 'The import stream ended without a result; see GET /api/imports/' + job.import_id;
      return;
    }
    if (final.name === 'done') showReport(final.j.report || final.j);
    else {
      error.textContent = `The import failed: ${final.j.error || 'see the report'}`;
      if (final.j.report) showReport(final.j.report, 'What the import found');
    }
  }

  go.addEventListener('click', async () => {
    if (!file) return;
    go.disabled = true;
    error.textContent = '';
    fill(report);
    const p = new URLSearchParams();
    if (partial.checked) p.set('partial', 'true');
    if (charset.value) p.set('charset', charset.value);
    announce(`Importing ${file.name}…`);
    try {
      const res = await api(`/api/leads/import?${p}`, { method: 'POST', body: file, headers: { 'Content-Type': 'text/csv' }, raw: true });
      const body = await res.json();
      if (res.status === 202) await follow(body);
      else showReport(body);
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 422 && e.problem && Array.isArray(e.problem.detail)) {
        const enc = e.problem.detail.some(d => /not valid UTF-8|charset/.test(d.msg || ''));
        error.textContent = enc
          ? 'The file is not in the chosen encoding: pick Windows-1252 (Excel on Windows) or Latin-1 under Encoding and import it again.'
          : 'Nothing was imported: the file has errors (tick "Import the valid rows" to keep the others).';
        if (!enc) showReport({ errors: e.problem.detail }, 'Errors (nothing imported)', true);
      } else {
        error.textContent = `The import failed: ${e.message}`;
      }
    } finally {
      go.disabled = false;
    }
  });

  input.addEventListener('change', () => choose(input.files[0] || null));
  drop.addEventListener('dragover', ev => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', ev => {
    ev.preventDefault();
    drop.classList.remove('over');
    const f = ev.dataTransfer?.files?.[0];
    if (f) choose(f);
  });
  return () => abort?.abort();
}
