// End-to-end tests of the controller's web UI in headless Chromium, driven
// by playwright-core. Run by test/functional/test_webui.py, which starts a
// daemon and passes, in the environment:
//   WEBUI_URL        the controller, e.g. http://127.0.0.1:11334
//   WEBUI_SCAN_URL   a normal worker (scans that count in /stat)
//   WEBUI_PASSWORD   the controller password (read and write)
//   WEBUI_SPAM       path of a spam message to learn
//   WEBUI_MAP_HINT   part of the uri of an editable file map whose rule
//                    (WEBUI_MAP_SYMBOL) matches the envelope sender domain
//   WEBUI_ARTIFACTS  where screenshots and results.json go
//   WEBUI_ONLY       optional comma-separated test names
// Each test's outcome goes to results.json ({name: {ok, error, ms}}); the
// pytest wrapper reports them one by one. Exit code 0 when all passed.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const URL_ = process.env.WEBUI_URL;
const SCAN_URL = process.env.WEBUI_SCAN_URL || URL_;
const PASSWORD = process.env.WEBUI_PASSWORD;
const ART = process.env.WEBUI_ARTIFACTS || 'artifacts';
const ONLY = (process.env.WEBUI_ONLY || '').split(',').filter(Boolean);
const RUN_ID = Date.now().toString(36);

mkdirSync(ART, { recursive: true });

function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

async function api(path, { method = 'GET', body, headers = {}, base = URL_ } = {}) {
	const r = await fetch(base + path, { method, body, headers: { Password: PASSWORD, ...headers } });
	const text = await r.text();
	let data = null;
	try {
		data = JSON.parse(text);
	} catch {
		data = null;
	}
	return { status: r.status, data, text };
}

function message(subject, { from = 'alice@example.org', body } = {}) {
	const text = body || 'Hello Bob,\n\nthe quarterly report is attached to the shared folder as agreed in\n' +
		'our meeting. Please review the numbers before Friday and send me your comments.\n\nThanks,\nAlice\n';
	return `From: Alice <${from}>\nTo: bob@example.net\nSubject: ${subject}\n` +
		`Message-ID: <${subject.replace(/\W+/g, '.')}@example.org>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n` +
		`MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n${text}`.replace(/\n/g, '\r\n');
}

// Waits that span a configuration reload of every worker.
const RELOAD_MS = 60000;

async function waitFor(fn, what, timeoutMs = 15000, stepMs = 250) {
	const end = Date.now() + timeoutMs;
	let last;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		await new Promise((r) => setTimeout(r, stepMs));
	}
	throw new Error(`timed out waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ''));
}

async function shot(page, name) {
	await page.screenshot({ path: join(ART, name + '.png'), fullPage: true });
}

async function go(page, hash) {
	await page.evaluate((h) => { location.hash = h; }, hash);
	await page.waitForSelector(`#page-${hash}:not([hidden])`);
}

async function text(page, sel) {
	return (await page.textContent(sel)).trim();
}

const tests = [];
// `explicit` tests need a daemon set up for them and run only when
// WEBUI_ONLY names them.
function test(name, fn, explicit = false) {
	tests.push({ name, fn, explicit });
}

test('login_wrong_password', async (page) => {
	await page.goto(URL_ + '/');
	await page.waitForSelector('#login:not([hidden])');
	await shot(page, 'login');
	await page.fill('#login-password', 'not-the-password');
	await page.click('#login-submit');
	await page.waitForFunction(() => document.getElementById('login-error').textContent !== '', null,
		{ timeout: 10000 });
	assert(await text(page, '#login-error') === 'Wrong password', 'error text: ' + await text(page, '#login-error'));
	assert(await page.isHidden('#app'), 'app visible after a wrong password');
	const stored = await page.evaluate(() => sessionStorage.length);
	assert(stored === 0, 'something stored after a failed login');
});

test('login_right_password', async (page) => {
	await page.goto(URL_ + '/');
	await page.fill('#login-password', PASSWORD);
	await page.click('#login-submit');
	await page.waitForSelector('#page-dashboard:not([hidden])', { timeout: 10000 });
	const cookies = await page.context().cookies();
	assert(cookies.length === 0, 'the UI set cookies: ' + JSON.stringify(cookies));
	// a reload keeps the session (sessionStorage), no second login
	await page.reload();
	await page.waitForSelector('#page-dashboard:not([hidden])', { timeout: 10000 });
});

