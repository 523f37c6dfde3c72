/*
 * The policy file on disk: reading it (bounded), deciding whether its
 * lock is honoured, putting a new policy in force at start-up and on
 * SIGHUP, and the limits it sets for each guest.  A file with any error
 * changes nothing: the policy in force stays, whole.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "host.h"
#include "log.h"
#include "xmalloc.h"

/*
 * lock binds only a file that the user cannot have written: one owned by
 * root and not writable by group or others, as OpenSSH and OpenSMTPD
 * check their secret files.  Otherwise the user could loosen the policy
 * by editing the file, and lock would be a promise nobody keeps.
 */
static void
policy_check_lock(struct policy_file *pf, const struct stat *st)
{
	if (pf->lock_line == 0)
		return;
	if (st->st_uid != 0)
		snprintf(pf->lock_why, sizeof pf->lock_why, "not honoured: "
		    "the file is owned by uid %u, not root",
		    (unsigned int)st->st_uid);
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		snprintf(pf->lock_why, sizeof pf->lock_why, "not honoured: "
		    "the file is writable by %s", st->st_mode & S_IWOTH ?
		    "others" : "its group");
	else
		pf->locked = 1;
}

/* The guest blocks' key files, each reported as its line's error. */
static int
policy_read_keys(struct policy_file *pf, char *errs, size_t errslen)
{
	struct policy_guest	*g;
	char			 err[512];
	size_t			 len;
	int			 i, rc = 0;

	for (i = 0; i < pf->nguests; i++) {
		g = &pf->guests[i];
		if (g->key_line == 0)
			continue;
		if (auth_key_load(g->key_path, g->key, err, sizeof err) == 0)
			continue;
		len = strlen(errs);
		snprintf(errs + len, errslen - len, "%s:%d: %s\n", pf->path,
		    g->key_line, err);
		rc = -1;
	}
	return rc;
}

static struct policy_file *
policy_read(const char *path, int fd, char *errs, size_t errslen)
{
	struct policy_file	*pf;
	struct stat		 st;
	char			*buf;
	size_t			 have = 0;
	ssize_t			 n;

	if (fstat(fd, &st) == -1) {
		snprintf(errs, errslen, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errs, errslen, "%s: not a regular file\n", path);
		return NULL;
	}
	if (st.st_size > POLICY_FILE_MAX) {
		snprintf(errs, errslen, "%s: larger than %d bytes\n", path,
		    POLICY_FILE_MAX);
		return NULL;
	}
	/* One byte more than allowed: a file that grew is seen to. */
	buf = xmalloc(POLICY_FILE_MAX + 1);
	while (have <= POLICY_FILE_MAX && (n = read(fd, buf + have,
	    POLICY_FILE_MAX + 1 - have)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(errs, errslen, "%s: %s\n", path,
			    strerror(errno));
			free(buf);
			return NULL;
		}
		have += (size_t)n;
	}
	pf = policy_parse(path, buf, have, errs, errslen);
	free(buf);
	if (pf != NULL)
		policy_check_lock(pf, &st);
	if (pf != NULL && policy_read_keys(pf, errs, errslen) == -1) {
		policy_file_free(pf);
		return NULL;
	}
	return pf;
}

/*
 * Reads and parses the file.  NULL, with one "FILE:LINE: what" line per
 * error in errs, if anything is wrong.
 */
