/*
 * spool_internal.h - what spool.c (opening, writer) shares with
 * spool_ops.c (reader, moves, rewrites, recovery). Not for other areas.
 */
#ifndef QUEUE_SPOOL_INTERNAL_H
#define QUEUE_SPOOL_INTERNAL_H

#include "queue/spool.h"

#define SPOOL_PREAMBLE_LEN 32
#define SPOOL_TEMP_NAME_SIZE 48

struct spool {
	char *root;
	int rootfd;
	int tmpfd;
	int dirfd[SPOOL_QUEUE_COUNT];
};

/* fsync a directory fd (EINVAL from file systems that cannot is fine). */
int spool_fsync_dir(int dirfd);
int spool_write_all(int fd, const void *data, size_t len);
/* Exactly len bytes at off, or -1 (short file: errno EIO). */
int spool_pread_all(int fd, void *data, size_t len, off_t off);
/* Creates tmp/<kind><pid>.<random> for writing; fd or -1. */
int spool_temp_create(struct spool *spool, char kind,
    char name_r[SPOOL_TEMP_NAME_SIZE]);
/* The fixed-width preamble (NUL-terminated) and its parser. */
void spool_preamble_format(char out[SPOOL_PREAMBLE_LEN + 1], uint64_t body_len);
int spool_preamble_parse(const char *p, uint64_t *body_len_r);

#endif
