/* libarchive through a table loaded on first use (common/dl.h explains
 * why). Include this instead of <archive.h> and <archive_entry.h>: each
 * archive_* name below becomes a call through the table, with the exact
 * type the headers declare. */
#ifndef BERTH_IMAGE_ARCHIVE_API_H
#define BERTH_IMAGE_ARCHIVE_API_H

#include <archive.h>
#include <archive_entry.h>

#define BERTH_ARCHIVE_FUNCTIONS(X)                 \
	X(archive_entry_atime)                     \
	X(archive_entry_atime_is_set)              \
	X(archive_entry_atime_nsec)                \
	X(archive_entry_clear)                     \
	X(archive_entry_filetype)                  \
	X(archive_entry_free)                      \
	X(archive_entry_gid)                       \
	X(archive_entry_hardlink)                  \
	X(archive_entry_hardlink_utf8)             \
	X(archive_entry_mtime)                     \
	X(archive_entry_mtime_nsec)                \
	X(archive_entry_new)                       \
	X(archive_entry_pathname)                  \
	X(archive_entry_pathname_utf8)             \
	X(archive_entry_perm)                      \
	X(archive_entry_rdevmajor)                 \
	X(archive_entry_rdevminor)                 \
	X(archive_entry_set_filetype)              \
	X(archive_entry_set_gid)                   \
	X(archive_entry_set_hardlink)              \
	X(archive_entry_set_mtime)                 \
	X(archive_entry_set_pathname)              \
	X(archive_entry_set_perm)                  \
	X(archive_entry_set_rdevmajor)             \
	X(archive_entry_set_rdevminor)             \
	X(archive_entry_set_size)                  \
	X(archive_entry_set_symlink)               \
	X(archive_entry_set_uid)                   \
	X(archive_entry_size)                      \
	X(archive_entry_symlink)                   \
	X(archive_entry_symlink_utf8)              \
	X(archive_entry_uid)                       \
	X(archive_entry_xattr_add_entry)           \
	X(archive_entry_xattr_next)                \
	X(archive_entry_xattr_reset)               \
	X(archive_error_string)                    \
	X(archive_read_data)                       \
	X(archive_read_data_block)                 \
	X(archive_read_free)                       \
	X(archive_read_new)                        \
	X(archive_read_next_header)                \
	X(archive_read_open)                       \
	X(archive_read_open_filename)              \
	X(archive_read_support_filter_bzip2)       \
	X(archive_read_support_filter_gzip)        \
	X(archive_read_support_filter_xz)          \
	X(archive_read_support_filter_zstd)        \
	X(archive_read_support_format_empty)       \
	X(archive_read_support_format_raw)         \
	X(archive_read_support_format_tar)         \
	X(archive_set_error)                       \
	X(archive_write_close)                     \
	X(archive_write_data)                      \
	X(archive_write_free)                      \
	X(archive_write_header)                    \
	X(archive_write_new)                       \
	X(archive_write_open)                      \
	X(archive_write_open_filename)             \
	X(archive_write_set_bytes_in_last_block)   \
	X(archive_write_set_format_pax_restricted) \
	X(archive_write_set_options)

struct berth__archive_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_ARCHIVE_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if libarchive is missing). */
const struct berth__archive_api *berth__archive(void);

