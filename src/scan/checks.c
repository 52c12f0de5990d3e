/*
 * checks.c - built-in checks over the parsed message.
 *
 * These are the checks that need no rule engine: the GTUBE test pattern,
 * header sanity, MIME structure damage and URL/HTML anomalies the parser
 * already flags. They give spam and ham different scores before the
 * regexp/Lua rule set and Bayes are in place, and stay useful after.
 */
#include "scan/checks.h"
#include "core/pool.h"
#include "core/str.h"
#include "mime/html.h"
#include "mime/message.h"
#include "scan/task.h"

#include <string.h>
#include <strings.h>

static const char gtube[] =
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

int
check_gtube(struct scan_task *task)
{
	bool found = task->len >= sizeof(gtube) - 1 &&
	    memmem(task->data, task->len, gtube, sizeof(gtube) - 1) != NULL;

	/* Also after transfer decoding: a base64 text part may carry it. */
	for (unsigned i = 0; !found && task->msg != NULL && i < task->msg->n_text_parts; i++) {
		const struct mime_part *p = task->msg->text_parts[i];

		found = p->utf8 != NULL && p->utf8_len >= sizeof(gtube) - 1 &&
		    memmem(p->utf8, p->utf8_len, gtube, sizeof(gtube) - 1) != NULL;
	}
	if (!found)
		return 0;
	scan_task_insert(task, "GTUBE", 1.0, NULL);
	scan_task_set_pre_result(task, "reject", "Gtube pattern", "gtube");
	return 1;
}

static bool
blank(const char *s)
{
	return str_trim(str_from_cstr(s)).len == 0;
}

static void
check_subject(struct scan_task *task, const struct mime_headers *h)
{
	const struct mime_header *subj = mime_headers_find(h, "Subject");
	size_t letters = 0, upper = 0, words = 0;
	bool in_word = false, ascii = true;
	const char *s;

	if (subj == NULL) {
		scan_task_insert(task, "MISSING_SUBJECT", 1.0, NULL);
		return;
	}
	if (blank(subj->value)) {
		scan_task_insert(task, "EMPTY_SUBJECT", 1.0, NULL);
		return;
	}
	for (s = subj->value; *s != '\0'; s++) {
		bool alpha = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');

		ascii &= (unsigned char)*s < 0x80;
		letters += alpha;
		upper += *s >= 'A' && *s <= 'Z';
		if (alpha && !in_word)
			words++;
		in_word = alpha;
	}
	if (letters >= 10 && words >= 2 && upper * 10 >= letters * 9)
		scan_task_insert(task, "SUBJ_ALL_CAPS", 1.0, NULL);
	/* Encoding a pure ASCII subject is what bulk tools do, not mail clients. */
	if (ascii && str_find_case(subj->raw, STR_LIT("?q?")) >= 0 &&
	    str_find_case(subj->raw, STR_LIT("=?")) >= 0)
		scan_task_insert(task, "SUBJ_EXCESS_QP", 1.0, NULL);
}

static void
check_from(struct scan_task *task, const struct mime_headers *h)
{
	const struct mime_header *from = mime_headers_find(h, "From");
	const struct mime_address *a;

	if (from == NULL) {
		scan_task_insert(task, "MISSING_FROM", 1.0, NULL);
		return;
	}
	a = mime_parse_addresses(task->pool, from->value, strlen(from->value));
	if (a == NULL)
		return;
	scan_task_insert(task, a->name != NULL && *a->name != '\0' ? "FROM_HAS_DN" : "FROM_NO_DN",
	    1.0, NULL);
	if (a->name != NULL && *a->name != '\0') {
		const char *lt = strchr(from->value, '<');

		if (lt != NULL && lt > from->value && lt[-1] != ' ' && lt[-1] != '\t' &&
		    lt[-1] != '"')
			scan_task_insert(task, "R_NO_SPACE_IN_FROM", 1.0, NULL);
	}
}

static void
check_unique(struct scan_task *task, const struct mime_headers *h)
{
	static const char *const unique[] = {
		"From", "Subject", "Date", "Message-ID", "To", "Sender", "Reply-To",
		"In-Reply-To", "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
	};

	for (size_t i = 0; i < sizeof(unique) / sizeof(unique[0]); i++) {
		if (mime_headers_count(h, unique[i]) > 1)
			scan_task_insert(task, "MULTIPLE_UNIQUE_HEADERS", 1.0, unique[i]);
	}
}

void
check_headers(struct scan_task *task)
{
	const struct mime_message *m = task->msg;
	const struct mime_headers *h = &m->headers;
	const char *to = mime_headers_get(h, "To");

	if (m->flags & (MIME_MSG_NO_HEADERS_END | MIME_MSG_HEADERS_TRUNCATED) && h->count > 0)
		scan_task_insert(task, "BROKEN_HEADERS", 1.0, NULL);
	check_subject(task, h);
	check_from(task, h);
	check_unique(task, h);
	if (mime_headers_find(h, "Date") == NULL)
		scan_task_insert(task, "MISSING_DATE", 1.0, NULL);
	if (mime_headers_find(h, "Message-ID") == NULL)
		scan_task_insert(task, "MISSING_MID", 1.0, NULL);
	if (to == NULL)
		scan_task_insert(task, "MISSING_TO", 1.0, NULL);
	else if (str_find_case(str_from_cstr(to), STR_LIT("undisclosed")) >= 0)
		scan_task_insert(task, "R_UNDISC_RCPT", 1.0, NULL);
	if (mime_headers_find(h, "Received") == NULL)
		scan_task_insert(task, "RCVD_COUNT_ZERO", 1.0, NULL);
	if (m->root != NULL && strcmp(m->root->type, "multipart") == 0 &&
	    mime_headers_find(h, "MIME-Version") == NULL)
		scan_task_insert(task, "MISSING_MIME_VERSION", 1.0, NULL);
}