test('dashboard_matches_stat', async (page) => {
	for (let i = 0; i < 3; i++) {
		const r = await api('/checkv2', { method: 'POST', body: message(`dashboard ${RUN_ID} ${i}`), base: SCAN_URL });
		assert(r.status === 200, 'scan failed: ' + r.text);
	}
	await go(page, 'dashboard');
	const st = (await api('/stat')).data;
	await page.click('#dash-refresh');
	await waitFor(async () => await text(page, '[data-stat="scanned"]') === String(st.scanned),
		`scanned = ${st.scanned}`);
	for (const [action, n] of Object.entries(st.actions)) {
		const shown = await text(page, `[data-stat="action:${action}"]`);
		assert(shown === String(n), `${action}: page ${shown}, /stat ${n}`);
	}
	assert(await text(page, '[data-stat="learned"]') === String(st.learned), 'learned differs');
	assert(st.scanned >= 3, 'scans not counted in /stat');
	const pie = await page.evaluate(() => {
		const c = window.Chart && window.Chart.getChart('chart-actions');
		return c ? c.data.datasets[0].data.reduce((a, b) => a + b, 0) : -1;
	});
	assert(pie === Object.values(st.actions).reduce((a, b) => a + b, 0), 'pie total ' + pie);
	await shot(page, 'dashboard');
});

test('throughput_chart_has_points', async (page) => {
	const g = await api('/graph?type=day');
	assert(g.status === 200 && Array.isArray(g.data), `/graph: ${g.status} ${g.text.slice(0, 100)}`);
	await go(page, 'dashboard');
	// The graph is fed by the controller's per-minute samples: reload it
	// until the scans made above show up as points.
	const n = await waitFor(async () => {
		await page.selectOption('#graph-period', 'week');
		await page.selectOption('#graph-period', 'day');
		await page.waitForTimeout(300);
		const msg = await text(page, '#graph-msg');
		assert(!msg.startsWith('Throughput unavailable'), msg);
		const pts = await page.evaluate(() => {
			const c = window.Chart && window.Chart.getChart('chart-throughput');
			if (!c)
				return 0;
			return c.data.datasets.reduce((a, d) => a + d.data.filter((p) => p.y !== null && p.y > 0).length, 0);
		});
		return pts > 0 ? pts : 0;
	}, 'data points in the throughput chart', 130000, 5000);
	const datasets = await page.evaluate(() => window.Chart.getChart('chart-throughput').data.datasets.length);
	assert(datasets === 6, 'series: ' + datasets);
	assert(n > 0, 'no points');
	await shot(page, 'dashboard-throughput');
});

test('history_shows_scan_and_symbols', async (page) => {
	const subject = `history ${RUN_ID}`;
	const r = await api('/checkv2', { method: 'POST', body: message(subject), base: SCAN_URL });
	assert(r.status === 200, 'scan failed: ' + r.text);
	const expected = Object.keys(r.data.symbols).sort();
	await go(page, 'history');
	const row = await waitFor(async () => {
		await page.click('#hist-refresh');
		await page.waitForTimeout(200);
		return page.$(`#history-table tbody tr:has-text("${subject}")`);
	}, 'the scanned message in the history table');
	await shot(page, 'history');
	await row.click();
	await page.waitForSelector('#dialog[open] #history-symbols');
	const shown = (await page.$$eval('#history-symbols tbody tr', (trs) => trs.map((t) => t.dataset.symbol))).sort();
	assert(JSON.stringify(shown) === JSON.stringify(expected),
		`symbols in the dialog ${shown} differ from the scan's ${expected}`);
	await shot(page, 'history-details');
	await page.click('#dialog-close');
	// filters: by symbol and by a sender that matches nothing
	await page.fill('#hist-symbol', expected[0] || 'x');
	assert(await page.$(`#history-table tbody tr:has-text("${subject}")`), 'symbol filter hid the row');
	await page.fill('#hist-symbol', '');
	await page.fill('#hist-sender', 'nobody-' + RUN_ID);
	assert(!(await page.$(`#history-table tbody tr:has-text("${subject}")`)), 'sender filter kept the row');
	await page.fill('#hist-sender', '');
	// sorting by score flips the arrow
	await page.click('#history-table th[data-key="score"]');
	assert((await text(page, '#history-table th[data-key="score"]')).match(/[▲▼]/), 'no sort mark');
});

