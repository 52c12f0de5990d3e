// The table of symbols of one scan result, shared by the history details
// and the scan page: highest score first, with description and options.

import { h, fmtScore, scrollTable } from './util.mjs';

export function symbolTable(symbols, id) {
	const list = Object.entries(symbols || {}).map(([name, s]) => ({ name, ...(s || {}) }));
	list.sort((a, b) => (Number(b.score) || 0) - (Number(a.score) || 0) || a.name.localeCompare(b.name));
	const rows = list.map((s) => h('tr', {
		class: Number(s.score) > 0 ? 'pos' : (Number(s.score) < 0 ? 'neg' : ''),
		'data-symbol': s.name,
	},
	h('td', { class: 'sym' }, s.name),
	h('td', { class: 'num' }, fmtScore(s.score)),
	h('td', {}, s.description || ''),
	h('td', { class: 'opts' }, (s.options || []).join(', '))));
	return scrollTable(h('table', { class: 'grid symbols', id },
		h('thead', {}, h('tr', {}, h('th', {}, 'Symbol'), h('th', {}, 'Score'),
			h('th', {}, 'Description'), h('th', {}, 'Options'))),
		h('tbody', {}, rows)));
}
