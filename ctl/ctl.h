/* portholectl: the private header, one banner per file. */
#ifndef PH_CTL_H
#define PH_CTL_H

#include <stddef.h>

#include <jansson.h>

struct evbuffer;

#define CTL_HEAD_MAX	(16 * 1024)		/* status line and headers */
#define CTL_BODY_MAX	(64 * 1024 * 1024)	/* a whole reply */
#define CTL_LINE_MAX	(1024 * 1024)		/* one event */

/* ctl_http.c: one HTTP/1.0 request over the API's Unix socket */
struct ctl_conn {
	int		 fd;
	const char	*path;
	struct evbuffer	*in;
	int		 status;	/* the reply's HTTP status */
	char		 reason[64];
};

void	 ctl_open(struct ctl_conn *, const char *);
void	 ctl_request(struct ctl_conn *, const char *, const char *,
	    const char *);
json_t	*ctl_read_json(struct ctl_conn *);
char	*ctl_read_line(struct ctl_conn *);
void	 ctl_close(struct ctl_conn *);
void	 ctl_fail_reply(struct ctl_conn *, const char *)
	    __attribute__((noreturn));
void	 ctl_die(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* ctl_show.c: what the commands print */
void	 show_status(json_t *, json_t *);
void	 show_forwards(json_t *);
void	 show_reaches(json_t *);
void	 show_policy(json_t *);
void	 show_event(json_t *);

#endif