struct policy_file *
policy_load(const char *path, char *errs, size_t errslen)
{
	struct policy_file	*pf;
	int			 fd;

	errs[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(errs, errslen, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	pf = policy_read(path, fd, errs, errslen);
	close(fd);
	return pf;
}

/*
 * Puts pf in force.  The file's mode becomes the mode, unless the mode
 * was given on the command line (at start-up) or the file's mode did
 * not change (on reload: what the API set stays); a locked file's mode
 * is then a ceiling.  Returns a note for the log, or "".
 */
void
policy_install(struct policy *p, struct policy_file *pf, int mode_from_flag,
    char *note, size_t len)
{
	struct policy_file	*old = p->file;

	note[0] = '\0';
	if (!mode_from_flag && (old == NULL || old->mode != pf->mode))
		p->mode = pf->mode;
	if (pf->locked && p->mode > pf->mode) {
		snprintf(note, len, "%s is locked: mode %s tightened to %s",
		    pf->path, policy_mode_name(p->mode),
		    policy_mode_name(pf->mode));
		p->mode = pf->mode;
	}
	reach_adopt_ids(pf, old);
	p->file = pf;
	policy_file_free(old);
}

/*
 * The file's limits for a guest: those of its first guest block that
 * sets one, else the file's; 0 (line 0) where the file sets none.
 */
void
policy_guest_limits(const struct policy_file *pf, const char *name,
    const char *ep, uint32_t cid, struct policy_limits *out)
{
	const struct policy_limits	*gl;
	int				 i, fwd_set = 0, conn_set = 0;
	int				 udp_set = 0;

	memset(out, 0, sizeof *out);
	if (pf == NULL)
		return;
	*out = pf->limits;
	for (i = 0; i < pf->nguests; i++) {
		if (!policy_guest_match(&pf->guests[i], name, ep, cid))
			continue;
		gl = &pf->guests[i].limits;
		if (!fwd_set && gl->forwards_line != 0) {
			out->max_forwards = gl->max_forwards;
			out->forwards_line = gl->forwards_line;
			fwd_set = 1;
		}
		if (!conn_set && gl->conns_line != 0) {
			out->max_conns = gl->max_conns;
			out->conns_line = gl->conns_line;
			conn_set = 1;
		}
		if (!udp_set && gl->udp_buffer_line != 0) {
			out->max_udp_buffer = gl->max_udp_buffer;
			out->udp_buffer_line = gl->udp_buffer_line;
			udp_set = 1;
		}
	}
}

/*
 * The key a guest must prove: that of its first guest block with a key
 * line, else NULL (then -K's, if given; see auth_key_for()).
 */
const uint8_t *
policy_guest_key(const struct policy_file *pf, const char *name,
    const char *ep, uint32_t cid)
{
	int	i;

	if (pf == NULL)
		return NULL;
	for (i = 0; i < pf->nguests; i++)
		if (pf->guests[i].key_line != 0 &&
		    policy_guest_match(&pf->guests[i], name, ep, cid))
			return pf->guests[i].key;
	return NULL;
}

static void
policy_log_errors(const char *errs)
{
	const char	*nl;

	while (*errs != '\0') {
		if ((nl = strchr(errs, '\n')) == NULL)
			nl = errs + strlen(errs);
		log_warnx("%.*s", (int)(nl - errs), errs);
		errs = *nl != '\0' ? nl + 1 : nl;
	}
}

void
policy_log_loaded(const struct policy_file *pf, const char *what)
{
	log_info("policy %s from %s: %d rule%s, %d guest block%s, mode %s%s",
	    what, pf->path, pf->nrules, pf->nrules == 1 ? "" : "s",
	    pf->nguests, pf->nguests == 1 ? "" : "s",
	    policy_mode_name(pf->mode), pf->locked ? ", locked" : "");
	if (pf->lock_line != 0 && !pf->locked)
		log_warnx("%s:%d: lock %s", pf->path, pf->lock_line,
		    pf->lock_why);
}

/*
 * Loads the policy file at path and puts it in force, at start-up and
 * on SIGHUP alike.  A file with any error is reported line by line and
 * changes nothing: at start-up on stderr (the caller then exits, before
 * anything is opened), on SIGHUP in the log (the policy in force stays).
 * A reload then sets every guest's limits and decides every forward
 * again.  reload: NULL at start-up; on SIGHUP, what else changed with
 * it ("" if nothing), for the one policy event.  Returns -1 if the file
 * had errors.
 */
int
policy_apply(const char *path, int mode_from_flag, const char *reload)
{
	struct policy_file	*pf;
	struct session		*s;
	char			*errs, note[512];

	errs = xmalloc(POLICY_ERRS_LEN);
	if ((pf = policy_load(path, errs, POLICY_ERRS_LEN)) == NULL) {
		if (!reload)
			fprintf(stderr, "%s", errs);
		else {
			policy_log_errors(errs);
			log_warnx("policy not reloaded: %s has errors; the "
			    "policy in force stays", path);
		}
		free(errs);
		return -1;
	}
	free(errs);
	policy_install(&host->policy, pf, mode_from_flag, note, sizeof note);
	if (!reload) {
		if (note[0] != '\0')
			fprintf(stderr, "porthole-host: -b %s\n", note);
		return 0;
	}
	policy_log_loaded(pf, "reloaded");
	if (note[0] != '\0')
		log_warnx("%s", note);
	snprintf(note, sizeof note, "policy file %s reloaded%s%s", pf->path,
	    reload[0] != '\0' ? "; " : "", reload);
	events_policy(note);
	TAILQ_FOREACH(s, &host->sessions, entry)
		session_set_limits(s);
	forward_redecide_all("policy reloaded");
	reach_send_all();
	return 0;
}

/*
 * SIGHUP, in one step: the sysctl of privileged ports (privport.c) and
 * the policy file are read again, and then, if either changed, one
 * policy event and one new decision of every forward.
 */
void
policy_reload(void)
{
	char	why[128] = "";
	int	moved = privport_reload(&host->policy, why, sizeof why);

	if (host->policy.file == NULL)
		log_info("SIGHUP received: no policy file to reload");
	/* The path belongs to the file in force, which a reload frees. */
	else if (policy_apply(host->policy.file->path, 0, why) == 0)
		return;
	if (moved) {
		events_policy(why);
		forward_redecide_all(why);
	}
}
