/* Small portability shims over libbsd. */
#ifndef PH_COMPAT_H
#define PH_COMPAT_H

#include <sys/tree.h>

/*
 * libbsd leaves __unused undefined (Linux headers use the name), which
 * its RB_*_STATIC macros need; these say the same thing another way.
 */
#define PH_RB_STATIC	__attribute__((__unused__)) static
#define PH_RB_PROTOTYPE(name, type, field, cmp)			\
	RB_PROTOTYPE_INTERNAL(name, type, field, cmp, PH_RB_STATIC)
#define PH_RB_GENERATE(name, type, field, cmp)				\
	RB_GENERATE_INTERNAL(name, type, field, cmp, PH_RB_STATIC)

#endif
