/*
 * Request bodies of the API, parsed with jansson.  Strict: a body is a
 * JSON object with exactly the fields a request takes, so that a typo is
 * an error rather than a silently ignored field.  Nothing here trusts
 * the bytes it is given (tests/fuzz/fuzz_api_body.c).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "host.h"

/*
 * s for an error message: printable ASCII only (jansson quotes the
 * bytes it trips on), and at most len - 1 bytes.
 */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* PUT /v1/policy: {"mode": "refuse" | "loopback" | "allow"} */
int
api_body_policy(const char *body, size_t len, enum policy_mode *mode,
    char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*root, *v, *m = NULL;
	const char	*key;
	char		 safe[33], text[JSON_ERROR_TEXT_LENGTH];
	int		 r = -1;

	if (len == 0) {
		snprintf(err, errlen, "no body: send {\"mode\": "
		    "\"refuse|loopback|allow\"}");
		return -1;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "body is not JSON: %s (line %d, "
		    "column %d)", printable(jerr.text, text, sizeof text),
		    jerr.line, jerr.column);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "body is not a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "mode") != 0) {
			snprintf(err, errlen, "unknown field \"%s\" (the body "
			    "takes \"mode\" only)", printable(key, safe,
			    sizeof safe));
			goto out;
		}
		m = v;
	}
	if (m == NULL)
		snprintf(err, errlen, "no \"mode\" in the body");
	else if (!json_is_string(m))
		snprintf(err, errlen, "\"mode\" is not a string");
	else if (policy_mode_parse(json_string_value(m), mode) == -1)
		snprintf(err, errlen, "unknown mode \"%s\": refuse, loopback "
		    "or allow", printable(json_string_value(m), safe,
		    sizeof safe));
	else
		r = 0;
out:
	json_decref(root);
	return r;
}