#ifndef BERTH_ARCHIVE_API_IMPL
#define archive_entry_atime               (berth__archive()->archive_entry_atime)
#define archive_entry_atime_is_set        (berth__archive()->archive_entry_atime_is_set)
#define archive_entry_atime_nsec          (berth__archive()->archive_entry_atime_nsec)
#define archive_entry_clear               (berth__archive()->archive_entry_clear)
#define archive_entry_filetype            (berth__archive()->archive_entry_filetype)
#define archive_entry_free                (berth__archive()->archive_entry_free)
#define archive_entry_gid                 (berth__archive()->archive_entry_gid)
#define archive_entry_hardlink            (berth__archive()->archive_entry_hardlink)
#define archive_entry_hardlink_utf8       (berth__archive()->archive_entry_hardlink_utf8)
#define archive_entry_mtime               (berth__archive()->archive_entry_mtime)
#define archive_entry_mtime_nsec          (berth__archive()->archive_entry_mtime_nsec)
#define archive_entry_new                 (berth__archive()->archive_entry_new)
#define archive_entry_pathname            (berth__archive()->archive_entry_pathname)
#define archive_entry_pathname_utf8       (berth__archive()->archive_entry_pathname_utf8)
#define archive_entry_perm                (berth__archive()->archive_entry_perm)
#define archive_entry_rdevmajor           (berth__archive()->archive_entry_rdevmajor)
#define archive_entry_rdevminor           (berth__archive()->archive_entry_rdevminor)
#define archive_entry_set_filetype        (berth__archive()->archive_entry_set_filetype)
#define archive_entry_set_gid             (berth__archive()->archive_entry_set_gid)
#define archive_entry_set_hardlink        (berth__archive()->archive_entry_set_hardlink)
#define archive_entry_set_mtime           (berth__archive()->archive_entry_set_mtime)
#define archive_entry_set_pathname        (berth__archive()->archive_entry_set_pathname)
#define archive_entry_set_perm            (berth__archive()->archive_entry_set_perm)
#define archive_entry_set_rdevmajor       (berth__archive()->archive_entry_set_rdevmajor)
#define archive_entry_set_rdevminor       (berth__archive()->archive_entry_set_rdevminor)
#define archive_entry_set_size            (berth__archive()->archive_entry_set_size)
#define archive_entry_set_symlink         (berth__archive()->archive_entry_set_symlink)
#define archive_entry_set_uid             (berth__archive()->archive_entry_set_uid)
#define archive_entry_size                (berth__archive()->archive_entry_size)
#define archive_entry_symlink             (berth__archive()->archive_entry_symlink)
#define archive_entry_symlink_utf8        (berth__archive()->archive_entry_symlink_utf8)
#define archive_entry_uid                 (berth__archive()->archive_entry_uid)
#define archive_entry_xattr_add_entry     (berth__archive()->archive_entry_xattr_add_entry)
#define archive_entry_xattr_next          (berth__archive()->archive_entry_xattr_next)
#define archive_entry_xattr_reset         (berth__archive()->archive_entry_xattr_reset)
#define archive_error_string              (berth__archive()->archive_error_string)
#define archive_read_data                 (berth__archive()->archive_read_data)
#define archive_read_data_block           (berth__archive()->archive_read_data_block)
#define archive_read_free                 (berth__archive()->archive_read_free)
#define archive_read_new                  (berth__archive()->archive_read_new)
#define archive_read_next_header          (berth__archive()->archive_read_next_header)
#define archive_read_open                 (berth__archive()->archive_read_open)
#define archive_read_open_filename        (berth__archive()->archive_read_open_filename)
#define archive_read_support_filter_bzip2 (berth__archive()->archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip  (berth__archive()->archive_read_support_filter_gzip)
#define archive_read_support_filter_xz    (berth__archive()->archive_read_support_filter_xz)
#define archive_read_support_filter_zstd  (berth__archive()->archive_read_support_filter_zstd)
#define archive_read_support_format_empty (berth__archive()->archive_read_support_format_empty)
#define archive_read_support_format_raw   (berth__archive()->archive_read_support_format_raw)
#define archive_read_support_format_tar   (berth__archive()->archive_read_support_format_tar)
#define archive_set_error                 (berth__archive()->archive_set_error)
#define archive_write_close               (berth__archive()->archive_write_close)
#define archive_write_data                (berth__archive()->archive_write_data)
#define archive_write_free                (berth__archive()->archive_write_free)
#define archive_write_header              (berth__archive()->archive_write_header)
#define archive_write_new                 (berth__archive()->archive_write_new)
#define archive_write_open                (berth__archive()->archive_write_open)
#define archive_write_open_filename       (berth__archive()->archive_write_open_filename)
#define archive_write_set_bytes_in_last_block \
	(berth__archive()->archive_write_set_bytes_in_last_block)
#define archive_write_set_format_pax_restricted \
	(berth__archive()->archive_write_set_format_pax_restricted)
#define archive_write_set_options (berth__archive()->archive_write_set_options)
#endif

#endif
