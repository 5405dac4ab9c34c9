// The fednode status page. Reads the node's JSON endpoints (same origin)
// and renders every text through textContent: dataset titles and audit
// reasons come from imports and peers and are never parsed as HTML.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';

function $(id) { return document.getElementById(id); }

function setText(id, text) { $(id).textContent = text; }

// A new element with text content (never HTML) and optional class.
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}

function daysUntil(rfc3339) {
  if (!rfc3339) return '';
  const ms = Date.parse(rfc3339) - Date.now();
  return Number.isFinite(ms) ? Math.floor(ms / 86400000) : '';
}

function renderStatus(s) {
  const n = s.node;
  setText('node-title', n.member_ags + ' ' + n.member_name);
  setText('node-member', n.member_ags + ' ' + n.member_name);
  setText('node-version', n.version);
  setText('node-datasets', n.datasets);
  setText('node-rows', n.rows);
  const a = s.agreement;
  if (a.installed) {
    setText('agreement-id', a.agreement_id + ' v' + a.version + ' (fingerprint ' + a.fingerprint.slice(0, 16) + '…)');
    setText('agreement-valid', a.valid_from + ' .. ' + a.valid_until + ' (' + daysUntil(a.valid_until) + ' days left)');
    setText('agreement-members', a.members + ' members, ' + a.grants + ' grants');
    setText('agreement-port', a.federation_address || 'closed');
    setText('agreement-cert', a.own_certificate_not_after
      ? a.own_certificate_not_after + ' (' + daysUntil(a.own_certificate_not_after) + ' days left)' : '');
  } else {
    setText('agreement-id', 'no agreement installed');
  }
  const warnings = $('agreement-warnings');
  clear(warnings);
  for (const w of a.warnings || []) warnings.appendChild(el('li', w));
}

function renderPeers(p) {
  const body = $('peers-table').tBodies[0];
  clear(body);
  for (const h of p.peers) {
    const tr = document.createElement('tr');
    tr.dataset.ags = h.ags;
    tr.appendChild(el('td', h.ags));
    tr.appendChild(el('td', h.name));
    tr.appendChild(el('td', h.state, h.state === 'ok' ? 'state-ok' : (h.state === 'unknown' ? '' : 'state-bad')));
    tr.appendChild(el('td', h.last_contact));
    tr.appendChild(el('td', h.last_contact ? Number(h.round_trip_ms).toFixed(1) : '', 'num'));
    tr.appendChild(el('td', h.certificate_not_after));
    tr.appendChild(el('td', daysUntil(h.certificate_not_after), 'num'));
    tr.appendChild(el('td', h.harvest ? h.harvest.state : ''));
    tr.appendChild(el('td', h.detail));
    body.appendChild(tr);
  }
}

function renderCatalog(c) {
  const body = $('catalog-table').tBodies[0];
  clear(body);
  for (const e of c.entries) {
    const tr = document.createElement('tr');
    tr.appendChild(el('td', e.dataset_id));
    tr.appendChild(el('td', e.title));
    tr.appendChild(el('td', e.access_class));
    tr.appendChild(el('td', e.rows, 'num'));
    tr.appendChild(el('td', e.version, 'num'));
    tr.appendChild(el('td', e.modified));
    body.appendChild(tr);
  }
  setText('catalog-count', '(' + c.entries.length + ' datasets)');
}

function renderAudit(a) {
  const body = $('audit-table').tBodies[0];
  clear(body);
  for (const e of a.entries) {
    const tr = document.createElement('tr');
    tr.appendChild(el('td', e.seq, 'num'));
    const t = new Date(Number(e.time_unix_micros) / 1000);
    tr.appendChild(el('td', t.toISOString().replace('T', ' ').slice(0, 19)));
    tr.appendChild(el('td', e.caller));
    tr.appendChild(el('td', e.operation));
    tr.appendChild(el('td', String(e.decision).replace('DECISION_', '').toLowerCase()));
    tr.appendChild(el('td', e.dataset_id));
    tr.appendChild(el('td', e.reason));
    tr.appendChild(el('td', e.rows_returned, 'num'));
    body.appendChild(tr);
  }
}

const MARK = { primary: '(p)', secondary: '(s)' };

let latestStatistic = null;

