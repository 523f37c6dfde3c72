/*
 * The names a guest gives its Unix sockets (protocol version 5).  The
 * host places a guest's socket at SOCKDIR/GUEST/NAME.sock, so a name (and
 * a guest's name, which names its directory) must be one path component
 * that cannot climb out or hide: letters, digits, '.', '_', '-', not
 * starting with '.' or '-', no "..", and short.  The same check for the
 * guest's -x names, the host's EXPOSE, and, with glob characters, the
 * policy's "unix" patterns.
 */
#include <string.h>

#include "proto.h"

static int
sockname_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
sockname_glob_char(char c)
{
	return c == '*' || c == '?' || c == '[' || c == ']';
}

static int
sockname_check_chars(const char *s, int glob, const char **why)
{
	size_t	n = strlen(s), i;

	if (n == 0) {
		*why = "empty";
		return -1;
	}
	if (n >= PH_SOCKNAME_MAX) {
		*why = "longer than 47 characters";
		return -1;
	}
	if (s[0] == '.' || s[0] == '-') {
		*why = "starts with '.' or '-'";
		return -1;
	}
	if (strstr(s, "..") != NULL) {
		*why = "holds \"..\"";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '/') {
			*why = "holds '/'";
			return -1;
		}
		if (!sockname_char(s[i]) && !(glob && sockname_glob_char(s[i]))) {
			*why = "holds a character other than letters, digits, "
			    "'.', '_' and '-'";
			return -1;
		}
	}
	return 0;
}

/* 0 if name may name a host socket, else -1 with *why set. */
int
ph_sockname_check(const char *name, const char **why)
{
	return sockname_check_chars(name, 0, why);
}

/* The same, for a policy pattern: *, ?, [ and ] allowed too. */
int
ph_sockname_pattern_check(const char *pattern, const char **why)
{
	return sockname_check_chars(pattern, 1, why);
}
