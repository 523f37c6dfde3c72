/*
 * A number that a person wrote is decimal digits only: no sign, no
 * space, no "0x", not empty.  strtonum(3) alone would take " 5", "+5"
 * and "-0", so the digits are checked first; strtonum then checks the
 * range, huge numbers included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

/*
 * s as a number from min to max (0 <= min <= max); on error 0, with
 * *errstr "not a number", "too small" or "too large", else NULL.
 */
long long
number_parse(const char *s, long long min, long long max,
    const char **errstr)
{
	long long	v;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s)) {
		*errstr = "not a number";
		return 0;
	}
	v = strtonum(s, min, max, errstr);
	return *errstr != NULL ? 0 : v;
}

/*
 * An option's value: 0 with *v set, or -1 with err saying
 * "OPT: "S" is not a number from MIN to MAX".
 */
int
number_option(const char *opt, const char *s, long long min, long long max,
    long long *v, char *err, size_t errlen)
{
	const char	*errstr;

	*v = number_parse(s, min, max, &errstr);
	if (errstr == NULL)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is not a number from %lld to %lld",
	    opt, s, min, max);
	return -1;
}

/*
 * A number for a command-line option, in [min, max]; a bad one is a
 * usage error: the message on stderr, exit status 2.
 */
int
number_arg(const char *opt, const char *arg, int min, int max)
{
	char		err[256];
	long long	n;

	if (number_option(opt, arg, min, max, &n, err, sizeof err) == -1) {
		fprintf(stderr, "%s: %s\n", getprogname(), err);
		exit(2);
	}
	return (int)n;
}
