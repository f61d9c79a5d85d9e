/* struct stat64, behind VSIStatBufL, is declared only with large-file extensions. */
#define _GNU_SOURCE
#include "translate.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_vsi.h>

/* VSIStatBufL is a struct stat64, which cgo cannot allocate. */
int cloudioPathExists(const char *name) {
  VSIStatBufL st;
  return VSIStatExL(name, &st, VSI_STAT_EXISTS_FLAG) == 0;
}

int cloudioRename(const char *from, const char *to) { return VSIRename(from, to); }

/* Copy a local file to any GDAL file name (an object store URL included),
 * in one pass. Errors GDAL raises, up to and including the close that
 * completes an upload, land in errs. */
int cloudioUpload(const char *src, const char *dst, cloudioErrors *errs) {
  memset(errs, 0, sizeof *errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, errs);
  CPLErrorReset();
  VSILFILE *in = VSIFOpenL(src, "rb");
  VSILFILE *out = in ? VSIFOpenExL(dst, "wb", TRUE) : NULL;
  if (in == NULL || out == NULL) {
    if (!errs->failed) {
      CPLError(CE_Failure, CPLE_OpenFailed, "cannot open %s for writing", dst);
    }
  } else {
    enum { CHUNK = 8 << 20 };
    char *buf = malloc(CHUNK);
    size_t n;
    while (buf != NULL && !errs->failed && (n = VSIFReadL(buf, 1, CHUNK, in)) > 0) {
      if (VSIFWriteL(buf, 1, n, out) != n && !errs->failed) {
        CPLError(CE_Failure, CPLE_FileIO, "short write to %s", dst);
      }
    }
    if (buf == NULL) {
      CPLError(CE_Failure, CPLE_OutOfMemory, "out of memory");
    }
    free(buf);
  }
  if (out != NULL && VSIFCloseL(out) != 0 && !errs->failed) {
    CPLError(CE_Failure, CPLE_FileIO, "could not complete the upload to %s", dst);
  }
  if (in != NULL) {
    VSIFCloseL(in);
  }
  CPLPopErrorHandler();
  return errs->failed;
}
