// Entry point: login, navigation between pages (#hash), read-only badge.
// Each page module exports show(section) and, optionally, hide().

import { getJSON, setPassword, getPassword, onAuthLost, ApiError } from './api.mjs';
import * as dashboard from './dashboard.mjs';
import * as history from './history.mjs';
import * as scan from './scan.mjs';
import * as config from './config.mjs';
import * as queue from './queue.mjs';

const pages = {
	dashboard,
	history,
	scan,
	symbols: config.symbols,
	actions: config.actions,
	maps: config.maps,
	queue,
	errors: config.errors,
};

let current = null;

function $(id) {
	return document.getElementById(id);
}

function showLogin(message) {
	hidePage();
	$('app').hidden = true;
	$('login').hidden = false;
	$('login-error').textContent = message || '';
	$('login-password').value = '';
	$('login-password').focus();
}

function hidePage() {
	if (current && pages[current].hide)
		pages[current].hide();
	current = null;
}

function route() {
	if ($('app').hidden)
		return;
	let name = location.hash.replace(/^#/, '') || 'dashboard';
	if (!pages[name])
		name = 'dashboard';
	hidePage();
	for (const a of document.querySelectorAll('#nav a'))
		a.classList.toggle('active', a.dataset.page === name);
	for (const s of document.querySelectorAll('.page'))
		s.hidden = s.id !== 'page-' + name;
	current = name;
	pages[name].show($('page-' + name));
}

function enterApp(auth) {
	$('login').hidden = true;
	$('app').hidden = false;
	$('ro-badge').hidden = !auth.read_only;
	document.body.classList.toggle('read-only', !!auth.read_only);
	route();
}

// Try the stored password (or none: a secure_ip peer needs none).
async function tryAuth(pw) {
	return getJSON('/auth', { password: pw });
}

async function login(ev) {
	ev.preventDefault();
	const pw = $('login-password').value;
	$('login-submit').disabled = true;
	try {
		const auth = await tryAuth(pw);
		setPassword(pw);
		enterApp(auth);
	} catch (e) {
		const wrong = e instanceof ApiError && (e.status === 401 || e.status === 403);
		$('login-error').textContent = wrong ? 'Wrong password' : e.message;
	} finally {
		$('login-submit').disabled = false;
	}
}

async function start() {
	$('login-form').addEventListener('submit', login);
	$('logout').addEventListener('click', () => {
		setPassword(null);
		showLogin('');
	});
	$('dialog-close').addEventListener('click', () => $('dialog').close());
	window.addEventListener('hashchange', route);
	onAuthLost(() => {
		setPassword(null);
		showLogin('Session expired: log in again');
	});
	try {
		enterApp(await tryAuth(getPassword()));
	} catch {
		showLogin('');
	}
}

start();
