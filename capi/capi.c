#include "capi.h"

int capi_call_progress(cloudio_progress_fn fn, double fraction, const char *message, void *user) {
  return fn(fraction, message, user);
}
