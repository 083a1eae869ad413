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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_reopen, contract_setup, contract_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
