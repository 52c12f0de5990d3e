/*
 * maildir.h - local delivery into Maildir++ mailboxes (DESIGN.md
 * sections 5 and 6), and the expansion of `mail_location` templates into
 * mailbox paths.
 *
 * Layout of one mailbox (Dovecot's Maildir++): <root>/{cur,new,tmp} is
 * INBOX; folder "Junk" is <root>/.Junk/{cur,new,tmp} with an empty
 * `maildirfolder` file; hierarchy uses '.' ("Archive.2024"). On the first
 * delivery to a mailbox, INBOX and the standard folders .Sent .Drafts
 * .Junk .Trash are created and listed in <root>/subscriptions (one name
 * per line).
 *
 * Delivery is durable before it returns 0: the message is written to
 * tmp/<unique>, fsynced, linked into new/ under the same name, and new/
 * is fsynced. Names are "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>", so
 * quota code can read sizes without stat(2).
 *
 * Paths: mailbox roots come only from maildir_path_expand(), which
 * validates each user-derived component; folder names are validated by
 * maildir_folder_valid(). Nothing here trusts a name it did not check.
 */
#ifndef STORE_MAILDIR_H
#define STORE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct maildir_target {
	const char *root;   /* mailbox root, e.g. <state>/mail/<domain>/<local> */
	const char *folder; /* NULL or "" = INBOX; "Junk" -> <root>/.Junk */
	/* Leave the fsync of new/ to a later maildir_sync_new() (group
	 * commit: one directory fsync for a batch of deliveries). Until that
	 * call returns the delivery is not durable. */
	bool defer_new_sync;
};

/* Longest file name maildir_deliver() produces, NUL included. */
#define MAILDIR_NAME_SIZE 256

/* The standard folders created with a new mailbox. */
extern const char *const maildir_std_folders[4];
#define MAILDIR_FOLDER_JUNK "Junk"

/*
 * Delivers len bytes from data into the target's new/. On success the
 * file name (without directory) is copied to name_r when name_r != NULL
 * (name_size >= MAILDIR_NAME_SIZE is always enough). Returns 0, or -1
 * with errno set (EINVAL: invalid folder name; anything else: I/O, to be
 * treated as temporary) and a static reason in *error_r.
 */
int maildir_deliver(const struct maildir_target *t, const void *data,
    size_t len, char *name_r, size_t name_size, const char **error_r);

/* As maildir_deliver(), copying len bytes at offset from fd (e.g. a spool
 * message's body_offset/body_len) without reading it into memory. */
int maildir_deliver_fd(const struct maildir_target *t, int fd, off_t offset,
    uint64_t len, char *name_r, size_t name_size, const char **error_r);

/* fsync the target's new/ (after deliveries with defer_new_sync). */
int maildir_sync_new(const struct maildir_target *t, const char **error_r);

/*
 * Creates the mailbox at root (parents with mode 0700 as needed), INBOX,
 * the standard folders and the subscriptions file, where missing.
 * Idempotent; maildir_deliver() calls it when root/new is absent.
 */
int maildir_create(const char *root, const char **error_r);

/* Creates folder `folder` (validated) under an existing mailbox root. */
int maildir_folder_create(const char *root, const char *folder,
    const char **error_r);

/*
 * A folder name we accept: 1..255 bytes, no '/', no control bytes, does
 * not start or end with '.', no "..", and not "cur", "new" or "tmp".
 */
bool maildir_folder_valid(const char *folder);

/*
 * A user-derived path component (%n, %d, %u): 1..255 bytes, no '/', no
 * leading '.', no "..", no control bytes or DEL.
 */
bool maildir_component_valid(const char *s, size_t len);

/*
 * Expands a Dovecot-style mail_location such as
 * "maildir:/var/lib/rspamd/mail/%d/%n" for user "Local@Example.COM":
 * %u the full user (domain lowercased), %n the local part, %d the domain
 * (lowercased), %Lu/%Ln/%Ld lowercased variants, %% a percent sign. The
 * "maildir:" prefix is optional; options after a further ':' (":LAYOUT=")
 * are ignored. Every expansion must pass maildir_component_valid(), and
 * %d needs a user with '@'. Writes the path to out (NUL-terminated).
 * Returns 0, or -1 with a static reason in *error_r (nothing is usable).
 */
int maildir_path_expand(const char *location, const char *user, char *out,
    size_t out_size, const char **error_r);

#endif