function renderStatistics(s) {
  latestStatistic = s && s.table ? s : null;
  $('statistics-none').hidden = latestStatistic !== null;
  $('statistics-body').hidden = latestStatistic === null;
  if (!latestStatistic) return;
  setText('statistics-sql', s.sql);
  setText('statistics-meta', 'schema ' + s.conforms_to + ', purpose ' + s.purpose + ', computed ' + s.computed_at);
  setText('statistics-coverage', s.coverage_line);
  setText('statistics-rule', 'disclosure control: ' + s.disclosure_rule);
  const t = s.table;
  const table = $('statistics-table');
  clear(table.tHead);
  clear(table.tBodies[0]);
  const head = document.createElement('tr');
  for (const c of t.columns) head.appendChild(el('th', c));
  table.tHead.appendChild(head);
  for (const r of t.rows) {
    const tr = document.createElement('tr');
    if (r.total) tr.className = 'total';
    if (r.suppressed) tr.dataset.suppressed = r.suppressed;
    r.cells.forEach((cell, i) => {
      if (i < t.key_columns) {
        const td = el('td', cell);
        if (i === 0 && r.member_name) td.title = r.member_name;
        tr.appendChild(td);
      } else if (r.suppressed) {
        tr.appendChild(el('td', MARK[r.suppressed] || '(x)', 'suppressed'));
      } else {
        tr.appendChild(el('td', cell === null ? '' : cell, 'num'));
      }
    });
    table.tBodies[0].appendChild(tr);
  }
  const select = $('chart-column');
  const previous = select.value;
  clear(select);
  t.columns.forEach((c, i) => {
    if (i >= t.key_columns && c !== 'n') select.appendChild(new Option(c, String(i)));
  });
  if (previous && [...select.options].some(o => o.value === previous)) select.value = previous;
  renderChart();
}

// One horizontal bar per group row (totals left out: they would dwarf the
// groups). A suppressed cell is a hatched bar of fixed width labelled
// "suppressed": its length says nothing about the value.
function renderChart() {
  const chart = $('chart');
  clear(chart);
  if (!latestStatistic) return;
  const t = latestStatistic.table;
  const col = Number($('chart-column').value);
  if (!Number.isInteger(col)) return;
  const rows = t.rows.filter(r => !r.total);
  const values = rows.map(r => (r.suppressed ? null : r.numbers[col]));
  const max = Math.max(1, ...values.filter(v => v !== null).map(v => Math.abs(v)));
  const labelWidth = 260, barMax = 460, rowHeight = 22;
  const width = labelWidth + barMax + 120;
  const s = svg('svg', { width, height: rows.length * rowHeight + 30, role: 'img',
    'aria-label': t.columns[col] + ' per ' + t.columns.slice(0, t.key_columns).join(', ') });
  const defs = svg('defs');
  const pattern = svg('pattern', { id: 'hatch', patternUnits: 'userSpaceOnUse', width: 6, height: 6,
    patternTransform: 'rotate(45)' });
  pattern.appendChild(svg('rect', { width: 6, height: 6, fill: '#fff3d6' }));
  pattern.appendChild(svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#8a5a00', 'stroke-width': 2 }));
  defs.appendChild(pattern);
  s.appendChild(defs);
  s.appendChild(svg('text', { x: labelWidth, y: 14 }, t.columns[col]));
  rows.forEach((r, i) => {
    const y = 24 + i * rowHeight;
    const name = r.member_name ? r.label + ' ' + r.member_name : r.label;
    s.appendChild(svg('text', { x: labelWidth - 6, y: y + 14, 'text-anchor': 'end' }, name));
    const g = svg('g', { 'data-label': r.label });
    if (r.suppressed) {
      g.appendChild(svg('rect', { class: 'bar-suppressed', x: labelWidth, y: y + 2, width: 60, height: rowHeight - 6 }));
      g.appendChild(svg('text', { class: 'suppressed-label', x: labelWidth + 66, y: y + 14 },
        'suppressed ' + (MARK[r.suppressed] || '')));
    } else if (values[i] !== null) {
      const w = Math.max(1, Math.round(Math.abs(values[i]) / max * barMax));
      g.appendChild(svg('rect', { class: 'bar', x: labelWidth, y: y + 2, width: w, height: rowHeight - 6 }));
      g.appendChild(svg('text', { x: labelWidth + w + 6, y: y + 14 }, r.cells[col]));
    }
    s.appendChild(g);
  });
  chart.appendChild(s);
}

async function refresh() {
  const parts = [
    ['/api/status', renderStatus],
    ['/api/peers', renderPeers],
    ['/api/catalog', renderCatalog],
    ['/api/audit?limit=20', renderAudit],
    ['/api/statistics', renderStatistics],
  ];
  const errors = [];
  await Promise.all(parts.map(async ([path, render]) => {
    try {
      render(await getJson(path));
    } catch (e) {
      errors.push(e.message);
    }
  }));
  $('error').hidden = errors.length === 0;
  setText('error', errors.join('; '));
  setText('updated', 'last update ' + new Date().toISOString().slice(0, 19).replace('T', ' ') + ' UTC');
  document.body.dataset.loaded = 'true';
}

document.addEventListener('DOMContentLoaded', () => {
  $('chart-column').addEventListener('change', renderChart);
  refresh();
  setInterval(refresh, 10000);
});
