// imap_client.mjs - a second, independent IMAP client for test_imap.py:
// imapflow (npm) logs in over implicit TLS, lists folders with their
// special-use flags, selects INBOX, fetches envelopes and a source, moves
// a message into a new folder, and prints one JSON line for pytest.
// Usage: node imap_client.mjs PORT USER PASSWORD
import { ImapFlow } from "imapflow";

const [port, user, pass] = process.argv.slice(2);
const client = new ImapFlow({
	host: "127.0.0.1", port: Number(port), secure: true,
	tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false,
});
const out = {};
await client.connect();
const folders = await client.list();
out.folders = folders.map((f) => f.path);
out.specialUse = Object.fromEntries(folders.filter((f) => f.specialUse)
	.map((f) => [f.path, f.specialUse]));
let lock = await client.getMailboxLock("INBOX");
try {
	out.exists = client.mailbox.exists;
	out.subjects = [];
	for await (const msg of client.fetch("1:*", { envelope: true, uid: true }))
		out.subjects.push(msg.envelope.subject);
	const one = await client.fetchOne("1", { source: true });
	out.source1 = one.source.toString();
	await client.mailboxCreate("Archive");
	const moved = await client.messageMove("1", "Archive");
	out.moved = Boolean(moved && moved.uidMap && moved.uidMap.size === 1);
} finally {
	lock.release();
}
const st = await client.status("Archive", { messages: true });
out.archiveExists = st.messages;
const inbox = await client.status("INBOX", { messages: true });
out.inboxAfter = inbox.messages;
await client.logout();
console.log(JSON.stringify(out));