test('scan_drop_and_learn_spam', async (page) => {
	const spam = readFileSync(process.env.WEBUI_SPAM);
	const direct = await api('/checkv2', { method: 'POST', body: spam });
	assert(direct.status === 200, 'direct scan failed');
	const before = (await api('/stat')).data;
	await go(page, 'scan');
	// the very bytes of the file, as a drag from the desktop would give
	const dt = await page.evaluateHandle((b64) => {
		const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
		const d = new DataTransfer();
		d.items.add(new File([bytes], 'spam.eml', { type: 'message/rfc822' }));
		return d;
	}, spam.toString('base64'));
	await page.dispatchEvent('#scan-drop', 'drop', { dataTransfer: dt });
	await page.waitForSelector('#scan-symbols tbody tr', { timeout: 20000 });
	const shown = (await page.$$eval('#scan-symbols tbody tr', (trs) => trs.map((t) => t.dataset.symbol))).sort();
	const expected = Object.keys(direct.data.symbols).filter((s) => !s.startsWith('BAYES_')).sort();
	for (const s of expected)
		assert(shown.includes(s), `symbol ${s} missing on the page (${shown})`);
	const withDesc = await page.$$eval('#scan-symbols tbody tr td:nth-child(3)', (tds) => tds.filter((t) => t.textContent).length);
	assert(withDesc > 0, 'no descriptions shown');
	assert((await text(page, '#scan-action')) === direct.data.action, 'action differs');
	await shot(page, 'scan');
	await page.click('#learn-spam');
	await page.waitForFunction(() => document.getElementById('learn-msg').textContent !== '', null, { timeout: 20000 });
	const msg = await text(page, '#learn-msg');
	assert(msg === 'Learned as spam', 'learn: ' + msg);
	const after = (await api('/stat')).data;
	assert(after.learned === before.learned + 1, `learned ${before.learned} -> ${after.learned}`);
	const rev = (s) => (s.statfiles || []).filter((f) => f.symbol === 'BAYES_SPAM').reduce((a, f) => a + f.revision, 0);
	await waitFor(async () => rev((await api('/stat')).data) === rev(before) + 1, 'BAYES_SPAM revision + 1');
	await shot(page, 'scan-learned');
});

test('add_header_threshold_changes_action', async (page) => {
	const body = message(`threshold ${RUN_ID}`);
	const first = (await api('/checkv2', { method: 'POST', body })).data;
	assert(first.action === 'no action', 'precondition: ' + first.action);
	const orig = (await api('/actions')).data;
	await go(page, 'actions');
	await page.waitForSelector('#action-add-header');
	await shot(page, 'actions');
	const newValue = (Math.floor(first.score) - 1).toFixed(2);
	await page.fill('#action-add-header', newValue);
	await page.click('#actions-save');
	await waitFor(async () => (await api('/actions')).data.find((a) => a.action === 'add header').value === Number(newValue),
		'/actions to show the new threshold', RELOAD_MS, 500);
	// the next scan, from the scan page
	await go(page, 'scan');
	await page.fill('#scan-text', body.replace(/\r\n/g, '\n'));
	await page.click('#scan-go');
	await page.waitForSelector('#scan-action');
	const action = await text(page, '#scan-action');
	// put the thresholds back before asserting
	const val = (n) => { const a = orig.find((x) => x.action === n); return a ? a.value : null; };
	await api('/saveactions', { method: 'POST', body: JSON.stringify(['reject', 'rewrite subject', 'add header', 'greylist'].map(val)) });
	assert(action === 'add header', 'action after the edit: ' + action);
});

test('map_edit_takes_effect', async (page) => {
	const sym = process.env.WEBUI_MAP_SYMBOL;
	const domain = `blocked-${RUN_ID}.example`;
	const scan = async () => (await api('/checkv2', { method: 'POST', body: message(`map ${RUN_ID}`, { from: 'x@' + domain }),
		headers: { From: `<x@${domain}>`, IP: '192.0.2.1' } })).data;
	assert(!(sym in (await scan()).symbols), 'precondition: already listed');
	await go(page, 'maps');
	const row = await waitFor(() => page.$(`#maps-table tbody tr:has-text("${process.env.WEBUI_MAP_HINT}")`), 'the map in the list');
	await shot(page, 'maps');
	await (await row.$('button.map-open')).click();
	await page.waitForSelector('#map-text');
	const old = await page.inputValue('#map-text');
	await page.fill('#map-text', old + (old.endsWith('\n') || old === '' ? '' : '\n') + domain + '\n');
	await page.click('#map-save');
	await waitFor(async () => (await text(page, '#toast')) === 'Map saved', 'the save to succeed');
	await shot(page, 'maps-edited');
	await waitFor(async () => sym in (await scan()).symbols, `${sym} on the next scans`, RELOAD_MS, 500);
});

test('queue_page_loads', async (page) => {
	await go(page, 'queue');
	await page.waitForFunction(() => document.getElementById('queue-msg').textContent !== '', null, { timeout: 10000 });
	await shot(page, 'queue');
});

