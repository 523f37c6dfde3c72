/*
 * Unit tests for the unidentified-connection caps of host-agent/
 * listener.c: --max-unidentified counts per peer (a vsock CID on a
 * vsock endpoint, the endpoint itself for a Unix one), so that one guest
 * at its cap shuts no other out; --max-unidentified-total bounds them
 * all.  The end-to-end form (t_budgets) needs a peer per endpoint, since
 * over vsock_loopback every peer is CID 1; here CIDs are given directly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "xmalloc.h"

struct host	*host;

static struct guest_ep	shared, other;

static void
setup(void)
{
	host = xcalloc(1, sizeof *host);
	limits_init(host->limits);
	host->limits[LIMIT_UNIDENTIFIED] = 3;
	host->limits[LIMIT_UNIDENTIFIED_ALL] = 8;
	memset(&shared, 0, sizeof shared);
	memset(&other, 0, sizeof other);
	strlcpy(shared.ep.str, "vsock:6440", sizeof shared.ep.str);
	strlcpy(other.ep.str, "unix:/run/fc/v.sock_6440",
	    sizeof other.ep.str);
}

static void
teardown(void)
{
	free(host);
	host = NULL;
}

/* n connections from one peer: how many were admitted. */
static int
admit(const struct guest_ep *gep, uint32_t cid, int n)
{
	int	i, got = 0;

	for (i = 0; i < n; i++)
		if (listener_peer_admit(gep, cid) == 0)
			got++;
	return got;
}

static void
release(const struct guest_ep *gep, uint32_t cid, int n)
{
	while (n-- > 0)
		listener_peer_release(gep, cid);
}

/* CID 3 at its cap on a shared endpoint; CID 4 gets its own three. */
START_TEST(test_per_cid)
{
	ck_assert_int_eq(admit(&shared, 3, 10), 3);
	ck_assert_uint_eq(host->limit_hits[LIMIT_UNIDENTIFIED], 7);
	ck_assert_int_eq(admit(&shared, 4, 3), 3);
	ck_assert_int_eq(admit(&shared, 3, 1), 0);
	/* One of CID 3's gets its first frame: it may open one more. */
	release(&shared, 3, 1);
	ck_assert_int_eq(admit(&shared, 3, 2), 1);
	ck_assert_uint_eq(host->limit_hits[LIMIT_UNIDENTIFIED_ALL], 0);
	release(&shared, 3, 3);
	release(&shared, 4, 3);
}
END_TEST

/* The same CID on another endpoint is another peer. */
START_TEST(test_per_endpoint)
{
	ck_assert_int_eq(admit(&shared, 3, 5), 3);
	ck_assert_int_eq(admit(&other, 0, 5), 3);
	ck_assert_int_eq(admit(&other, 3, 1), 1);
	release(&shared, 3, 3);
	release(&other, 0, 3);
	release(&other, 3, 1);
}
END_TEST

/* The total: eight over every peer, whatever each peer's own count. */
START_TEST(test_total)
{
	ck_assert_int_eq(admit(&shared, 3, 3), 3);
	ck_assert_int_eq(admit(&shared, 4, 3), 3);
	ck_assert_int_eq(admit(&shared, 5, 3), 2);
	ck_assert_uint_eq(host->limit_hits[LIMIT_UNIDENTIFIED_ALL], 1);
	ck_assert_int_eq(admit(&shared, 6, 1), 0);
	release(&shared, 4, 3);
	ck_assert_int_eq(admit(&shared, 6, 3), 3);
	release(&shared, 3, 3);
	release(&shared, 5, 2);
	release(&shared, 6, 3);
	/* All released: a peer starts again from none. */
	ck_assert_int_eq(admit(&shared, 3, 5), 3);
	release(&shared, 3, 3);
}
END_TEST

static Suite *
peers_suite(void)
{
	Suite	*s = suite_create("peers");
	TCase	*tc = tcase_create("caps");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_per_cid);
	tcase_add_test(tc, test_per_endpoint);
	tcase_add_test(tc, test_total);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(peers_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
