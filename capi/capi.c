/* The entry points of include/cloudio.h: each refuses at once in a process
 * forked after the library was loaded, and otherwise forwards to the Go
 * function behind it (capi_*, in the Go files of this package).
 *
 * Why: the Go runtime starts its threads when the library is loaded, and a
 * forked child has none of them, so a call that entered Go there would hang
 * for ever. A pthread_atfork handler marks the child; the check is C only,
 * before any Go code runs. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "capi.h"
#include "_cgo_export.h"

int capi_call_progress(cloudio_progress_fn fn, double fraction, const char *message, void *user) {
  return fn(fraction, message, user);
}

static volatile sig_atomic_t capi_forked;

static void capi_on_fork_child(void) { capi_forked = 1; }

__attribute__((constructor)) static void capi_watch_forks(void) { pthread_atfork(NULL, NULL, capi_on_fork_child); }

static const char capi_forked_message[] =
    "libcloudio cannot be used in a process forked after the library was loaded: the Go runtime inside it has no "
    "threads there, and the call would hang. Start worker processes with fork-exec or posix_spawn (Python: the "
    "'spawn' start method), or load the library in the child only";

static int capi_refuse_forked(char *err, size_t err_len) {
  if (err != NULL && err_len > 0) {
    snprintf(err, err_len, "%s", capi_forked_message);
  }
  return CLOUDIO_ERR_UNSUPPORTED;
}

#define REFUSE_IF_FORKED(err, err_len) \
  if (capi_forked) return capi_refuse_forked(err, err_len)

int cloudio_abi_version(void) { return CLOUDIO_ABI_VERSION; }

const char *cloudio_version(void) {
  return capi_forked ? capi_forked_message : capi_version();
}

const char *cloudio_status_name(int status) {
  return capi_forked ? capi_forked_message : capi_status_name(status);
}

int cloudio_tile_windows(int64_t rows, int64_t cols, int64_t tile_rows, int64_t tile_cols, int64_t overlap,
                         uint64_t first, int64_t *out, uint64_t capacity, uint64_t *written, uint64_t *total, char *err,
                         size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_tile_windows(rows, cols, tile_rows, tile_cols, overlap, first, (void *)out, capacity, (void *)written,
                           (void *)total, (void *)err, err_len);
}

int cloudio_write_cog(const char *src, const char *dst, const char *compress, const char *const *options,
                      cloudio_progress_fn progress, void *progress_user, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_write_cog((void *)src, (void *)dst, (void *)compress, (void *)options, progress, (void *)progress_user,
                        (void *)err, err_len);
}

int cloudio_write_cog_buffer(const void *data, size_t data_len, int dtype, int64_t bands, int64_t rows, int64_t cols,
                             const double *geotransform, const char *crs, const double *nodata, const char *dst,
                             const char *compress, const char *const *options, cloudio_progress_fn progress,
                             void *progress_user, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_write_cog_buffer((void *)data, data_len, dtype, bands, rows, cols, (void *)geotransform, (void *)crs,
                               (void *)nodata, (void *)dst, (void *)compress, (void *)options, progress,
                               (void *)progress_user, (void *)err, err_len);
}

int cloudio_dataset_open(const char *name, cloudio_dataset **out, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_open((void *)name, (void *)out, (void *)err, err_len);
}

int cloudio_dataset_info(cloudio_dataset *ds, cloudio_info *out, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_info((void *)ds, (void *)out, (void *)err, err_len);
}

int cloudio_dataset_crs(cloudio_dataset *ds, char *buf, size_t buf_len, size_t *needed, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_crs((void *)ds, (void *)buf, buf_len, (void *)needed, (void *)err, err_len);
}

int cloudio_dataset_nodata(cloudio_dataset *ds, int band, char *buf, size_t buf_len, size_t *needed, char *err,
                           size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_nodata((void *)ds, band, (void *)buf, buf_len, (void *)needed, (void *)err, err_len);
}

int cloudio_dataset_read(cloudio_dataset *ds, int64_t row_off, int64_t col_off, int64_t n_rows, int64_t n_cols,
                         const int *bands, size_t n_bands, int dtype, void *buf, size_t buf_len, char *err,
                         size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_read((void *)ds, row_off, col_off, n_rows, n_cols, (void *)bands, n_bands, dtype, (void *)buf,
                           buf_len, (void *)err, err_len);
}

int cloudio_dataset_read_type(cloudio_dataset *ds, const int *bands, size_t n_bands, int dtype, int *buffer_dtype,
                              char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_read_type((void *)ds, (void *)bands, n_bands, dtype, (void *)buffer_dtype, (void *)err, err_len);
}

int cloudio_dataset_close(cloudio_dataset *ds, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_dataset_close((void *)ds, (void *)err, err_len);
}

void cloudio_reader_options_init(cloudio_reader_options *options) {
  if (!capi_forked) {
    capi_reader_options_init((void *)options);
  }
}

int cloudio_reader_open(const char *name, const cloudio_reader_options *options, cloudio_reader **out, char *err,
                        size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_reader_open((void *)name, (void *)options, 0, (void *)out, (void *)err, err_len);
}

int cloudio_reader_open_masked(const char *name, const cloudio_reader_options *options, int masks,
                               cloudio_reader **out, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_reader_open((void *)name, (void *)options, masks, (void *)out, (void *)err, err_len);
}

int cloudio_reader_info(cloudio_reader *reader, cloudio_info *info, uint64_t *count, size_t *max_buf_len, char *err,
                        size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_reader_info((void *)reader, (void *)info, (void *)count, (void *)max_buf_len, (void *)err, err_len);
}

int cloudio_reader_next(cloudio_reader *reader, int64_t window[8], void *buf, size_t buf_len, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_reader_next((void *)reader, (void *)window, (void *)buf, buf_len, (void *)err, err_len);
}

int cloudio_reader_close(cloudio_reader *reader, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_reader_close((void *)reader, (void *)err, err_len);
}

int cloudio_writer_open(const char *dst, int64_t rows, int64_t cols, int64_t bands, int dtype,
                        const double *geotransform, const char *crs, const double *nodata, const char *compress,
                        const char *const *options, cloudio_writer **out, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_writer_open((void *)dst, rows, cols, bands, dtype, (void *)geotransform, (void *)crs, (void *)nodata,
                          (void *)compress, (void *)options, (void *)out, (void *)err, err_len);
}

int cloudio_writer_set_source(cloudio_writer *writer, const char *src, const int *bands, size_t n_bands, int copy,
                              char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_writer_set_source((void *)writer, (void *)src, (void *)bands, n_bands, copy, (void *)err, err_len);
}

int cloudio_writer_write_masked(cloudio_writer *writer, int64_t row_off, int64_t col_off, int64_t n_rows,
                                int64_t n_cols, const void *buf, size_t buf_len, const unsigned char *mask,
                                size_t mask_len, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_writer_write_masked((void *)writer, row_off, col_off, n_rows, n_cols, (void *)buf, buf_len,
                                  (void *)mask, mask_len, (void *)err, err_len);
}

int cloudio_writer_write(cloudio_writer *writer, int64_t row_off, int64_t col_off, int64_t n_rows, int64_t n_cols,
                         const void *buf, size_t buf_len, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_writer_write((void *)writer, row_off, col_off, n_rows, n_cols, (void *)buf, buf_len, (void *)err, err_len);
}

int cloudio_writer_close(cloudio_writer *writer, cloudio_progress_fn progress, void *progress_user, char *err,
                         size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_writer_close((void *)writer, progress, (void *)progress_user, (void *)err, err_len);
}

int cloudio_writer_abort(cloudio_writer *writer, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_writer_abort((void *)writer, (void *)err, err_len);
}

int cloudio_storage_configure(const char *url, const char *const *options, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_configure((void *)url, (void *)options, (void *)err, err_len);
}

int cloudio_storage_replace(const char *url, const char *const *options, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_replace((void *)url, (void *)options, (void *)err, err_len);
}

int cloudio_storage_list(const char *url, char *buf, size_t buf_len, size_t *needed, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_list((void *)url, (void *)buf, buf_len, (void *)needed, (void *)err, err_len);
}

int cloudio_storage_exists(const char *url, int *exists, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_exists((void *)url, (void *)exists, (void *)err, err_len);
}

int cloudio_storage_delete(const char *url, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_delete((void *)url, (void *)err, err_len);
}

int cloudio_storage_prefix(const char *url, int writable, char *buf, size_t buf_len, size_t *needed, char *err,
                           size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_prefix((void *)url, writable, (void *)buf, buf_len, (void *)needed, (void *)err, err_len);
}

int cloudio_storage_covers(const char *prefix, const char *name, int *covers, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_storage_covers((void *)prefix, (void *)name, (void *)covers, (void *)err, err_len);
}

int cloudio_secret_option(const char *key, int *secret, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_secret_option((void *)key, (void *)secret, (void *)err, err_len);
}

int cloudio_scrub(const char *text, const char *const *options, char *buf, size_t buf_len, size_t *needed, char *err,
                  size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_scrub((void *)text, (void *)options, (void *)buf, buf_len, (void *)needed, (void *)err, err_len);
}

int cloudio_write_zarr(const char *src, const char *dst, int64_t chunk_rows, int64_t chunk_cols, const char *compress,
                       const char *const *options, cloudio_progress_fn progress, void *progress_user, char *err,
                       size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_write_zarr((void *)src, (void *)dst, chunk_rows, chunk_cols, (void *)compress, (void *)options, progress,
                         (void *)progress_user, (void *)err, err_len);
}

int cloudio_write_zarr_buffer(const void *data, size_t data_len, int dtype, int64_t bands, int64_t rows, int64_t cols,
                              const double *geotransform, const char *crs, const double *nodata, const char *dst,
                              int64_t chunk_rows, int64_t chunk_cols, const char *compress, const char *const *options,
                              cloudio_progress_fn progress, void *progress_user, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_write_zarr_buffer((void *)data, data_len, dtype, bands, rows, cols, (void *)geotransform, (void *)crs,
                                (void *)nodata, (void *)dst, chunk_rows, chunk_cols, (void *)compress, (void *)options,
                                progress, (void *)progress_user, (void *)err, err_len);
}

int cloudio_validate(const char *name, int *valid, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_validate((void *)name, (void *)valid, (void *)err, err_len);
}

int cloudio_validate_report(const char *name, int full_check, int *valid, char *buf, size_t buf_len, size_t *needed,
                            char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_validate_report((void *)name, full_check, (void *)valid, (void *)buf, buf_len, (void *)needed,
                              (void *)err, err_len);
}

int cloudio_info_json(const char *name, char *buf, size_t buf_len, size_t *needed, char *err, size_t err_len) {
  REFUSE_IF_FORKED(err, err_len);
  return capi_info_json((void *)name, (void *)buf, buf_len, (void *)needed, (void *)err, err_len);
}
