/* li707-lea Model A/C retrieval (src/lea/lea_fetch.c): the worker's choices, table-driven -
 * which model an object gets (TS 103 707 C.4: the LEA chooses for the type and size) and how
 * many connections it may take (R-BIN-2: a large object never holds all connections to a
 * peer, a small one always finds one). The transfers themselves are tested against nginx in
 * tests/integration/test_lea_fetch.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "lea.h"

#define MIB ((int64_t)1 << 20)

static void test_bin_c4_model_choice(void **state)
{
	(void)state;
	static const struct {
		unsigned models;
		uint64_t above;
		int64_t length;
		char want;
	} t[] = {
		{LEA_MODEL_A | LEA_MODEL_C, 16 * MIB, 10, 'A'},
		{LEA_MODEL_A | LEA_MODEL_C, 16 * MIB, 16 * MIB, 'A'},     /* up to and including */
		{LEA_MODEL_A | LEA_MODEL_C, 16 * MIB, 16 * MIB + 1, 'C'},
		{LEA_MODEL_A | LEA_MODEL_C, 16 * MIB, -1, 'C'},           /* unknown size: ranges */
		{LEA_MODEL_A | LEA_MODEL_C, 0, 1, 'C'},
		{LEA_MODEL_A | LEA_MODEL_C, 0, 0, 'A'},
		{LEA_MODEL_A, 16 * MIB, 1 << 30, 'A'},                   /* only one agreed */
		{LEA_MODEL_C, 16 * MIB, 10, 'C'},
		{LEA_MODEL_A | LEA_MODEL_B, 0, 1 << 30, 'A'},
		{LEA_MODEL_B | LEA_MODEL_C, 1 << 30, 1, 'C'},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct lea_peer p = {.models = t[i].models, .model_c_above = t[i].above};
		char got = lea__fetch_model(&p, t[i].length);
		if (got != t[i].want)
			print_error("case %zu: expected %c, got %c\n", i, t[i].want, got);
		assert_int_equal(got, t[i].want);
	}
}

static void test_bin_2_connections(void **state)
{
	(void)state;
	static const struct {
		unsigned limit, parallel;
		char model;
		int64_t length;
		unsigned used, used_large, want;
	} t[] = {
		/* small objects: one connection whenever one is free */
		{4, 2, 'A', 10, 0, 0, 1},
		{4, 2, 'A', 10, 3, 3, 1}, /* large ones hold 3 of 4: the 4th is the small one's */
		{4, 2, 'A', 10, 4, 3, 0},
		/* large objects: at most limit - 1 together */
		{4, 2, 'C', 100 * MIB, 0, 0, 2},
		{4, 4, 'C', 100 * MIB, 0, 0, 3},
		{4, 2, 'C', 100 * MIB, 2, 2, 1},
		{4, 2, 'C', 100 * MIB, 3, 3, 0},
		{4, 2, 'C', -1, 3, 3, 0},     /* unknown size counts as large */
		{4, 2, 'C', 100 * MIB, 1, 0, 2}, /* a small one runs: still room */
		{4, 2, 'C', 100 * MIB, 3, 0, 1},
		{2, 8, 'C', 100 * MIB, 0, 0, 1},
		{2, 8, 'C', 100 * MIB, 1, 1, 0},
		{1, 2, 'C', 100 * MIB, 0, 0, 1}, /* one connection in all: it must be shared */
		{1, 2, 'A', 10, 1, 1, 0},
		/* a Model C object under model_c_above (peer agreed C only): not large */
		{4, 2, 'C', 10, 3, 3, 1},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct lea_peer p = {.models = LEA_MODEL_A | LEA_MODEL_C, .model_c_above = 16 * MIB,
				     .fetch_connections = t[i].limit, .fetch_parallel = t[i].parallel};
		unsigned got = lea__fetch_conns(&p, t[i].model, t[i].length, t[i].used,
						t[i].used_large);
		if (got != t[i].want)
			print_error("case %zu: expected %u, got %u\n", i, t[i].want, got);
		assert_int_equal(got, t[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bin_c4_model_choice),
		cmocka_unit_test(test_bin_2_connections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
