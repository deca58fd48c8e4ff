/* Fuzz target: apply arbitrary bytes as a layer (compression detected from
 * the magic bytes) into a fresh temporary root, which is then removed.
 * Must never crash, leak, or write outside the root. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tmpl[] = "/tmp/berth-fuzz-layer-XXXXXX";
	if (!mkdtemp(tmpl))
		return 0;
	int memfd = memfd_create("layer", MFD_CLOEXEC);
	int root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (memfd >= 0 && root >= 0 && write(memfd, data, size) == (ssize_t)size &&
	    lseek(memfd, 0, SEEK_SET) == 0) {
		struct berth_err *err = NULL;
		struct berth_layer_reader *r;
		if (berth_layer_reader_new(memfd, -1, &r, &err) == 0) {
			struct berth_apply_opts opts = {.keep_owners = false,
							.overlay_whiteouts = true};
			berth_layer_apply(r, root, &opts, &err);
			berth_layer_reader_free(r);
		}
		berth_err_free(err);
	}
	if (memfd >= 0)
		close(memfd);
	if (root >= 0)
		close(root);
	berth_fs_remove_tree(AT_FDCWD, tmpl, NULL);
	return 0;
}
