// The controller API as the pages use it. The password lives in
// sessionStorage (gone with the tab) and goes out in the `Password` header
// of every request, never in a cookie: a foreign page can make the browser
// send cookies, not headers, so the API stays safe from CSRF.

const KEY = 'rspamd-mail.password';

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

export function getPassword() {
	return sessionStorage.getItem(KEY);
}

export function setPassword(pw) {
	if (pw === null)
		sessionStorage.removeItem(KEY);
	else
		sessionStorage.setItem(KEY, pw);
}

// Listeners told when the server refuses our password (401/403), so the
// app can bring the login form back.
const authLost = new Set();
export function onAuthLost(fn) {
	authLost.add(fn);
}

// Full answer: {status, data (parsed JSON or null), text}. Throws ApiError
// for non-2xx replies, with the server's {"error": ...} text when present.
export async function request(path, { method = 'GET', body, headers = {}, password } = {}) {
	const h = new Headers(headers);
	const pw = password !== undefined ? password : getPassword();
	if (pw !== null && pw !== undefined && pw !== '')
		h.set('Password', pw);
	let r;
	try {
		r = await fetch(path, { method, body, headers: h, credentials: 'omit', cache: 'no-store' });
	} catch (e) {
		throw new ApiError(0, 'controller unreachable: ' + e.message);
	}
	const text = await r.text();
	let data = null;
	if (text !== '') {
		try {
			data = JSON.parse(text);
		} catch {
			data = null;
		}
	}
	if (!r.ok) {
		const msg = (data && data.error) || r.statusText || text || ('HTTP ' + r.status);
		const err = new ApiError(r.status, msg);
		if ((r.status === 401 || r.status === 403) && password === undefined)
			authLost.forEach((fn) => fn(err));
		throw err;
	}
	return { status: r.status, data, text };
}

export async function getJSON(path, opts) {
	return (await request(path, opts)).data;
}

export async function postJSON(path, value, opts = {}) {
	return (await request(path, {
		...opts,
		method: 'POST',
		body: JSON.stringify(value),
		headers: { 'Content-Type': 'application/json', ...(opts.headers || {}) },
	})).data;
}
