/*
 * Unit tests for host-agent/policy_parse.c and policy_file.c: a good
 * file parsed field by field, every error message the parser has with
 * its line number, printing that parses back to itself, and the file
 * checks (size, kind, the lock's ownership and permission rules).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

struct host	*host;

static char	errs[POLICY_ERRORS_MAX * 700];

static struct policy_file *
parse(const char *text)
{
	return policy_parse("p", text, strlen(text), errs, sizeof errs);
}

static const char good[] =
    "# an administrator's policy\n"
    "mode refuse\n"
    "lock\n"
    "max-forwards 10\n"
    "max-connections 100   # per guest, at once\n"
    "\n"
    "refuse tcp port 22\n"
    "refuse any port 1-1023\n"
    "allow tcp port 3000-3999\n"
    "loopback udp port 5353\n"
    "remap tcp port 8080 to 18080\n"
    "remap tcp port 9000-9099 to auto\n"
    "allow  any\tport 80,443,8000-8099 from 10.0.0.0/8\n"
    "allow tcp port 7000-7009 to 17000-17009 from ::\n"
    "loopback tcp port 6000 from wildcard\n"
    "loopback tcp port 6001 from loopback\r\n"
    "guest \"dev-*\" {\n"
    "\tmax-forwards 50\n"
    "\tallow tcp port 1-65535 from fd00::/8\n"
    "}\n"
    "guest cid:3{\n"
    "  refuse udp port 53\n"
    "  max-connections 2\n"
    "}\n"
    "guest unix:/run/fc/v.sock_6440 {\n"
    "}\n"
    "guest vsock:6440 { # a comment\n"
    "allow tcp port 1\n"
    "}";		/* no newline at the end */

START_TEST(test_good)
{
	struct policy_file		*pf = parse(good);
	const struct policy_rule	*r;

	ck_assert_msg(pf != NULL, "errors: %s", errs);
	ck_assert_str_eq(errs, "");
	ck_assert_int_eq(pf->mode, POLICY_REFUSE);
	ck_assert_int_eq(pf->mode_line, 2);
	ck_assert_int_eq(pf->lock_line, 3);
	ck_assert_int_eq(pf->locked, 0);	/* only policy_load checks */
	ck_assert_uint_eq(pf->limits.max_forwards, 10);
	ck_assert_int_eq(pf->limits.forwards_line, 4);
	ck_assert_uint_eq(pf->limits.max_conns, 100);
	ck_assert_int_eq(pf->limits.conns_line, 5);
	ck_assert_int_eq(pf->nrules, 13);
	ck_assert_int_eq(pf->nguests, 4);

	r = &pf->rules[0];
	ck_assert_int_eq(r->line, 7);
	ck_assert_int_eq(r->action, ACTION_REFUSE);
	ck_assert_int_eq(r->proto, IPPROTO_TCP);
	ck_assert_int_eq(r->nports, 1);
	ck_assert_int_eq(r->ports[0].lo, 22);
	ck_assert_int_eq(r->ports[0].hi, 22);
	ck_assert_int_eq(r->from, FROM_ANY);
	ck_assert_int_eq(r->to, TO_SAME);
	ck_assert_int_eq(r->guest, -1);
	ck_assert_int_eq(pf->rules[1].proto, 0);
	ck_assert_int_eq(pf->rules[3].proto, IPPROTO_UDP);
	ck_assert_int_eq(pf->rules[3].action, ACTION_LOOPBACK);

	r = &pf->rules[4];
	ck_assert_int_eq(r->action, ACTION_REMAP);
	ck_assert_int_eq(r->to, TO_PORT);
	ck_assert_int_eq(r->to_port, 18080);
	ck_assert_int_eq(pf->rules[5].to, TO_AUTO);

	r = &pf->rules[6];
	ck_assert_int_eq(r->nports, 3);
	ck_assert_int_eq(r->ports[2].lo, 8000);
	ck_assert_int_eq(r->ports[2].hi, 8099);
	ck_assert_int_eq(r->from, FROM_NET);
	ck_assert_int_eq(r->prefix, 8);
	ck_assert_int_eq(r->net.family, AF_INET);
	ck_assert_str_eq(r->text, "allow any port 80,443,8000-8099 from "
	    "10.0.0.0/8");

	r = &pf->rules[7];
	ck_assert_str_eq(r->text, "allow tcp port 7000-7009 from :: to "
	    "17000-17009");
	ck_assert_int_eq(r->prefix, 128);
	ck_assert_int_eq(pf->rules[8].from, FROM_WILDCARD);
	ck_assert_int_eq(pf->rules[9].from, FROM_LOOPBACK);

	ck_assert_int_eq(pf->guests[0].kind, GUEST_NAME);
	ck_assert_str_eq(pf->guests[0].pattern, "dev-*");
	ck_assert_int_eq(pf->guests[0].line, 17);
	ck_assert_uint_eq(pf->guests[0].limits.max_forwards, 50);
	ck_assert_int_eq(pf->rules[10].guest, 0);
	ck_assert_int_eq(pf->rules[10].line, 19);
	ck_assert_int_eq(pf->guests[1].kind, GUEST_CID);
	ck_assert_uint_eq(pf->guests[1].cid, 3);
	ck_assert_uint_eq(pf->guests[1].limits.max_conns, 2);
	ck_assert_int_eq(pf->rules[11].guest, 1);
	ck_assert_int_eq(pf->guests[2].kind, GUEST_ENDPOINT);
	ck_assert_str_eq(pf->guests[2].pattern, "unix:/run/fc/v.sock_6440");
	ck_assert_str_eq(pf->guests[3].pattern, "vsock:6440");
	ck_assert_int_eq(pf->rules[12].guest, 3);
	policy_file_free(pf);
}
END_TEST

