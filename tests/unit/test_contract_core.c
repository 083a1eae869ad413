/* test_contract_core.c - the store contract, core part: open, reopen, and the backend's
   name, on both backends (test_contract.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_contract.h"

static void test_open_reopen(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_string_equal(fw_store_backend(s), c->pg ? "postgresql" : "sqlite");
	fw_store_close(s);
	s = contract_open(c); /* the schema is there: opened again, not created again */
	fw_store_close(s);
}

/* The transaction calls' states, the same on both backends. */
static void test_transactions(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_commit(s), -EINVAL);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_item_begin(s), -EINVAL);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_begin(s), -EINVAL);
	assert_int_equal(fw_store_set_synchronous(s, false), -EINVAL);
	assert_int_equal(fw_store_sync(s), 0); /* nothing to make durable */
	assert_int_equal(fw_store_item_begin(s), 0);
	assert_int_equal(fw_store_item_end(s, false), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_commit(s), -EINVAL);

	/* a poll alone is a lazy transaction of its own; inside a group, a savepoint */
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_begin(s), -EINVAL);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_poll_rollback(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_begin(s), 0);
	assert_int_equal(fw_store_item_end(s, true), 0);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(fw_store_set_synchronous(s, false), 0);
	assert_int_equal(fw_store_set_synchronous(s, true), 0);
	fw_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_reopen, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, contract_setup, contract_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
