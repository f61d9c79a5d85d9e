/* struct stat64, behind VSIStatBufL, is declared only with large-file extensions. */
#define _GNU_SOURCE
#include "translate.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

/* VSIStatBufL is a struct stat64, which cgo cannot allocate. */
int cloudioPathExists(const char *name) {
  VSIStatBufL st;
  return VSIStatExL(name, &st, VSI_STAT_EXISTS_FLAG) == 0;
}

static int cloudioDeniedStatus(const char *warning) {
  return strstr(warning, ": 403") != NULL || strstr(warning, ": 401") != NULL;
}

/* Whether the server refused the credentials for name (a prefix whose
 * listing failed). GDAL 3.6 reports an S3 refusal of a listing as a
 * warning, and an Azure one not at all; a HEAD request for a key under name
 * warns with its HTTP status on every store. */
static int cloudioRefused(const char *name, const char *warning) {
  if (cloudioDeniedStatus(warning)) {
    return 1;
  }
  size_t len = strlen(name);
  char *probe = CPLStrdup(CPLSPrintf("%.*s/.cloudio-access-probe", (int)(len && name[len - 1] == '/' ? len - 1 : len), name));
  VSICurlPartialClearCache(probe); /* an earlier answer is cached: ask again */
  cloudioErrors errs;
  memset(&errs, 0, sizeof errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, &errs);
  cloudioPathExists(probe);
  CPLPopErrorHandler();
  CPLFree(probe);
  return cloudioDeniedStatus(errs.warning);
}

/* Listing name itself uses the options scoped to it on every object store,
 * whereas a stat of a bare Azure container lists the whole account with the
 * options scoped to "/vsiaz/", so it cannot see a container that only
 * per-container credentials reach. */
int cloudioCanList(const char *name) {
  cloudioErrors errs;
  memset(&errs, 0, sizeof errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, &errs);
  VSIDIR *dir = VSIOpenDir(name, 0, NULL);
  CPLPopErrorHandler();
  if (dir != NULL) {
    VSICloseDir(dir);
    return CLOUDIO_LIST_OK;
  }
  return cloudioRefused(name, errs.warning) ? CLOUDIO_LIST_REFUSED : CLOUDIO_LIST_MISSING;
}

int cloudioRename(const char *from, const char *to) { return VSIRename(from, to); }

/* One pass through a write handle; errors land in the pushed handler. */
static void cloudioCopyStream(const char *src, const char *dst, cloudioErrors *errs) {
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
}

/* GDAL 3.6 writes a file opened for writing on /vsiaz/ as an append blob:
 * the object is visible from its first block on, and left behind, partial,
 * when the upload fails. VSISync in chunks uploads a block blob instead,
 * committed at the end by one Put Block List, so the object appears only
 * once complete (uncommitted blocks expire on their own). GDAL takes that
 * path only with NUM_THREADS > 1; its worker threads report their errors
 * through GDAL's default handler, so errs gets the overall failure.
 * OVERWRITE: a target of the same size is replaced, not judged up to date. */
static void cloudioSyncBlocks(const char *src, const char *dst, cloudioErrors *errs) {
  const char *const options[] = {"CHUNK_SIZE=16777216", "NUM_THREADS=2", "SYNC_STRATEGY=OVERWRITE", NULL};
  if (!VSISync(src, dst, options, NULL, NULL, NULL) && !errs->failed) {
    CPLError(CE_Failure, CPLE_FileIO, "could not complete the upload to %s", dst);
  }
}

/* Copy a local file to any GDAL file name (an object store URL included),
 * publishing it only once complete where the store allows. Errors GDAL
 * raises, up to and including the close that completes an upload, land in
 * errs. */
int cloudioUpload(const char *src, const char *dst, cloudioErrors *errs) {
  memset(errs, 0, sizeof *errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, errs);
  CPLErrorReset();
  if (STARTS_WITH(dst, "/vsiaz/")) {
    cloudioSyncBlocks(src, dst, errs);
  } else {
    cloudioCopyStream(src, dst, errs);
  }
  CPLPopErrorHandler();
  VSICurlPartialClearCache(dst); /* later stats and listings must see the new object */
  return errs->failed;
}

void cloudioSetPathOption(const char *prefix, const char *key, const char *value) {
  VSISetPathSpecificOption(prefix, key, value);
}

void cloudioClearPathOptions(const char *prefix) {
  VSIClearPathSpecificOptions(prefix);
  VSICurlPartialClearCache(prefix); /* listings and stats made with other credentials */
}

/* Names under prefix (recursively for object stores), NULL-terminated, to be
 * freed with CSLDestroy; failures land in errs. */
char **cloudioList(const char *prefix, int recursive, cloudioErrors *errs) {
  memset(errs, 0, sizeof *errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, errs);
  CPLErrorReset();
  char **names = recursive ? VSIReadDirRecursive(prefix) : VSIReadDir(prefix);
  int state = names == NULL && !errs->failed && !cloudioPathExists(prefix) ? cloudioCanList(prefix) : CLOUDIO_LIST_OK;
  if (state != CLOUDIO_LIST_OK) {
    CPLError(CE_Failure, CPLE_FileIO, "%s",
             errs->warning[0]                ? errs->warning
             : state == CLOUDIO_LIST_REFUSED ? "the server refused these credentials"
                                             : "no such directory, prefix or bucket");
    errs->code = state == CLOUDIO_LIST_REFUSED ? CPLE_FileIO : CPLE_OpenFailed;
  }
  CPLPopErrorHandler();
  return names;
}

int cloudioUnlink(const char *name, cloudioErrors *errs) {
  memset(errs, 0, sizeof *errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, errs);
  CPLErrorReset();
  int rc = VSIUnlink(name);
  if (rc != 0 && !errs->failed) {
    CPLError(CE_Failure, CPLE_FileIO, "cannot delete %s", name);
  }
  CPLPopErrorHandler();
  VSICurlPartialClearCache(name);
  return errs->failed;
}