/* An empty file, and one of comments, are the default policy. */
START_TEST(test_empty)
{
	struct policy_file	*pf;

	pf = parse("");
	ck_assert_ptr_nonnull(pf);
	ck_assert_int_eq(pf->mode, POLICY_LOOPBACK);
	ck_assert_int_eq(pf->mode_line, 0);
	ck_assert_int_eq(pf->nrules, 0);
	policy_file_free(pf);
	pf = parse("# nothing\n\n   \t\n# at all\n");
	ck_assert_ptr_nonnull(pf);
	ck_assert_int_eq(pf->nrules, 0);
	policy_file_free(pf);
}
END_TEST

static char *
print_to_string(const struct policy_file *pf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	policy_print(fp, pf);
	fclose(fp);
	return buf;
}

/* key FILE: kept as a path (read later, policy_file.c), printed back. */
START_TEST(test_key_line)
{
	struct policy_file	*pf = parse("guest a {\n\tkey /etc/k\n}\n"
				    "guest b {\n}\n"), *again;
	char			*text;

	ck_assert_ptr_nonnull(pf);
	ck_assert_int_eq(pf->guests[0].key_line, 2);
	ck_assert_str_eq(pf->guests[0].key_path, "/etc/k");
	ck_assert_int_eq(pf->guests[1].key_line, 0);
	text = print_to_string(pf);
	ck_assert_ptr_nonnull(strstr(text, "key \"/etc/k\""));
	again = parse(text);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(again->guests[0].key_path, "/etc/k");
	free(text);
	policy_file_free(pf);
	policy_file_free(again);
}
END_TEST

/* -n prints the policy as a file that parses to the same policy. */
START_TEST(test_print_parses_back)
{
	struct policy_file	*pf = parse(good), *again;
	char			*once, *twice;
	int			 i;

	ck_assert_ptr_nonnull(pf);
	once = print_to_string(pf);
	again = parse(once);
	ck_assert_msg(again != NULL, "printed policy does not parse: %s\n%s",
	    errs, once);
	ck_assert_int_eq(again->nrules, pf->nrules);
	ck_assert_int_eq(again->nguests, pf->nguests);
	ck_assert_int_eq(again->mode, pf->mode);
	for (i = 0; i < pf->nrules; i++) {
		ck_assert_str_eq(again->rules[i].text, pf->rules[i].text);
		ck_assert_int_eq(again->rules[i].guest, pf->rules[i].guest);
	}
	for (i = 0; i < pf->nguests; i++)
		ck_assert_str_eq(again->guests[i].pattern,
		    pf->guests[i].pattern);
	twice = print_to_string(again);
	/* Line numbers differ; the directives do not. */
	ck_assert_ptr_nonnull(strstr(once, "remap tcp port 8080 to 18080 "));
	ck_assert_ptr_nonnull(strstr(twice, "remap tcp port 8080 to 18080 "));
	ck_assert_ptr_nonnull(strstr(once, "guest \"cid:3\" {"));
	free(once);
	free(twice);
	policy_file_free(pf);
	policy_file_free(again);
}
END_TEST

