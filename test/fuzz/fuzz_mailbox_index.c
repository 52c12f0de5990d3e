/*
 * fuzz_mailbox_index.c - libFuzzer target for what the mailbox store reads
 * back from disk and from clients: the per-folder index file, the
 * envelope/bodystructure cache file, and folder names.
 *
 * Index and cache files are ours, but a crash, a full disk or another
 * program can leave anything in them; the store must then rebuild, never
 * crash. Folder names come from IMAP clients: a name that maps to a
 * Maildir++ directory must map back to the same name and must never
 * yield a path component that leaves the mailbox.
 */
#include "store/mailbox.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const uint8_t *data, size_t size)
{
	char name[600], dir[2048], back[600];

	if (size >= sizeof(name))
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	if (mailbox_name_to_dir(name, dir, sizeof(dir)) < 0)
		return;
	/* a directory name never escapes the mailbox root */
	if (strchr(dir, '/') != NULL || strcmp(dir, "..") == 0)
		abort();
	/* "inbox/x" is stored under INBOX's canonical spelling */
	if (dir[0] != '\0' && mailbox_dir_to_name(dir, back, sizeof(back)) == 0) {
		size_t skip = strncasecmp(name, "INBOX/", 6) == 0 ? 6 : 0;

		if (strlen(back) < skip || strcmp(back + skip, name + skip) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailbox_index *index = NULL;

	if (mailbox_index_parse((const char *)data, size, &index) == 0)
		mailbox_index_free(index);
	(void)mailbox_cache_parse_count((const char *)data, size);
	check_name(data, size);
	return 0;
}
