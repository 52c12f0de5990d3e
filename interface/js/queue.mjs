// Mail queue (only when the mail core runs): list from /queue, flush the
// deferred queue, and delete, hold or release single messages.

import { getJSON, request } from './api.mjs';
import { h, clear, fmtTime, fmtSize, toast, scrollTable } from './util.mjs';

let built = false;
const el = {};

function build(sec) {
	el.body = h('tbody', {});
	el.msg = h('p', { class: 'muted', id: 'queue-msg' });
	sec.append(
		h('div', { class: 'toolbar' }, h('h2', {}, 'Mail queue'),
			h('button', { id: 'queue-refresh', onclick: load }, 'Refresh'),
			h('button', { id: 'queue-flush', class: 'priv', onclick: flush }, 'Flush deferred')),
		el.msg,
		scrollTable(h('table', { class: 'grid', id: 'queue-table' },
			h('thead', {}, h('tr', {}, ['Queue ID', 'Queue', 'Arrived', 'Size', 'Sender', 'Recipients', 'Attempts', '']
				.map((t) => h('th', {}, t)))),
			el.body)));
	built = true;
}

function rcptText(m) {
	return (m.recipients || []).map((r) => r.address +
		(r.status && r.status !== 'pending' ? ` (${r.status}${r.delay_reason ? ': ' + r.delay_reason : ''})` : ''))
		.join(', ');
}

function row(m) {
	const op = (what) => h('button', { class: 'priv small', 'data-op': what, onclick: () => act(m.queue_id, what) }, what);
	return h('tr', { 'data-id': m.queue_id },
		h('td', { class: 'sym' }, m.queue_id),
		h('td', {}, m.queue_name),
		h('td', {}, fmtTime(m.arrival_time)),
		h('td', { class: 'num' }, fmtSize(m.message_size || 0)),
		h('td', {}, m.sender || '<>'),
		h('td', { class: 'opts' }, rcptText(m)),
		h('td', { class: 'num' }, String(m.attempts ?? 0)),
		h('td', { class: 'ops' }, m.queue_name === 'hold' ? op('release') : op('hold'), op('delete')));
}

async function load() {
	clear(el.body);
	try {
		const list = await getJSON('/queue');
		for (const m of list || [])
			el.body.appendChild(row(m));
		el.msg.textContent = (list || []).length ? `${list.length} message(s)` : 'The queue is empty.';
	} catch (e) {
		el.msg.textContent = 'Mail queue unavailable (is the mail core running?): ' + e.message;
	}
}

async function act(id, what) {
	if (what === 'delete' && !confirm(`Delete ${id} from the queue?`))
		return;
	try {
		await request(`/queue/${encodeURIComponent(id)}/${what}`, { method: 'POST' });
		toast(`${id}: ${what} done`);
	} catch (e) {
		toast(`${id}: ${what} failed: ${e.message}`, 'error');
	}
	load();
}

async function flush() {
	try {
		const r = (await request('/queue/flush', { method: 'POST' })).data || {};
		toast(`Flushed: ${r.moved ?? 0} message(s) requeued`);
	} catch (e) {
		toast('Flush failed: ' + e.message, 'error');
	}
	load();
}

export function show(sec) {
	if (!built)
		build(sec);
	load();
}
