/*
 * Numbers from people: command-line options, the policy file, endpoints.
 * One rule for all of them (number.c).
 */
#ifndef PH_NUMBER_H
#define PH_NUMBER_H

#include <stddef.h>

long long	number_parse(const char *, long long, long long,
		    const char **);
int		number_option(const char *, const char *, long long,
		    long long, long long *, char *, size_t);
int		number_arg(const char *, const char *, int, int);

#endif