test('symbol_weight_edit', async (page) => {
	await go(page, 'symbols');
	const input = await waitFor(() => page.$('#symbols-table input.weight[data-symbol="MISSING_XM_UA"]'),
		'the MISSING_XM_UA row');
	await page.fill('#sym-filter', 'MISSING_XM');
	assert(await page.isVisible('#symbols-table tr[data-symbol="MISSING_XM_UA"]'), 'filter hid the row');
	await shot(page, 'symbols');
	const orig = await input.inputValue();
	await input.fill('0.42');
	await page.click('#sym-save');
	const weight = async () => {
		for (const g of (await api('/symbols')).data)
			for (const r of g.rules)
				if (r.symbol === 'MISSING_XM_UA')
					return r.weight;
		return null;
	};
	// the save reloads every worker (config check, rules compiled again):
	// seconds on a busy machine
	await waitFor(async () => Math.abs(await weight() - 0.42) < 1e-9, 'the new weight in /symbols',
		RELOAD_MS, 500);
	await api('/savesymbols', { method: 'POST', body: JSON.stringify([{ name: 'MISSING_XM_UA', value: Number(orig) }]) });
});

// The mail queue page against a daemon with the mail core and queued mail:
// WEBUI_QUEUE_IDS = "<incoming id>,<incoming id>,<deferred id>".
test('queue_actions', async (page) => {
	const [holdId, deleteId, deferredId] = process.env.WEBUI_QUEUE_IDS.split(',');
	const queueOf = async (id) => ((await api('/queue')).data.find((m) => m.queue_id === id) || {}).queue_name;
	const rowQueue = (id) => text(page, `#queue-table tr[data-id="${id}"] td:nth-child(2)`);
	await go(page, 'queue');
	await page.waitForSelector(`#queue-table tr[data-id="${deferredId}"]`);
	await shot(page, 'queue-mail');
	await page.click(`#queue-table tr[data-id="${holdId}"] button[data-op="hold"]`);
	await waitFor(async () => await rowQueue(holdId) === 'hold', 'the held message on the page');
	assert(await queueOf(holdId) === 'hold', 'not held in the spool');
	await page.click(`#queue-table tr[data-id="${holdId}"] button[data-op="release"]`);
	await waitFor(async () => await rowQueue(holdId) === 'incoming', 'the released message on the page');
	await page.click(`#queue-table tr[data-id="${deleteId}"] button[data-op="delete"]`);
	await waitFor(async () => !(await page.$(`#queue-table tr[data-id="${deleteId}"]`)), 'the deleted row to go');
	assert(await queueOf(deleteId) === undefined, 'still in the queue');
	await page.click('#queue-flush');
	await waitFor(async () => await rowQueue(deferredId) === 'incoming', 'the flushed message in incoming');
	await shot(page, 'queue-mail-after');
}, true);

test('phone_sized_screen', async (page, browser) => {
	const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
	const p = await ctx.newPage();
	await p.goto(URL_ + '/');
	await p.fill('#login-password', PASSWORD);
	await p.click('#login-submit');
	await p.waitForSelector('#page-dashboard:not([hidden])');
	for (const pg of ['dashboard', 'history', 'scan', 'actions']) {
		await go(p, pg);
		await p.waitForTimeout(300);
		const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		assert(over <= 1, `${pg} is ${over}px wider than the phone screen`);
		await shot(p, 'phone-' + pg);
	}
	await ctx.close();
});

async function main() {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
	});
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	const page = await context.newPage();
	const consoleErrors = [];
	page.on('pageerror', (e) => consoleErrors.push(String(e)));
	page.on('dialog', (d) => d.accept());
	const results = {};
	let failed = 0;
	for (const t of tests) {
		if (ONLY.length ? !ONLY.includes(t.name) : t.explicit)
			continue;
		const t0 = Date.now();
		try {
			await t.fn(page, browser);
			results[t.name] = { ok: true, ms: Date.now() - t0 };
			console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
		} catch (e) {
			failed++;
			results[t.name] = { ok: false, error: String(e && e.stack || e), ms: Date.now() - t0 };
			console.log(`FAIL ${t.name}: ${e && e.message}`);
			await shot(page, 'failed-' + t.name).catch(() => {});
		}
	}
	results._page_errors = consoleErrors;
	writeFileSync(join(ART, 'results.json'), JSON.stringify(results, null, 1));
	await browser.close();
	if (consoleErrors.length)
		console.log('page errors:\n' + consoleErrors.join('\n'));
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e);
	process.exit(2);
});
