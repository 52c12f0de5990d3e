// History: the controller's ring of recent scans (/history), sortable by
// any column, filtered by action, symbol and sender; a row opens the
// message's symbols in a dialog.

import { getJSON, request } from './api.mjs';
import { h, clear, fmtTime, fmtScore, fmtSize, actionBadge, toast, scrollTable, ACTIONS } from './util.mjs';
import { symbolTable } from './symbols-view.mjs';

let built = false;
let rows = [];
let sortKey = 'unix_time';
let sortDir = -1;
const el = {};

const COLUMNS = [
	{ key: 'unix_time', label: 'Time', get: (r) => r.unix_time || 0, show: (r) => fmtTime(r.unix_time) },
	{ key: 'action', label: 'Action', get: (r) => r.action || '', show: (r) => actionBadge(r.action) },
	{ key: 'score', label: 'Score', get: (r) => Number(r.score) || 0,
		show: (r) => `${fmtScore(r.score)} / ${fmtScore(r.required_score)}` },
	{ key: 'subject', label: 'Subject', get: (r) => r.subject || '', show: (r) => r.subject || '' },
	{ key: 'sender', label: 'Sender', get: sender, show: sender },
	{ key: 'rcpt', label: 'Recipients', get: rcpts, show: rcpts },
	{ key: 'ip', label: 'IP', get: (r) => r.ip || '', show: (r) => r.ip || '' },
	{ key: 'size', label: 'Size', get: (r) => r.size || 0, show: (r) => fmtSize(r.size || 0) },
	{ key: 'nsym', label: 'Symbols', get: (r) => Object.keys(r.symbols || {}).length,
		show: (r) => String(Object.keys(r.symbols || {}).length) },
	{ key: 'time_real', label: 'Scan time', get: (r) => r.time_real || 0,
		show: (r) => r.time_real !== undefined ? (r.time_real * 1000).toFixed(1) + ' ms' : '' },
];

function sender(r) {
	return r.sender_mime || r.sender_smtp || '';
}

function rcpts(r) {
	const list = r.rcpt_mime && r.rcpt_mime.length ? r.rcpt_mime : (r.rcpt_smtp || []);
	return Array.isArray(list) ? list.join(', ') : String(list);
}

function build(sec) {
	el.action = h('select', { id: 'hist-action', 'aria-label': 'Action', onchange: render },
		h('option', { value: '' }, 'all actions'), ACTIONS.map((a) => h('option', { value: a }, a)));
	el.symbol = h('input', { id: 'hist-symbol', type: 'search', placeholder: 'symbol', oninput: render });
	el.sender = h('input', { id: 'hist-sender', type: 'search', placeholder: 'sender', oninput: render });
	el.count = h('span', { class: 'muted', id: 'hist-count' });
	el.head = h('tr', {});
	el.body = h('tbody', {});
	sec.append(
		h('div', { class: 'toolbar' },
			h('h2', {}, 'History'),
			h('button', { id: 'hist-refresh', onclick: load }, 'Refresh'),
			h('button', { id: 'hist-reset', class: 'priv danger', onclick: reset }, 'Reset history')),
		h('div', { class: 'filters' }, el.action, el.symbol, el.sender, el.count),
		scrollTable(h('table', { class: 'grid history', id: 'history-table' },
			h('thead', {}, el.head), el.body)));
	built = true;
}

function matches(r) {
	const act = el.action.value;
	const sym = el.symbol.value.trim().toLowerCase();
	const snd = el.sender.value.trim().toLowerCase();
	if (act && r.action !== act)
		return false;
	if (sym && !Object.keys(r.symbols || {}).some((s) => s.toLowerCase().includes(sym)))
		return false;
	if (snd && !(`${r.sender_mime || ''} ${r.sender_smtp || ''}`.toLowerCase().includes(snd)))
		return false;
	return true;
}

function render() {
	clear(el.head);
	for (const c of COLUMNS) {
		const mark = c.key === sortKey ? (sortDir > 0 ? ' ▲' : ' ▼') : '';
		el.head.appendChild(h('th', { class: 'sortable', 'data-key': c.key, onclick: () => sortBy(c.key) },
			c.label + mark));
	}
	const col = COLUMNS.find((c) => c.key === sortKey) || COLUMNS[0];
	const shown = rows.filter(matches).sort((a, b) => {
		const x = col.get(a), y = col.get(b);
		return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
	});
	clear(el.body);
	for (const r of shown) {
		el.body.appendChild(h('tr', { class: 'clickable', 'data-id': r['message-id'] || r.id || '',
			onclick: () => details(r) }, COLUMNS.map((c) => h('td', {}, c.show(r)))));
	}
	el.count.textContent = `${shown.length} of ${rows.length}`;
}

function sortBy(key) {
	if (sortKey === key)
		sortDir = -sortDir;
	else {
		sortKey = key;
		sortDir = key === 'unix_time' || key === 'score' ? -1 : 1;
	}
	render();
}

function details(r) {
	const d = document.getElementById('dialog');
	document.getElementById('dialog-title').textContent = r.subject || '(no subject)';
	const body = clear(document.getElementById('dialog-body'));
	const kv = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
	body.append(
		h('dl', { class: 'kv' },
			kv('Message-ID', r['message-id'] || ''),
			kv('Time', fmtTime(r.unix_time)),
			kv('Action', actionBadge(r.action)),
			kv('Score', `${fmtScore(r.score)} / ${fmtScore(r.required_score)}`),
			kv('Sender', `${r.sender_mime || ''}${r.sender_smtp ? ' (envelope ' + r.sender_smtp + ')' : ''}`),
			kv('Recipients', rcpts(r)),
			kv('IP', r.ip || ''),
			kv('User', r.user || '')),
		symbolTable(r.symbols, 'history-symbols'));
	d.showModal();
}

async function load() {
	try {
		const data = await getJSON('/history');
		rows = Array.isArray(data) ? data : (data && data.rows) || [];
		render();
	} catch (e) {
		rows = [];
		render();
		el.count.textContent = 'History unavailable: ' + e.message;
	}
}

async function reset() {
	if (!confirm('Forget all history rows?'))
		return;
	try {
		await request('/historyreset');
		toast('History reset');
		load();
	} catch (e) {
		toast('Reset failed: ' + e.message, 'error');
	}
}

export function show(sec) {
	if (!built)
		build(sec);
	load();
}
