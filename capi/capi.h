/* Declarations shared by capi's Go files and capi.c; a subset of
 * include/cloudio.h, which cgo cannot include next to its own prototypes of
 * the exported functions. */
#ifndef CLOUDIO_CAPI_H
#define CLOUDIO_CAPI_H
#include <stddef.h>
#include <stdint.h>

typedef int (*cloudio_progress_fn)(double fraction, const char *message, void *user);

/* Calls a C function pointer, which Go cannot do itself. */
__attribute__((visibility("hidden")))
int capi_call_progress(cloudio_progress_fn fn, double fraction, const char *message, void *user);

#endif
