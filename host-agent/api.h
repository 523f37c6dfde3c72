/*
 * What porthole-host's API and portholectl share: where the socket is.
 * The API itself is described in docs/api.md and porthole-host(8).
 */
#ifndef PH_API_H
#define PH_API_H

#include <stddef.h>

#define API_SOCK_NAME	"api.sock"
#define API_PATH_MAX	108	/* sizeof sun_path */

/* api_path.c */
int	api_path_default(char *, size_t);
int	api_path_prepare(const char *, int, char *, size_t);
int	private_dir_check(const char *, int, char *, size_t);

#endif
