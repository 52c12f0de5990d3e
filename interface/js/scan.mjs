// Scan: paste a message or drop a .eml file, scan it through the
// controller's /checkv2, see its symbols, and learn it as spam or ham.

import { request } from './api.mjs';
import { h, clear, fmtScore, actionBadge, toast } from './util.mjs';
import { symbolTable } from './symbols-view.mjs';

let built = false;
const el = {};

function build(sec) {
	el.text = h('textarea', { id: 'scan-text', rows: 12, spellcheck: 'false',
		placeholder: 'Paste a whole message (headers and body) or drop a .eml file here' });
	el.file = h('input', { id: 'scan-file', type: 'file', accept: '.eml,message/rfc822,text/plain',
		onchange: () => el.file.files[0] && readFile(el.file.files[0]) });
	el.drop = h('div', { id: 'scan-drop', class: 'dropzone' }, el.text);
	el.result = h('div', { id: 'scan-result' });
	el.learnMsg = h('p', { id: 'learn-msg', class: 'muted', role: 'status' });
	for (const ev of ['dragenter', 'dragover'])
		el.drop.addEventListener(ev, (e) => { e.preventDefault(); el.drop.classList.add('over'); });
	el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
	el.drop.addEventListener('drop', (e) => {
		e.preventDefault();
		el.drop.classList.remove('over');
		const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
		if (f)
			readFile(f, true);
	});
	sec.append(
		h('div', { class: 'toolbar' }, h('h2', {}, 'Scan a message'),
			h('label', { class: 'button' }, 'Open .eml…', el.file)),
		el.drop,
		h('div', { class: 'toolbar' },
			h('button', { id: 'scan-go', class: 'primary', onclick: scan }, 'Scan'),
			h('button', { id: 'learn-spam', class: 'priv', onclick: () => learn(true) }, 'Learn as spam'),
			h('button', { id: 'learn-ham', class: 'priv', onclick: () => learn(false) }, 'Learn as ham'),
			h('button', { id: 'scan-clear', class: 'link', onclick: () => { el.text.value = ''; clear(el.result); } }, 'Clear')),
		el.learnMsg,
		el.result);
	built = true;
}

// A dropped file is scanned at once: that is what dropping it means.
// Its bytes are kept and sent as they are (a message in Latin-1 would not
// survive a trip through the text box) until the text is edited.
async function readFile(f, scanNow) {
	const bytes = new Uint8Array(await f.arrayBuffer());
	el.text.value = new TextDecoder('utf-8').decode(bytes);
	el.raw = { bytes, shown: el.text.value };
	if (scanNow)
		scan();
}

function body() {
	if (el.raw && el.raw.shown === el.text.value)
		return el.raw.bytes;
	// Typed or pasted text travels with CRLF line ends, as over SMTP.
	return el.text.value.replace(/\r?\n/g, '\r\n');
}

async function scan() {
	if (el.text.value.trim() === '') {
		toast('Nothing to scan', 'error');
		return;
	}
	clear(el.result);
	el.result.append(h('p', { class: 'muted' }, 'Scanning…'));
	try {
		const r = (await request('/checkv2', { method: 'POST', body: body() })).data || {};
		clear(el.result).append(
			h('div', { class: 'card scan-summary' },
				h('span', { id: 'scan-action' }, actionBadge(r.action)),
				h('span', { id: 'scan-score', class: 'big' }, `${fmtScore(r.score)} / ${fmtScore(r.required_score)}`),
				r['message-id'] ? h('span', { class: 'muted' }, r['message-id']) : null,
				r.time_real !== undefined ? h('span', { class: 'muted' }, (r.time_real * 1000).toFixed(1) + ' ms') : null),
			symbolTable(r.symbols, 'scan-symbols'));
	} catch (e) {
		clear(el.result).append(h('p', { class: 'error' }, 'Scan failed: ' + e.message));
	}
}

async function learn(spam) {
	if (el.text.value.trim() === '') {
		toast('Nothing to learn', 'error');
		return;
	}
	const what = spam ? 'spam' : 'ham';
	try {
		const r = await request(spam ? '/learnspam' : '/learnham', { method: 'POST', body: body() });
		// 208 (already learned) and 204 (too few tokens) are 2xx with a reason
		let msg = `Learned as ${what}`;
		if (r.status === 204)
			msg = 'Not learned: the message has too few tokens';
		else if (r.data && r.data.error)
			msg = r.data.error;
		el.learnMsg.textContent = msg;
		toast(msg, r.status === 200 ? 'ok' : 'error');
	} catch (e) {
		el.learnMsg.textContent = `Learning as ${what} failed: ${e.message}`;
		toast(el.learnMsg.textContent, 'error');
	}
}

export function show(sec) {
	if (!built)
		build(sec);
}
