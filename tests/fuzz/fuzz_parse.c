/* Fuzz target: the Dockerfile parser, its dump, and the instruction layer
 * on whatever parses. Must never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "dockerfile/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berth_err *err = NULL;
	struct berth_df_ast ast;
	if (berth_df_parse((const char *)data, size, &ast, &err) == 0) {
		struct berth_buf out;
		berth_buf_init(&out, BERTH_BUF_UNLIMITED);
		berth_df_dump(&ast, &out);
		berth_buf_release(&out);
		berth_df_ast_release(&ast);
	}
	berth_err_free(err);
	err = NULL;

	struct berth_df_file f;
	if (berth_df_load((const char *)data, size, NULL, &f, &err) == 0) {
		json_t *j = berth_df_file_to_json(&f);
		json_decref(j);
		berth_df_file_release(&f);
	}
	berth_err_free(err);
	return 0;
}
