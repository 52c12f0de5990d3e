// Dashboard: counters from /stat, throughput per action from /graph over
// the chosen period, and a doughnut of the actions taken. Refreshed every
// ten seconds while visible.

import { getJSON, request } from './api.mjs';
import { h, fmtUptime, toast, ACTIONS, ACTION_COLORS } from './util.mjs';

const REFRESH_MS = 10000;
let built = false;
let timer = null;
let period = 'day';
let lineChart = null;
let pieChart = null;
const el = {};

function card(key, label) {
	el[key] = h('div', { class: 'num', 'data-stat': key }, '–');
	return h('div', { class: 'card stat' }, el[key], h('div', { class: 'label' }, label));
}

function build(sec) {
	const periods = h('select', { id: 'graph-period', 'aria-label': 'Period',
		onchange: (e) => { period = e.target.value; refreshGraph(); } },
	['day', 'week', 'month', 'year'].map((p) => h('option', { value: p }, p)));
	el.graphMsg = h('p', { class: 'muted', id: 'graph-msg' });
	el.pieMsg = h('p', { class: 'muted', id: 'pie-msg' });
	el.info = h('p', { class: 'muted', id: 'stat-info' });
	sec.append(
		h('div', { class: 'toolbar' },
			h('h2', {}, 'Status'),
			h('button', { id: 'dash-refresh', onclick: refresh }, 'Refresh'),
			h('button', { id: 'dash-reset', class: 'priv danger', onclick: resetStats }, 'Reset counters')),
		h('div', { class: 'cards' },
			card('scanned', 'Scanned'),
			ACTIONS.map((a) => card('action:' + a, a)),
			card('learned', 'Learned'),
			card('spam_count', 'Spam'),
			card('ham_count', 'Ham'),
			card('uptime', 'Uptime')),
		el.info,
		h('div', { class: 'charts' },
			h('div', { class: 'card chart-box wide' },
				h('div', { class: 'toolbar' }, h('h3', {}, 'Throughput (messages/min)'), periods),
				h('div', { class: 'chart-holder' }, h('canvas', { id: 'chart-throughput' })),
				el.graphMsg),
			h('div', { class: 'card chart-box' },
				h('h3', {}, 'Actions'),
				h('div', { class: 'chart-holder' }, h('canvas', { id: 'chart-actions' })),
				el.pieMsg)));
	built = true;
}

function haveChart() {
	return typeof window.Chart === 'function';
}

async function refreshStat() {
	const st = await getJSON('/stat');
	el.scanned.textContent = String(st.scanned ?? 0);
	for (const a of ACTIONS)
		el['action:' + a].textContent = String((st.actions || {})[a] ?? 0);
	el.learned.textContent = String(st.learned ?? 0);
	el.spam_count.textContent = String(st.spam_count ?? 0);
	el.ham_count.textContent = String(st.ham_count ?? 0);
	el.uptime.textContent = fmtUptime(st.uptime);
	el.info.textContent = `version ${st.version || '?'} · config ${String(st.config_id || '').slice(0, 12)}` +
		` · ${st.connections ?? 0} connections, ${st.control_connections ?? 0} to the controller` +
		` · total learns ${st.total_learns ?? 0}`;
	drawPie(st.actions || {});
}

function drawPie(actions) {
	const labels = ACTIONS.filter((a) => (actions[a] || 0) > 0);
	if (labels.length === 0) {
		el.pieMsg.textContent = 'No messages scanned yet.';
	} else {
		el.pieMsg.textContent = '';
	}
	if (!haveChart()) {
		el.pieMsg.textContent = 'Charts unavailable: run scripts/build-ui.sh.';
		return;
	}
	const data = {
		labels,
		datasets: [{
			data: labels.map((a) => actions[a]),
			backgroundColor: labels.map((a) => ACTION_COLORS[a]),
		}],
	};
	if (pieChart) {
		pieChart.data = data;
		pieChart.update();
		return;
	}
	pieChart = new window.Chart(document.getElementById('chart-actions'), {
		type: 'doughnut',
		data,
		options: { animation: false, maintainAspectRatio: false,
			plugins: { legend: { position: 'bottom' } } },
	});
}

function tickLabel(v) {
	const d = new Date(v * 1000);
	const p = (n) => String(n).padStart(2, '0');
	if (period === 'day')
		return `${p(d.getHours())}:${p(d.getMinutes())}`;
	return `${p(d.getMonth() + 1)}-${p(d.getDate())}` + (period === 'week' ? ` ${p(d.getHours())}h` : '');
}

async function refreshGraph() {
	let series;
	try {
		series = (await request('/graph?type=' + encodeURIComponent(period))).data;
	} catch (e) {
		el.graphMsg.textContent = 'Throughput unavailable: ' + e.message;
		return;
	}
	if (!Array.isArray(series)) {
		el.graphMsg.textContent = 'Throughput unavailable: ' + ((series && series.error) || 'bad reply');
		return;
	}
	el.graphMsg.textContent = haveChart() ? '' : 'Charts unavailable: run scripts/build-ui.sh.';
	if (!haveChart())
		return;
	const datasets = series.map((points, i) => ({
		label: ACTIONS[i] || ('series ' + i),
		data: (points || []).map((p) => ({ x: p.x, y: p.y })),
		borderColor: ACTION_COLORS[ACTIONS[i]],
		backgroundColor: ACTION_COLORS[ACTIONS[i]],
		pointRadius: 1.5,
		borderWidth: 1.5,
		spanGaps: false,
	}));
	if (lineChart) {
		lineChart.data.datasets = datasets;
		lineChart.update();
		return;
	}
	lineChart = new window.Chart(document.getElementById('chart-throughput'), {
		type: 'line',
		data: { datasets },
		options: {
			animation: false,
			maintainAspectRatio: false,
			parsing: false,
			scales: {
				x: { type: 'linear', ticks: { callback: tickLabel, maxTicksLimit: 8 } },
				y: { beginAtZero: true, title: { display: true, text: 'msg/min' } },
			},
			plugins: { legend: { position: 'bottom' } },
		},
	});
}

async function refresh() {
	try {
		await Promise.all([refreshStat(), refreshGraph()]);
	} catch (e) {
		toast('Refresh failed: ' + e.message, 'error');
	}
}

async function resetStats() {
	if (!confirm('Reset all counters?'))
		return;
	try {
		await request('/statreset');
		toast('Counters reset');
		refresh();
	} catch (e) {
		toast('Reset failed: ' + e.message, 'error');
	}
}

export function show(sec) {
	if (!built)
		build(sec);
	refresh();
	clearInterval(timer);
	timer = setInterval(refresh, REFRESH_MS);
}

export function hide() {
	clearInterval(timer);
	timer = null;
}

