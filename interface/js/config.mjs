// Configuration pages: symbol weights (/symbols, /savesymbols), action
// thresholds (/actions, /saveactions), maps (/maps, /getmap, /savemap)
// and the controller's recent errors (/errors).

import { getJSON, postJSON, request } from './api.mjs';
import { h, clear, fmtTime, toast, scrollTable } from './util.mjs';

function page(title, buildFn, loadFn) {
	let built = false;
	return {
		show(sec) {
			if (!built) {
				buildFn(sec, title);
				built = true;
			}
			loadFn();
		},
	};
}

/* ---- symbols ---- */

const sym = {};

function buildSymbols(sec, title) {
	sym.filter = h('input', { id: 'sym-filter', type: 'search', placeholder: 'filter symbols', oninput: filterSymbols });
	sym.body = h('tbody', {});
	sym.msg = h('p', { class: 'muted', id: 'sym-msg' });
	sec.append(
		h('div', { class: 'toolbar' }, h('h2', {}, title),
			h('button', { id: 'sym-save', class: 'priv primary', onclick: saveSymbols }, 'Save changes')),
		h('div', { class: 'filters' }, sym.filter),
		sym.msg,
		scrollTable(h('table', { class: 'grid', id: 'symbols-table' },
			h('thead', {}, h('tr', {}, ['Group', 'Symbol', 'Weight', 'Description', 'Frequency']
				.map((t) => h('th', {}, t)))),
			sym.body)));
}

async function loadSymbols() {
	clear(sym.body);
	try {
		const groups = await getJSON('/symbols');
		for (const g of groups || []) {
			for (const r of g.rules || []) {
				const input = h('input', { type: 'number', step: '0.01', class: 'weight',
					'data-symbol': r.symbol, 'data-orig': String(r.weight ?? 0), value: String(r.weight ?? 0),
					oninput: (e) => e.target.classList.toggle('changed', e.target.value !== e.target.dataset.orig) });
				sym.body.appendChild(h('tr', { 'data-symbol': r.symbol },
					h('td', { class: 'muted' }, g.group || ''),
					h('td', { class: 'sym' }, r.symbol),
					h('td', {}, input),
					h('td', {}, r.description || ''),
					h('td', { class: 'num' }, r.frequency !== undefined ? Number(r.frequency).toFixed(3) : '')));
			}
		}
		sym.msg.textContent = '';
		filterSymbols();
	} catch (e) {
		sym.msg.textContent = 'Symbols unavailable: ' + e.message;
	}
}

function filterSymbols() {
	const f = sym.filter.value.trim().toLowerCase();
	for (const tr of sym.body.rows)
		tr.hidden = f !== '' && !tr.textContent.toLowerCase().includes(f);
}

async function saveSymbols() {
	const changed = [...sym.body.querySelectorAll('input.weight.changed')]
		.filter((i) => i.value.trim() !== '' && !Number.isNaN(Number(i.value)))
		.map((i) => ({ name: i.dataset.symbol, value: Number(i.value) }));
	if (changed.length === 0) {
		toast('No changes to save', 'error');
		return;
	}
	try {
		await postJSON('/savesymbols', changed);
		toast(`Saved ${changed.length} symbol weight${changed.length > 1 ? 's' : ''}`);
		loadSymbols();
	} catch (e) {
		toast('Save failed: ' + e.message, 'error');
	}
}

export const symbols = page('Symbols', buildSymbols, loadSymbols);

/* ---- actions ---- */

// /saveactions takes exactly these four, in this order.
const EDITABLE = ['reject', 'rewrite subject', 'add header', 'greylist'];
const act = {};

function buildActions(sec, title) {
	act.form = h('form', { id: 'actions-form', class: 'card form-grid', onsubmit: saveActions });
	act.msg = h('p', { class: 'muted', id: 'actions-msg' });
	sec.append(h('div', { class: 'toolbar' }, h('h2', {}, title)),
		h('p', { class: 'muted' }, 'Score thresholds; leave a field empty to disable that action.'),
		act.msg, act.form);
}

async function loadActions() {
	clear(act.form);
	try {
		const list = await getJSON('/actions');
		const byName = Object.fromEntries((list || []).map((a) => [a.action, a.value]));
		for (const name of EDITABLE) {
			const id = 'action-' + name.replace(/\s+/g, '-');
			act.form.append(h('label', { for: id }, name),
				h('input', { id, type: 'number', step: '0.01', 'data-action': name,
					value: byName[name] === null || byName[name] === undefined ? '' : String(byName[name]) }));
		}
		act.form.append(h('span', {}), h('button', { type: 'submit', id: 'actions-save', class: 'priv primary' }, 'Save'));
		act.msg.textContent = '';
	} catch (e) {
		act.msg.textContent = 'Actions unavailable: ' + e.message;
	}
}