/*
 * Every error the parser reports, with its line.  Each file is bad in
 * one way on its last line, after good lines, so that the line number
 * is tested too.
 */
static const struct bad_case {
	const char	*text;
	const char	*errs;
} bad_cases[] = {
	{ "mode\n", "p:1: mode: expected loopback, refuse or allow\n" },
	{ "\nmode open\n",
	  "p:2: mode: expected loopback, refuse or allow, not \"open\"\n" },
	{ "mode allow\nmode refuse\n",
	  "p:2: mode given twice (first at line 1)\n" },
	{ "mode allow refuse\n",
	  "p:1: mode: expected loopback, refuse or allow, not \"allow\"\n" },
	{ "lock\n# again\nlock\n",
	  "p:3: lock given twice (first at line 1)\n" },
	{ "lock please\n", "p:1: lock: unexpected \"please\"\n" },
	{ "max-forwards\n",
	  "p:1: max-forwards: expected a number from 1 to 1000000\n" },
	{ "max-forwards 0\n", "p:1: max-forwards: expected a number from 1 "
	  "to 1000000, not \"0\"\n" },
	{ "max-connections 1000001\n", "p:1: max-connections: expected a "
	  "number from 1 to 1000000, not \"1000001\"\n" },
	{ "max-connections -1\n", "p:1: max-connections: expected a number "
	  "from 1 to 1000000, not \"-1\"\n" },
	{ "max-forwards 5 6\n", "p:1: max-forwards: expected a number from 1 "
	  "to 1000000, not \"5\"\n" },
	{ "max-forwards 5\nmax-forwards 6\n",
	  "p:2: max-forwards given twice (first at line 1)\n" },
	{ "guest a {\nmax-connections 5\nmax-connections 5\n}\n",
	  "p:3: max-connections given twice (first at line 2)\n" },
	{ "max-udp-buffer 1073741825\n", "p:1: max-udp-buffer: expected a "
	  "number from 1 to 1073741824, not \"1073741825\"\n" },
	{ "guest a {\nmax-udp-buffer 5\nmax-udp-buffer 5\n}\n",
	  "p:3: max-udp-buffer given twice (first at line 2)\n" },
	{ "key /k\n", "p:1: key belongs in a guest block (porthole-host -K "
	  "gives one for every guest)\n" },
	{ "guest a {\nkey k\n}\n", "p:2: key: expected the absolute path "
	  "of a key file, shorter than 256 bytes\n" },
	{ "guest a {\nkey\n}\n", "p:2: key: expected the absolute path "
	  "of a key file, shorter than 256 bytes\n" },
	{ "guest a {\nkey /a /b\n}\n", "p:2: key: expected the absolute "
	  "path of a key file, shorter than 256 bytes\n" },
	{ "guest a {\nkey /a\nkey /a\n}\n",
	  "p:3: key given twice in this block (first at line 2)\n" },
	{ "loopback unix docker\n", "p:1: loopback unix: a guest socket is "
	  "allowed or refused, nothing else\n" },
	{ "allow unix\n", "p:1: allow unix: expected one name pattern\n" },
	{ "allow unix a b\n", "p:1: allow unix: expected one name pattern, "
	  "and nothing after it\n" },
	{ "refuse unix ../x\n", "p:1: refuse unix: bad name pattern "
	  "\"../x\": starts with '.' or '-'\n" },
	{ "refuse unix a/b\n", "p:1: refuse unix: bad name pattern "
	  "\"a/b\": holds '/'\n" },
	{ "deny tcp port 22\n", "p:1: unknown directive \"deny\"\n" },
	{ "Allow tcp port 22\n", "p:1: unknown directive \"Allow\"\n" },
	{ "allow\n", "p:1: allow: expected tcp, udp, any or unix\n" },
	{ "allow sctp port 1\n",
	  "p:1: allow: expected tcp, udp, any or unix, not \"sctp\"\n" },
	{ "refuse tcp 22\n", "p:1: refuse tcp: expected \"port\" and a port, "
	  "a range or a list\n" },
	{ "refuse tcp port\n", "p:1: refuse tcp: expected \"port\" and a "
	  "port, a range or a list\n" },
	{ "refuse tcp port \"\"\n",
	  "p:1: port: expected a port, a range or a list\n" },
	{ "allow tcp port 0\n",
	  "p:1: port: \"0\" is not a port (1-65535) or a range of them\n" },
	{ "allow tcp port 65536\n",
	  "p:1: port: \"65536\" is not a port (1-65535) or a range of them\n" },
	{ "allow tcp port +80\n",
	  "p:1: port: \"+80\" is not a port (1-65535) or a range of them\n" },
	{ "allow tcp port 80-\n",
	  "p:1: port: \"80-\" is not a port (1-65535) or a range of them\n" },
	{ "allow tcp port 1-2-3\n",
	  "p:1: port: \"1-2-3\" is not a port (1-65535) or a range of them\n" },
	{ "allow tcp port 12345678901234567890123456789012345\n",
	  "p:1: port: \"12345678901234567890123456789012345...\" is not a "
	  "port or a range\n" },
	{ "allow tcp port 20-10\n", "p:1: port: range 20-10 is backwards\n" },
	{ "allow tcp port 1,,2\n", "p:1: port list \"1,,2\" has an empty "
	  "item\n" },
	{ "allow tcp port ,1\n", "p:1: port list \",1\" has an empty item\n" },
	{ "allow tcp port 1,\n", "p:1: port list \"1,\" has an empty item\n" },
	{ "allow tcp port 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
	  "p:1: port list has more than 16 items\n" },
	{ "allow tcp port 80 via 10.0.0.1\n",
	  "p:1: unexpected \"via\": expected from or to\n" },
	{ "allow tcp port 80 from\n", "p:1: from: expected an address\n" },
	{ "allow tcp port 80 to\n",
	  "p:1: to: expected a port, a range or auto\n" },
	{ "allow tcp port 80 from ::1 from ::1\n", "p:1: from given twice\n" },
	{ "allow tcp port 80 to 1 to 2\n", "p:1: to given twice\n" },
	{ "allow tcp port 80 from nowhere\n", "p:1: from: \"nowhere\" is not "
	  "an address, a CIDR, wildcard or loopback\n" },
	{ "allow tcp port 80 from 10.0.0.0/33\n",
	  "p:1: from: prefix length \"/33\" is not 0-32\n" },
	{ "allow tcp port 80 from fd00::/129\n",
	  "p:1: from: prefix length \"/129\" is not 0-128\n" },
	{ "allow tcp port 80 from 10.0.0.0/\n",
	  "p:1: from: prefix length \"/\" is not 0-32\n" },
	{ "allow tcp port 80 from 10.0.0.1/8\n",
	  "p:1: from: 10.0.0.1/8 has bits set beyond the prefix length\n" },
	{ "allow tcp port 80 from 0.0.0.1/0\n",
	  "p:1: from: 0.0.0.1/0 has bits set beyond the prefix length\n" },
	{ "allow tcp port 80 from "
	  "1234:1234:1234:1234:1234:1234:1234:1234:1234:1234:1234:1234\n",
	  "p:1: from: \"1234:1234:1234:1234:1234:1234:1234:1234:1234:1234:"
	  "1234:1234\" is not an address, a CIDR, wildcard or loopback\n" },
	{ "refuse tcp port 22 to 80\n", "p:1: refuse: a refused bind has no "
	  "host port, \"to\" makes no sense\n" },
	{ "remap tcp port 80\n",
	  "p:1: remap: expected \"to PORT\" or \"to auto\"\n" },
	{ "remap tcp port 80 from ::\n",
	  "p:1: remap: expected \"to PORT\" or \"to auto\"\n" },
	{ "remap tcp port 80,81 to 8080\n", "p:1: to 8080: needs a single "
	  "port or range after port, not a list\n" },
	{ "remap tcp port 80-89 to 8080-8085\n",
	  "p:1: to: range 8080-8085 has 6 ports, port 80-89 has 10\n" },
	{ "remap tcp port 80 to 8080-8081\n",
	  "p:1: to: range 8080-8081 has 2 ports, port 80-80 has 1\n" },
	{ "remap tcp port 65530-65535 to 65534\n",
	  "p:1: to: 65534-65539 goes beyond port 65535\n" },
	{ "remap tcp port 80 to 0\n",
	  "p:1: to: \"0\" is not a port (1-65535) or a range of them\n" },
	{ "remap tcp port 80 to any\n",
	  "p:1: to: \"any\" is not a port (1-65535) or a range of them\n" },
	{ "guest\n", "p:1: guest: expected a name, cid:N or an endpoint, then "
	  "{\n" },
	{ "guest a\n", "p:1: guest: expected a name, cid:N or an endpoint, "
	  "then {\n" },
	{ "guest a { b\n", "p:1: guest: expected a name, cid:N or an "
	  "endpoint, then {\n" },
	{ "guest cid:x {\n}\n", "p:1: guest cid:x: the CID is not a number "
	  "from 1 to 4294967294\n"
	  "p:2: } without a guest block\n" },
	{ "guest cid:0 {\n}\n", "p:1: guest cid:0: the CID is not a number "
	  "from 1 to 4294967294\n"
	  "p:2: } without a guest block\n" },
	{ "guest cid:4294967295 {\n}\n", "p:1: guest cid:4294967295: the CID "
	  "is not a number from 1 to 4294967294\n"
	  "p:2: } without a guest block\n" },
	{ "guest unix:rel {\n}\n", "p:1: guest unix:rel: the socket path "
	  "must be absolute\n"
	  "p:2: } without a guest block\n" },
	{ "guest vsock:x {\n}\n", "p:1: guest vsock:x: vsock port \"x\" is "
	  "not a number\n"
	  "p:2: } without a guest block\n" },
	{ "guest \"\" {\n}\n", "p:1: guest: a name is 1 to 63 characters\n"
	  "p:2: } without a guest block\n" },
	{ "guest a {\nguest b {\n}\n", "p:2: guest blocks do not nest: the "
	  "block from line 1 is still open\n" },
	{ "guest a {\nmode allow\n}\n", "p:2: mode applies to every guest: not "
	  "inside a guest block (from line 1)\n" },
	{ "guest a {\nlock\n}\n", "p:2: lock applies to every guest: not "
	  "inside a guest block (from line 1)\n" },
	{ "guest a {\n", "p:1: the guest block from line 1 is not closed with "
	  "}\n" },
	{ "guest a {\nallow tcp port 1\n\n",
	  "p:3: the guest block from line 1 is not closed with }\n" },
	{ "}\n", "p:1: } without a guest block\n" },
	{ "guest a {\n} }\n", "p:2: }: unexpected \"}\"\n" },
	{ "guest a {\n} x\nallow tcp port 1 x\n", "p:2: }: unexpected \"x\"\n"
	  "p:3: unexpected \"x\": expected from or to\n" },
	{ "{\n", "p:1: { must end a line that starts with guest\n" },
	{ "allow tcp port 1 \"x\"y\n",
	  "p:1: a quoted word must end at a blank\n" },
	{ "allow tcp port 1 x\"y\"\n", "p:1: a quote must start a word\n" },
	{ "guest \"a {\n", "p:1: unterminated quoted word\n" },
	{ "guest \"a\tb\" {\n", "p:1: a quoted word holds a tab or a carriage "
	  "return\n" },
	{ "guest \"a\r\" {\n", "p:1: a quoted word holds a tab or a carriage "
	  "return\n" },
	{ "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 "
	  "7\n", "p:1: more than 32 words on a line\n" },
	{ "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 "
	  "6{\n", "p:1: more than 32 words on a line\n" },
	{ "allow tcp port 1\x01\n",
	  "p:1: byte 0x01 is not printable ASCII\n" },
	{ "allow tcp port 1\x7f\n",
	  "p:1: byte 0x7f is not printable ASCII\n" },
	{ "allow tcp port 1 \xc3\xa9\n",
	  "p:1: byte 0xc3 is not printable ASCII\n" },
	{ "mode allow\n\n\x1b[31m\n", "p:3: byte 0x1b is not printable "
	  "ASCII\n" },
	{ "reach\n", "p:1: reach: expected DEST [as GUEST-SIDE]\n" },
	{ "reach 127.0.0.1:80 to 8080\n",
	  "p:1: reach: expected DEST [as GUEST-SIDE]\n" },
	{ "reach 127.0.0.1:80\n", "p:1: reach: 127.0.0.1:80: give the guest "
	  "a port of 1024 or more (DEST=PORT, or \"as PORT\")\n" },
	{ "reach 0.0.0.0:5432\n", "p:1: reach: \"0.0.0.0:5432\" is neither "
	  "ADDRESS:PORT ([IPv6]:PORT) nor an absolute socket path\n" },
	{ "reach ::1:5432\n", "p:1: reach: \"::1:5432\" is neither "
	  "ADDRESS:PORT ([IPv6]:PORT) nor an absolute socket path\n" },
	{ "reach host:5432\n", "p:1: reach: \"host:5432\" is neither "
	  "ADDRESS:PORT ([IPv6]:PORT) nor an absolute socket path\n" },
	{ "reach 127.0.0.1:5432 as 80\n", "p:1: reach: guest side \"80\": "
	  "too small (ports 1024 to 65535, on loopback)\n" },
	{ "reach 127.0.0.1:5432 as 10.0.0.1:5432\n", "p:1: reach: guest side "
	  "\"10.0.0.1:5432\": not a loopback address of the guest (ports "
	  "1024 to 65535, on loopback)\n" },
	{ "reach /run/a.sock as ../x\n", "p:1: reach: \"../x\": neither a "
	  "port, a loopback ADDRESS:PORT nor a socket name (starts with '.' "
	  "or '-')\n" },
	{ "reach /run/.hidden.sock\n", "p:1: reach: /run/.hidden.sock: its "
	  "file's name cannot name the guest's socket: give one (DEST=NAME, "
	  "or \"as NAME\")\n" },
	/* Digits alone would read back as a port (found by fuzz_policy). */
	{ "reach /5\n", "p:1: reach: /5: its file's name cannot name the "
	  "guest's socket: give one (DEST=NAME, or \"as NAME\")\n" },
	{ "reach /run/12.sock\n", "p:1: reach: /run/12.sock: its file's name "
	  "cannot name the guest's socket: give one (DEST=NAME, or \"as "
	  "NAME\")\n" },
	{ "reach 127.0.0.1:5432\nreach 127.0.0.2:5432 as 5432\n",
	  "p:2: reach: the guest side is line 1's already\n" },
	/* Several errors: all are reported, each with its line. */
	{ "mode x\nlock\nlock\nallow tcp port 0\nguest a {\n",
	  "p:1: mode: expected loopback, refuse or allow, not \"x\"\n"
	  "p:3: lock given twice (first at line 2)\n"
	  "p:4: port: \"0\" is not a port (1-65535) or a range of them\n"
	  "p:5: the guest block from line 5 is not closed with }\n" },
};
#define NBAD_CASES	(sizeof bad_cases / sizeof bad_cases[0])

