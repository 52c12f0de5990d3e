// Small DOM and formatting helpers shared by the pages. Everything that
// comes from the server goes into the page as text nodes, never as HTML.

export const ACTIONS = ['reject', 'soft reject', 'rewrite subject', 'add header', 'greylist', 'no action'];

export const ACTION_COLORS = {
	'reject': '#d43f3a',
	'soft reject': '#b07a3c',
	'rewrite subject': '#e6a100',
	'add header': '#e0c200',
	'greylist': '#5b7fd6',
	'no action': '#3c9a3c',
};

// h('div', {class: 'x', onclick: fn, 'data-k': 'v'}, 'text', child, [more])
export function h(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			e.addEventListener(k.slice(2), v);
		else if (k === 'class')
			e.className = v;
		else if (k === 'value')
			e.value = v;
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
	appendAll(e, children);
	return e;
}

function appendAll(e, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			appendAll(e, c);
		else if (c instanceof Node)
			e.appendChild(c);
		else
			e.appendChild(document.createTextNode(String(c)));
	}
}

export function clear(e) {
	while (e.firstChild)
		e.removeChild(e.firstChild);
	return e;
}

export function fmtTime(unix) {
	if (!unix)
		return '';
	const d = new Date(unix * 1000);
	const p = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtUptime(sec) {
	sec = Math.floor(sec || 0);
	const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600);
	const m = Math.floor(sec % 3600 / 60), s = sec % 60;
	if (d > 0)
		return `${d}d ${hh}h ${m}m`;
	if (hh > 0)
		return `${hh}h ${m}m ${s}s`;
	return `${m}m ${s}s`;
}

export function fmtScore(x) {
	if (x === null || x === undefined || Number.isNaN(Number(x)))
		return '';
	return Number(x).toFixed(2);
}

export function fmtSize(n) {
	if (n >= 1048576)
		return (n / 1048576).toFixed(1) + ' MiB';
	if (n >= 1024)
		return (n / 1024).toFixed(1) + ' KiB';
	return String(n) + ' B';
}

export function actionBadge(action) {
	const cls = 'badge act-' + String(action || 'unknown').replace(/\s+/g, '-');
	return h('span', { class: cls }, action || '?');
}

let toastTimer = null;
// A short message at the bottom of the screen; kind 'ok' or 'error'.
export function toast(text, kind = 'ok') {
	const t = document.getElementById('toast');
	t.textContent = text;
	t.className = 'toast show ' + kind;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => { t.className = 'toast'; }, kind === 'error' ? 6000 : 3000);
}

// A table whose rows scroll sideways on a phone instead of squeezing.
export function scrollTable(table) {
	return h('div', { class: 'table-wrap' }, table);
}
