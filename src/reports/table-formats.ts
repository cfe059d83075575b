// One table, four spellings: CSV (RFC 4180 quoting) and JSON at full precision; Markdown and HTML rounded.
import type { Cell, Column, Table } from './leaderboards.js';

function shown(value: Cell, column: Column): string {
  if (value === null || value === undefined) return 'n/a';
  if (typeof value === 'number' && column.digits !== undefined) return value.toFixed(column.digits);
  return String(value);
}

function csvField(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function tableCsv(table: Table): string {
  const lines = [table.columns.map((c) => csvField(c.key)).join(',')];
  for (const row of table.rows) lines.push(table.columns.map((c) => csvField(row[c.key] ?? null)).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function tableJson(table: Table): string {
  return `${JSON.stringify({ id: table.id, title: table.title, note: table.note, columns: table.columns, rows: table.rows }, null, 2)}\n`;
}

// A cell must stay one table cell of plain text: any line break (CR too) would end the row, a pipe would split it,
// and a model name like <script> or *x* would otherwise be read as HTML or emphasis by a Markdown renderer.
// Underscores stay: intraword ones (niah_single_1) never emphasise, and escaping them would clutter the raw file.
export const mdEscape = (text: string) => text.replace(/\r\n|[\r\n\u2028\u2029]/g, ' ').replace(/[\\|<>`*[\]]/g, '\\$&');

export function tableMarkdown(table: Table): string {
  const header = `| ${table.columns.map((c) => mdEscape(c.label)).join(' | ')} |`;
  const rule = `|${table.columns.map((c) => (c.digits !== undefined ? '---:' : '---')).join('|')}|`;
  const body = table.rows.map((row) => `| ${table.columns.map((c) => mdEscape(shown(row[c.key] ?? null, c))).join(' | ')} |`);
  return [`### ${table.title}`, '', table.note, '', header, rule, ...body, ''].join('\n');
}

export function htmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function tableHtml(table: Table): string {
  const head = table.columns.map((c) => `<th>${htmlEscape(c.label)}</th>`).join('');
  const body = table.rows.map((row) => `<tr>${table.columns.map((c) => {
    const v = row[c.key] ?? null;
    return `<td class="${c.digits !== undefined ? 'num' : ''}${v === null ? ' na' : ''}">${htmlEscape(shown(v, c))}</td>`;
  }).join('')}</tr>`).join('\n');
  return `<section class="table" id="${htmlEscape(table.id)}"><h3>${htmlEscape(table.title)}</h3><p class="note">${htmlEscape(table.note)}</p>`
    + `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div></section>`;
}