START_TEST(test_bad)
{
	const struct bad_case	*c = &bad_cases[_i];
	struct policy_file	*pf;

	pf = parse(c->text);
	ck_assert_msg(pf == NULL, "case %d parsed: %s", _i, c->text);
	ck_assert_msg(strcmp(errs, c->errs) == 0, "case %d:\n%s\ngot:\n%s"
	    "want:\n%s", _i, c->text, errs, c->errs);
}
END_TEST

/*
 * reach lines: a destination and the guest's side, by default DEST's
 * port on 127.0.0.1 or the socket file's name; per guest block, where
 * the same side may appear again for another block.
 */
START_TEST(test_reach_lines)
{
	struct policy_file	*pf;
	struct reach_entry	*e;
	char			 a[PH_ADDRSTRLEN];

	pf = parse("reach 127.0.0.1:5432\n"
	    "reach [::1]:6379 as [::1]:16379\n"
	    "guest vm {\n"
	    "\treach /run/user/1000/ssh-agent.sock\n"
	    "\treach 127.0.0.1:5432 as 5432\n"
	    "\treach /tmp/x as agent-2\n"
	    "}\n");
	ck_assert_msg(pf != NULL, "%s", errs);
	ck_assert_int_eq(pf->nreaches, 5);
	e = &pf->reaches[0];
	ck_assert_int_eq(e->guest, -1);
	ck_assert_int_eq(e->dest_kind, IPPROTO_TCP);
	ck_assert_int_eq(e->side.kind, IPPROTO_TCP);
	ck_assert_str_eq(addr_ntop(&e->side.addr, a, sizeof a), "127.0.0.1");
	ck_assert_uint_eq(e->side.port, 5432);
	ck_assert_str_eq(e->text, "reach 127.0.0.1:5432 as 127.0.0.1:5432");
	ck_assert_str_eq(pf->reaches[1].text,
	    "reach [::1]:6379 as [::1]:16379");
	e = &pf->reaches[2];
	ck_assert_int_eq(e->guest, 0);
	ck_assert_int_eq(e->dest_kind, PH_KIND_UNIX);
	ck_assert_str_eq(e->dest_path, "/run/user/1000/ssh-agent.sock");
	ck_assert_int_eq(e->side.kind, PH_KIND_UNIX);
	ck_assert_str_eq(e->side.name, "ssh-agent");
	ck_assert_int_eq(pf->reaches[3].line, 5);
	ck_assert_str_eq(pf->reaches[4].side.name, "agent-2");
	policy_file_free(pf);
}
END_TEST