static bool
has_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p[i] >= 0x80)
			return true;
	}
	return false;
}

static void
check_part_flags(struct scan_task *task, const struct mime_part *p)
{
	const char *ct = pool_printf(task->pool, "%s/%s", p->type, p->subtype);

	if (p->flags & MIME_PART_BAD_BASE64)
		scan_task_insert(task, "MIME_BASE64_BROKEN", 1.0, ct);
	if (p->flags & MIME_PART_BAD_QP)
		scan_task_insert(task, "MIME_QP_BROKEN", 1.0, ct);
	if (p->flags & (MIME_PART_MISSING_BOUNDARY | MIME_PART_BAD_CONTENT_TYPE |
			   MIME_PART_EMPTY_MULTIPART))
		scan_task_insert(task, "BROKEN_CONTENT_TYPE", 1.0, NULL);
	if (p->flags & MIME_PART_UNTERMINATED_MULTIPART)
		scan_task_insert(task, "MIME_UNTERMINATED", 1.0, NULL);
	if (p->flags & MIME_PART_BAD_CHARSET)
		scan_task_insert(task, "R_BAD_CHARSET", 1.0, p->charset);
	if (p->flags & MIME_PART_DEPTH_LIMIT)
		scan_task_insert(task, "MIME_TOO_DEEP", 1.0, NULL);
	if (p->is_text && p->charset == NULL && p->decoded != NULL &&
	    has_8bit(p->decoded, p->decoded_len))
		scan_task_insert(task, "R_MISSING_CHARSET", 1.0, NULL);
}

/* Non-space bytes of all text parts. */
static size_t
text_weight(const struct mime_message *m)
{
	size_t n = 0;

	for (unsigned i = 0; i < m->n_text_parts; i++) {
		const struct mime_part *p = m->text_parts[i];

		for (size_t j = 0; p->utf8 != NULL && j < p->utf8_len; j++)
			n += !ascii_isspace(p->utf8[j]);
	}
	return n;
}

void
check_mime(struct scan_task *task)
{
	const struct mime_message *m = task->msg;
	unsigned html = 0, plain = 0, images = 0;

	if (m->flags & MIME_MSG_DEPTH_LIMIT)
		scan_task_insert(task, "MIME_TOO_DEEP", 1.0, NULL);
	if (m->flags & MIME_MSG_PARTS_LIMIT)
		scan_task_insert(task, "MIME_TOO_MANY_PARTS", 1.0, NULL);
	for (unsigned i = 0; i < m->n_parts; i++) {
		const struct mime_part *p = m->parts[i];

		check_part_flags(task, p);
		if (strcmp(p->type, "image") == 0)
			images++;
		if (p->is_text && !p->is_attachment) {
			html += p->is_html;
			plain += !p->is_html;
		}
	}
	if (html > 0 && plain == 0)
		scan_task_insert(task, "MIME_HTML_ONLY", 1.0, NULL);
	if (m->root != NULL && ((strcmp(m->root->type, "text") == 0 &&
				    strcmp(m->root->subtype, "plain") == 0) ||
				   (strcmp(m->root->type, "multipart") == 0 &&
				    strcmp(m->root->subtype, "alternative") == 0)))
		scan_task_insert(task, "MIME_GOOD", 1.0,
		    pool_printf(task->pool, "%s/%s", m->root->type, m->root->subtype));
	for (unsigned i = 0; i < m->n_text_parts; i++) {
		const struct html_info *hi = m->text_parts[i]->html;

		if (hi != NULL)
			images += hi->n_images;
	}
	if (images > 0 && text_weight(m) < 50)
		scan_task_insert(task, "R_EMPTY_IMAGE", 1.0, NULL);
}

static void
check_html(struct scan_task *task, const struct html_info *hi)
{
	size_t total = hi->visible_chars + hi->invisible_chars;

	if (hi->invisible_chars > 100 && hi->invisible_chars * 10 > total * 3)
		scan_task_insert(task, "HTML_INVISIBLE_TEXT", 1.0, NULL);
	if (hi->visible_chars < 100 && hi->n_images > 0 && hi->n_links > 0)
		scan_task_insert(task, "HTML_SHORT_LINK_IMG", 1.0, NULL);
}

void
check_urls_html(struct scan_task *task)
{
	const struct mime_message *m = task->msg;
	size_t url_bytes = 0, text;

	for (size_t i = 0; i < m->n_urls; i++) {
		const struct mime_url *u = &m->urls[i];

		if (u->flags & MIME_URL_PHISHED)
			scan_task_insert(task, "PHISHING", 1.0, u->host);
		if ((u->flags & MIME_URL_HAS_IP) && !(u->flags & MIME_URL_MAILTO))
			scan_task_insert(task, "HTTP_TO_IP", 1.0, u->host);
		if (u->flags & MIME_URL_OBFUSCATED)
			scan_task_insert(task, "R_SUSPICIOUS_URL", 1.0, u->host);
		if (!(u->flags & (MIME_URL_MAILTO | MIME_URL_IMAGE)))
			url_bytes += strlen(u->url);
	}
	for (unsigned i = 0; i < m->n_text_parts; i++) {
		if (m->text_parts[i]->html != NULL)
			check_html(task, m->text_parts[i]->html);
	}
	text = text_weight(m);
	if (url_bytes > 0 && text <= url_bytes + url_bytes / 10 + 10)
		scan_task_insert(task, "HFILTER_URL_ONLY", 1.0, NULL);
}
