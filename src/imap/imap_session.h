/*
 * imap_session.h - one IMAP4rev1 connection (RFC 3501) with IDLE,
 * UIDPLUS, MOVE, SPECIAL-USE, NAMESPACE, ID, ENABLE, LITERAL+, SASL-IR,
 * QUOTA, UNSELECT and CHILDREN.
 *
 * The session speaks the protocol and works on the mailbox store
 * (store/mailbox.h) of the user who logged in. It knows nothing about
 * the users database, client limits or the scanner: credentials go to
 * the owner's `auth` hook, which answers with imap_session_auth_done()
 * (from inside the hook or later from the loop); junk learning goes to
 * the settings' `learn` function.
 *
 * Security: LOGIN and AUTHENTICATE only over TLS (LOGINDISABLED is
 * advertised before it), unless auth_plaintext_loopback allows them from
 * loopback and unix-socket clients. After login every path comes from
 * maildir_path_expand(mail_location, user) and the store's name mapping,
 * which refuses "..", absolute names and control bytes.
 */
#ifndef IMAP_IMAP_SESSION_H
#define IMAP_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/quota.h"

struct ev_loop;
struct ssl_ctx_st;
struct imap_session;

struct imap_settings {
	const char *hostname;         /* for logs and the greeting; borrowed */
	const char *mail_location;    /* "maildir:/.../%d/%n"; borrowed */
	struct ssl_ctx_st *tls_ctx;   /* NULL: no STARTTLS; borrowed */
	bool implicit_tls;            /* imaps: handshake before the greeting */
	bool auth_plaintext_loopback; /* LOGIN without TLS from 127/8, ::1, unix */
	double timeout;               /* idle autologout; 0 = 1800 s */
	double poll_interval;         /* IDLE mailbox polling; 0 = 1 s */
	size_t append_max;            /* APPEND literal; 0 = 50 MiB */
	unsigned max_bad_commands;    /* then BYE; 0 = 20 */
	unsigned max_preauth_commands; /* then BYE; 0 = 50 */
	/*
	 * Junk learning: called with a message moved or copied into Junk
	 * (spam = true) or moved out of Junk (spam = false; not into Trash
	 * unless learn_ham_into_trash). NULL: no learning. The data is
	 * borrowed for the call.
	 */
	void (*learn)(const char *data, size_t len, bool spam, const char *user);
	bool learn_ham_into_trash;
};

struct imap_hooks {
	/* LOGIN / AUTHENTICATE PLAIN credentials (NUL-free; wiped after the
	 * answer). Answer: imap_session_auth_done(). */
	void (*auth)(struct imap_session *s, const char *user, const char *password,
	    void *ud);
	/* The session ended; it is freed right after. Never called while the
	 * auth hook waits for its answer. May be NULL. */
	void (*closed)(struct imap_session *s, void *ud);
};

/*
 * Takes ownership of fd. settings and hooks are borrowed and must outlive
 * the session. With `reject` (e.g. too many connections) "* BYE <reject>"
 * is sent instead of the greeting and the session closes.
 */
struct imap_session *imap_session_new(struct ev_loop *loop, int fd,
    const struct imap_settings *set, const struct imap_hooks *hooks, void *ud,
    const char *reject);

/*
 * result: 1 authenticated, 0 bad credentials (NO [AUTHENTICATIONFAILED]),
 * -1 temporary failure (NO [UNAVAILABLE]). canonical_user (borrowed; NULL
 * = the name given) names the mailbox; quota (borrowed, may be NULL = no
 * limit) is reported by GETQUOTA and enforced by APPEND.
 */
void imap_session_auth_done(struct imap_session *s, int result,
    const char *canonical_user, const struct quota_limit *quota);

/* Worker stopping: "* BYE" after the current command, then close. */
void imap_session_shutdown(struct imap_session *s);

/* "imap<pid>.<n>", for the owner's logs. Borrowed. */
const char *imap_session_id(const struct imap_session *s);
/* The client's address text ("1.2.3.4", "unix:"). Borrowed. */
const char *imap_session_peer(const struct imap_session *s);

#endif
