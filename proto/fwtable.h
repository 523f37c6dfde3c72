/*
 * The table of forwards that people read: `portholectl ls` on the host
 * and `porthole-guest status` in the VM print the same JSON forward
 * objects (docs/protocol.md, "Forwards as JSON") through this one
 * renderer, so that a forward reads the same on both sides.
 */
#ifndef PH_FWTABLE_H
#define PH_FWTABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define FWTABLE_GUEST	0x1	/* the GUEST column: the host has several */
#define FWTABLE_CONNS	0x2	/* the CONNS column: active/total */

void	fwtable_print(FILE *, json_t *, int);
void	fwtable_addr(char *, size_t, const char *, long long);
const char *fwtable_str(json_t *, const char *);

#endif
