/* Declarations shared by capi's Go files and capi.c: the C ABI's types come
 * from include/cloudio.h. The Go functions behind the ABI are exported as
 * capi_* (cgo's prototypes for them do not match the header's const
 * qualifiers); capi.c defines the cloudio_* entry points over them. */
#ifndef CLOUDIO_CAPI_H
#define CLOUDIO_CAPI_H
#include "../include/cloudio.h"

/* Calls a C function pointer, which Go cannot do itself. */
__attribute__((visibility("hidden")))
int capi_call_progress(cloudio_progress_fn fn, double fraction, const char *message, void *user);

#endif