async function saveActions(ev) {
	ev.preventDefault();
	const values = EDITABLE.map((name) => {
		const v = act.form.querySelector(`input[data-action="${name}"]`).value.trim();
		return v === '' ? null : Number(v);
	});
	if (values.some((v) => v !== null && Number.isNaN(v))) {
		toast('Thresholds must be numbers', 'error');
		return;
	}
	try {
		await postJSON('/saveactions', values);
		toast('Actions saved');
		loadActions();
	} catch (e) {
		toast('Save failed: ' + e.message, 'error');
	}
}

export const actions = page('Actions', buildActions, loadActions);

/* ---- maps ---- */

const mp = {};

function buildMaps(sec, title) {
	mp.list = h('tbody', {});
	mp.msg = h('p', { class: 'muted', id: 'maps-msg' });
	mp.editor = h('div', { id: 'map-editor', class: 'card', hidden: true });
	sec.append(h('div', { class: 'toolbar' }, h('h2', {}, title)), mp.msg,
		scrollTable(h('table', { class: 'grid', id: 'maps-table' },
			h('thead', {}, h('tr', {}, ['Map', 'Description', 'Source', ''].map((t) => h('th', {}, t)))),
			mp.list)),
		mp.editor);
}

async function loadMaps() {
	clear(mp.list);
	mp.editor.hidden = true;
	try {
		const maps = await getJSON('/maps');
		for (const m of maps || []) {
			mp.list.appendChild(h('tr', { 'data-map': String(m.map) },
				h('td', { class: 'num' }, String(m.map)),
				h('td', {}, m.description || ''),
				h('td', { class: 'opts' }, m.uri || ''),
				h('td', {}, h('button', { class: 'map-open', onclick: () => openMap(m) },
					m.editable ? 'Edit' : 'View'))));
		}
		mp.msg.textContent = (maps || []).length ? '' : 'No maps configured.';
	} catch (e) {
		mp.msg.textContent = 'Maps unavailable: ' + e.message;
	}
}

async function openMap(m) {
	try {
		const r = await request('/getmap', { headers: { Map: String(m.map) } });
		const text = h('textarea', { id: 'map-text', rows: 14, spellcheck: 'false', readonly: !m.editable });
		text.value = r.text;
		clear(mp.editor).append(
			h('h3', {}, m.description || m.uri || ('map ' + m.map)),
			h('p', { class: 'muted opts' }, m.uri || ''),
			text,
			h('div', { class: 'toolbar' },
				m.editable ? h('button', { id: 'map-save', class: 'priv primary', onclick: () => saveMap(m, text.value) }, 'Save map') : null,
				h('button', { class: 'link', onclick: () => { mp.editor.hidden = true; } }, 'Close')));
		mp.editor.hidden = false;
		mp.editor.scrollIntoView({ block: 'nearest' });
	} catch (e) {
		toast('Cannot read the map: ' + e.message, 'error');
	}
}

async function saveMap(m, content) {
	try {
		await request('/savemap', { method: 'POST', body: content, headers: { Map: String(m.map) } });
		toast('Map saved');
	} catch (e) {
		toast('Save failed: ' + e.message, 'error');
	}
}

export const maps = page('Maps', buildMaps, loadMaps);

/* ---- errors ---- */

const er = {};

function buildErrors(sec, title) {
	er.body = h('tbody', {});
	er.msg = h('p', { class: 'muted', id: 'errors-msg' });
	sec.append(h('div', { class: 'toolbar' }, h('h2', {}, title),
		h('button', { onclick: loadErrors }, 'Refresh')), er.msg,
	scrollTable(h('table', { class: 'grid', id: 'errors-table' },
		h('thead', {}, h('tr', {}, ['Time', 'Type', 'Module', 'Message'].map((t) => h('th', {}, t)))),
		er.body)));
}

async function loadErrors() {
	clear(er.body);
	try {
		const list = await getJSON('/errors');
		for (const e of (list || []).slice().reverse()) {
			er.body.appendChild(h('tr', {}, h('td', {}, fmtTime(e.ts)), h('td', {}, e.type || ''),
				h('td', {}, e.module || ''), h('td', {}, e.message || '')));
		}
		er.msg.textContent = (list || []).length ? '' : 'No recent errors.';
	} catch (e) {
		er.msg.textContent = 'Errors unavailable: ' + e.message;
	}
}

export const errors = page('Recent errors', buildErrors, loadErrors);