/* Comments, quotes and braces: where they may go. */
START_TEST(test_words)
{
	struct policy_file	*pf;

	pf = parse("allow tcp port 1#comment\n"
	    "guest \"a b # c\"{\n"
	    "allow tcp port 2}\n"		/* not a closing brace line */
	    "}\n");
	ck_assert_ptr_null(pf);
	ck_assert_str_eq(errs,
	    "p:3: unexpected \"}\": expected from or to\n");
	pf = parse("allow tcp port 1#comment\n"
	    "guest \"a b # c\"{ # the name has blanks\n"
	    "allow tcp port 2\n"
	    "}# done\n");
	ck_assert_msg(pf != NULL, "%s", errs);
	ck_assert_str_eq(pf->guests[0].pattern, "a b # c");
	ck_assert_int_eq(pf->nrules, 2);
	policy_file_free(pf);
}
END_TEST

/* Bounds: a line, the rules, the guest blocks, the errors, the file. */
START_TEST(test_bounds)
{
	struct policy_file	*pf;
	char			*buf, *p, want[64];
	size_t			 len = POLICY_FILE_MAX + 2;
	int			 i;

	buf = calloc(1, len);
	ck_assert_ptr_nonnull(buf);
	memset(buf, ' ', POLICY_LINE_MAX);	/* 1024 blanks: a good line */
	memcpy(buf + POLICY_LINE_MAX, "\n", 2);
	pf = parse(buf);
	ck_assert_msg(pf != NULL, "%s", errs);
	policy_file_free(pf);
	memset(buf, ' ', POLICY_LINE_MAX + 1);
	memcpy(buf + POLICY_LINE_MAX + 1, "\n", 2);
	ck_assert_ptr_null(parse(buf));
	ck_assert_str_eq(errs, "p:1: line longer than 1024 bytes\n");

	for (p = buf, i = 0; i <= POLICY_RULES_MAX; i++)
		p += sprintf(p, "allow tcp port %d\n", i % 65535 + 1);
	ck_assert_ptr_null(parse(buf));
	snprintf(want, sizeof want, "p:%d: more than %d rules\n",
	    POLICY_RULES_MAX + 1, POLICY_RULES_MAX);
	ck_assert_str_eq(errs, want);

	for (p = buf, i = 0; i <= POLICY_GUESTS_MAX; i++)
		p += sprintf(p, "guest g%d {\n}\n", i);
	ck_assert_ptr_null(parse(buf));
	ck_assert_str_eq(errs, "p:513: more than 256 guest blocks\n"
	    "p:514: } without a guest block\n");

	for (p = buf, i = 0; i < 30; i++)
		p += sprintf(p, "nonsense\n");
	ck_assert_ptr_null(parse(buf));
	ck_assert_ptr_nonnull(strstr(errs, "p:20: unknown directive "
	    "\"nonsense\"\np: too many errors, stopping\n"));
	ck_assert_ptr_null(strstr(errs, "p:21:"));

	memset(buf, '#', POLICY_FILE_MAX + 1);	/* comment lines */
	for (i = 100; i < POLICY_FILE_MAX; i += 100)
		buf[i] = '\n';
	ck_assert_ptr_null(policy_parse("p", buf, POLICY_FILE_MAX + 1, errs,
	    sizeof errs));
	ck_assert_str_eq(errs, "p: larger than 1048576 bytes\n");
	pf = policy_parse("p", buf, POLICY_FILE_MAX, errs, sizeof errs);
	ck_assert_msg(pf != NULL, "%s", errs);
	policy_file_free(pf);
	free(buf);
}
END_TEST

