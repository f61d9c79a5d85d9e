/* struct stat64, behind VSIStatBufL, is declared only with large-file extensions. */
#define _GNU_SOURCE
#include "vsi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <cpl_vsi_error.h>

/* Copies name's values of keys (NULL-terminated) into the calling thread's
 * configuration; returns what they replaced ("KEY=VALUE", or "KEY" for
 * none) for cloudioUnpinOptions. */
char **cloudioPinOptions(const char *name, char **keys) {
  char **saved = NULL;
  for (char **key = keys; *key != NULL; key++) {
    const char *before = CPLGetThreadLocalConfigOption(*key, NULL);
    saved = CSLAddString(saved, before ? CPLSPrintf("%s=%s", *key, before) : *key);
    const char *scoped = VSIGetPathSpecificOption(name, *key, NULL);
    if (scoped != NULL) {
      CPLSetThreadLocalConfigOption(*key, scoped);
    }
  }
  return saved;
}

/* Puts back what cloudioPinOptions replaced, and frees saved. */
void cloudioUnpinOptions(char **saved) {
  for (char **entry = saved; entry != NULL && *entry != NULL; entry++) {
    char *eq = strchr(*entry, '=');
    if (eq != NULL) {
      *eq = '\0';
      CPLSetThreadLocalConfigOption(*entry, eq + 1);
    } else {
      CPLSetThreadLocalConfigOption(*entry, NULL);
    }
  }
  CSLDestroy(saved);
}

/* VSIStatBufL is a struct stat64, which cgo cannot allocate. */
int cloudioPathExists(const char *name) {
  VSIStatBufL st;
  return VSIStatExL(name, &st, VSI_STAT_EXISTS_FLAG) == 0;
}

int cloudioStatFresh(const char *name, cloudioErrors *errs) {
  VSICurlPartialClearCache(name);
  cloudioErrorsBegin(errs);
  int found = cloudioPathExists(name);
  cloudioErrorsEnd(errs);
  return found;
}

int cloudioOpensAsDir(const char *name, cloudioErrors *errs) {
  VSICurlPartialClearCache(name);
  cloudioErrorsBegin(errs);
  VSIDIR *dir = VSIOpenDir(name, 0, NULL);
  cloudioErrorsEnd(errs);
  if (dir != NULL) {
    VSICloseDir(dir);
  }
  return dir != NULL;
}

int cloudioOpensForReading(const char *name, cloudioErrors *errs) {
  VSICurlPartialClearCache(name); /* an earlier answer is cached: ask again */
  cloudioErrorsBegin(errs);
  VSILFILE *fp = VSIFOpenExL(name, "rb", TRUE);
  cloudioErrorsEnd(errs);
  if (fp != NULL) {
    VSIFCloseL(fp);
  }
  return fp != NULL;
}

int cloudioRename(const char *from, const char *to, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  int renamed = VSIRename(from, to) == 0;
  cloudioErrorsEnd(errs);
  return renamed;
}

/* Make a write handle's close abandon what was written instead of
 * publishing it. GDAL 3.6 has no call for that, but its object-store write
 * handles refuse any seek, remember the failure, and then abort the upload
 * at close rather than complete it. */
static void cloudioAbandon(VSILFILE *out) {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  VSIFSeekL(out, 1, SEEK_END);
  CPLPopErrorHandler();
}

/* One pass through a write handle; errors land in the pushed handler. A
 * short read is the end of the file only when the handle says so and every
 * byte the file had when the copy began was read; anything else is a read
 * error, and the upload is abandoned. */
static void cloudioCopyStream(const char *src, const char *dst, cloudioErrors *errs) {
  VSIStatBufL st;
  VSILFILE *in = VSIStatL(src, &st) == 0 ? VSIFOpenL(src, "rb") : NULL;
  VSILFILE *out = in ? VSIFOpenExL(dst, "wb", TRUE) : NULL;
  if (in == NULL || out == NULL) {
    if (!errs->failed) {
      CPLError(CE_Failure, CPLE_OpenFailed, "cannot open %s for writing", dst);
    }
  } else {
    enum { CHUNK = 8 << 20 };
    char *buf = malloc(CHUNK);
    vsi_l_offset total = 0;
    size_t n = CHUNK;
    while (buf != NULL && !errs->failed && n == CHUNK) {
      n = VSIFReadL(buf, 1, CHUNK, in);
      total += n;
      if (n < CHUNK && (!VSIFEofL(in) || total != (vsi_l_offset)st.st_size)) {
        CPLError(CE_Failure, CPLE_FileIO, "cannot read %s (read %llu of its %llu bytes): nothing was uploaded to %s",
                 src, (unsigned long long)total, (unsigned long long)st.st_size, dst);
      } else if (n > 0 && VSIFWriteL(buf, 1, n, out) != n && !errs->failed) {
        CPLError(CE_Failure, CPLE_FileIO, "short write to %s", dst);
      }
    }
    if (buf == NULL) {
      CPLError(CE_Failure, CPLE_OutOfMemory, "out of memory");
    }
    free(buf);
    if (errs->failed) {
      cloudioAbandon(out);
    }
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
void cloudioUpload(const char *src, const char *dst, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  if (STARTS_WITH(dst, "/vsiaz/")) {
    cloudioSyncBlocks(src, dst, errs);
  } else {
    cloudioCopyStream(src, dst, errs);
  }
  cloudioErrorsEnd(errs);
  VSICurlPartialClearCache(dst); /* later stats and listings must see the new object */
}

void cloudioSetPathOption(const char *prefix, const char *key, const char *value) {
  VSISetPathSpecificOption(prefix, key, value);
}

void cloudioClearPathOptions(const char *prefix) {
  VSIClearPathSpecificOptions(prefix);
  VSICurlPartialClearCache(prefix); /* listings and stats made with other credentials */
}

char **cloudioList(const char *prefix, int recursive, cloudioErrors *errs) {
  VSICurlPartialClearCache(prefix); /* the listing must be the server's, now */
  cloudioErrorsBegin(errs);
  char **names = recursive ? VSIReadDirRecursive(prefix) : VSIReadDir(prefix);
  cloudioErrorsEnd(errs);
  return names;
}

void cloudioUnlink(const char *name, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  if (VSIUnlink(name) != 0 && !errs->failed) {
    CPLError(CE_Failure, CPLE_FileIO, "cannot delete %s", name);
  }
  cloudioErrorsEnd(errs);
  VSICurlPartialClearCache(name);
}