static char	tmpdir[] = "/tmp/check_policy_parse.XXXXXX";

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char	path[256];
	int		fd;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/*
 * lock is honoured only in a file that root owns and neither group nor
 * others may write.  As root, the test makes such files and others.
 */
START_TEST(test_lock_permissions)
{
	static const struct {
		uid_t		 uid;
		mode_t		 mode;
		int		 locked;
		const char	*why;
	} cases[] = {
		{ 0, 0644, 1, "" },
		{ 0, 0600, 1, "" },
		{ 0, 0444, 1, "" },
		{ 0, 0664, 0,
		    "not honoured: the file is writable by its group" },
		{ 0, 0646, 0, "not honoured: the file is writable by others" },
		{ 0, 0666, 0, "not honoured: the file is writable by others" },
		{ 65534, 0644, 0, "not honoured: the file is owned by uid "
		    "65534, not root" },
		{ 65534, 0400, 0, "not honoured: the file is owned by uid "
		    "65534, not root" },
	};
	struct policy_file	*pf;
	const char		*path;
	size_t			 i;

	if (geteuid() != 0) {
		fprintf(stderr, "test_lock_permissions: skipped, not root\n");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		path = write_file("policy", "mode refuse\nlock\n",
		    cases[i].mode);
		ck_assert_int_eq(chown(path, cases[i].uid, 0), 0);
		pf = policy_load(path, errs, sizeof errs);
		ck_assert_msg(pf != NULL, "%s", errs);
		ck_assert_msg(pf->locked == cases[i].locked, "uid %u mode %o: "
		    "locked %d", cases[i].uid, cases[i].mode, pf->locked);
		ck_assert_str_eq(pf->lock_why, cases[i].why);
		policy_file_free(pf);
	}
	/* No lock line: nothing to honour, whatever the file. */
	path = write_file("policy", "mode refuse\n", 0666);
	pf = policy_load(path, errs, sizeof errs);
	ck_assert_ptr_nonnull(pf);
	ck_assert_int_eq(pf->locked, 0);
	ck_assert_str_eq(pf->lock_why, "");
	policy_file_free(pf);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

START_TEST(test_load_errors)
{
	char		 want[512];
	const char	*path;
	char		*big;

	ck_assert_ptr_null(policy_load("/nonexistent/policy", errs,
	    sizeof errs));
	ck_assert_str_eq(errs, "/nonexistent/policy: No such file or "
	    "directory\n");
	ck_assert_ptr_null(policy_load("/tmp", errs, sizeof errs));
	ck_assert_str_eq(errs, "/tmp: not a regular file\n");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	big = malloc(POLICY_FILE_MAX + 2);
	memset(big, '#', POLICY_FILE_MAX + 1);
	big[POLICY_FILE_MAX + 1] = '\0';
	path = write_file("big", big, 0644);
	free(big);
	ck_assert_ptr_null(policy_load(path, errs, sizeof errs));
	snprintf(want, sizeof want, "%s: larger than 1048576 bytes\n", path);
	ck_assert_str_eq(errs, want);
	unlink(path);
	path = write_file("bad", "mode refuse\n\nallow tcp port x\n", 0644);
	ck_assert_ptr_null(policy_load(path, errs, sizeof errs));
	snprintf(want, sizeof want, "%s:3: port: \"x\" is not a port "
	    "(1-65535) or a range of them\n", path);
	ck_assert_str_eq(errs, want);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite	*s = suite_create("policy_parse");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_print_parses_back);
	tcase_add_test(tc, test_key_line);
	tcase_add_loop_test(tc, test_bad, 0, NBAD_CASES);
	tcase_add_test(tc, test_words);
	tcase_add_test(tc, test_reach_lines);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_test(tc, test_lock_permissions);
	tcase_add_test(tc, test_load_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(parse_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
