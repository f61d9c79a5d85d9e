/* struct stat64, behind VSIStatBufL, is declared only with large-file extensions. */
#define _GNU_SOURCE
#include "translate.h"

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

static int cloudioDeniedStatus(const char *warning) {
  return warning != NULL && (strstr(warning, ": 403") != NULL || strstr(warning, ": 401") != NULL);
}

/* Whether GDAL's message says no HTTP answer came (curl's failure, or the
 * status 0 GDAL 3.6 reports for a connection that failed or timed out). */
int cloudioNoAnswer(const char *msg) {
  size_t n = strlen(msg);
  return strstr(msg, "CURL error") != NULL || (n > 3 && strcmp(msg + n - 3, ": 0") == 0);
}

/* The state of name (a prefix whose listing failed): one of
 * CLOUDIO_LIST_*. A listing cannot tell an empty prefix from a
 * missing bucket or refused credentials (GDAL 3.6 reports an S3 refusal of a
 * listing as a warning, an Azure one not at all), but reading a key under
 * the prefix can: GDAL names the object-store error (a missing key in an
 * existing bucket, a missing bucket, refused credentials), and warns with
 * the HTTP status on every store. */
static int cloudioListFailure(const char *name, const cloudioErrors *listing) {
  if (cloudioDeniedStatus(listing->warning)) {
    return CLOUDIO_LIST_REFUSED;
  }
  if (cloudioNoAnswer(listing->warning) || cloudioNoAnswer(listing->msg)) {
    return CLOUDIO_LIST_NO_ANSWER;
  }
  size_t len = strlen(name);
  char *probe = CPLStrdup(CPLSPrintf("%.*s/.cloudio-access-probe", (int)(len && name[len - 1] == '/' ? len - 1 : len), name));
  VSICurlPartialClearCache(probe); /* an earlier answer is cached: ask again */
  cloudioErrors errs;
  memset(&errs, 0, sizeof errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, &errs);
  VSIErrorReset();
  VSILFILE *fp = VSIFOpenExL(probe, "rb", TRUE);
  int vsi = VSIGetLastErrorNo();
  int no_answer = cloudioNoAnswer(VSIGetLastErrorMsg());
  CPLPopErrorHandler();
  CPLFree(probe);
  if (fp != NULL) {
    VSIFCloseL(fp);
    return CLOUDIO_LIST_OK;
  }
  switch (vsi) {
  case VSIE_AWSObjectNotFound:
    return CLOUDIO_LIST_OK; /* the bucket is there, and these credentials may look into it */
  case VSIE_AWSBucketNotFound:
    return CLOUDIO_LIST_MISSING;
  case VSIE_AWSAccessDenied:
    return CLOUDIO_LIST_FORBIDDEN;
  case VSIE_AWSInvalidCredentials:
  case VSIE_AWSSignatureDoesNotMatch:
    return CLOUDIO_LIST_REFUSED;
  }
  if (cloudioDeniedStatus(errs.warning) || cloudioDeniedStatus(VSIGetLastErrorMsg())) {
    return CLOUDIO_LIST_REFUSED;
  }
  /* Azure (in GDAL 3.6) tells a missing container from a missing blob by
   * no more than a 404. */
  return no_answer || cloudioNoAnswer(errs.warning) ? CLOUDIO_LIST_NO_ANSWER : CLOUDIO_LIST_UNKNOWN;
}

/* Listing name itself uses the options scoped to it on every object store
 * (pinned onto the thread: GDAL 3.6 lists with its bucket's), whereas a stat
 * of a bare Azure container lists the whole account with the options scoped
 * to "/vsiaz/", so it cannot see a container that only per-container
 * credentials reach. Whatever GDAL cached about name is dropped first: the
 * answer must be the server's, now. */
int cloudioCanList(const char *name) {
  VSICurlPartialClearCache(name);
  cloudioErrors errs;
  memset(&errs, 0, sizeof errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, &errs);
  VSIDIR *dir = VSIOpenDir(name, 0, NULL);
  CPLPopErrorHandler();
  if (dir != NULL) {
    VSICloseDir(dir);
    return CLOUDIO_LIST_OK;
  }
  return cloudioListFailure(name, &errs);
}

/* Whether name exists: 1, 0, or -1 when its server did not answer (or -2
 * refused the credentials), after dropping what GDAL cached about it. */
int cloudioStat(const char *name) {
  VSICurlPartialClearCache(name);
  cloudioErrors errs;
  memset(&errs, 0, sizeof errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, &errs);
  VSIErrorReset();
  int found = cloudioPathExists(name);
  int no_answer = cloudioNoAnswer(errs.warning) || cloudioNoAnswer(errs.msg) || cloudioNoAnswer(VSIGetLastErrorMsg());
  CPLPopErrorHandler();
  if (found) {
    return 1;
  }
  return no_answer ? -1 : cloudioDeniedStatus(errs.warning) ? -2 : 0;
}

int cloudioRename(const char *from, const char *to) { return VSIRename(from, to); }

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
 * freed with CSLDestroy; *state is one of CLOUDIO_LIST_* (for no names: why),
 * GDAL's failures land in errs. */
char **cloudioList(const char *prefix, int recursive, int *state, cloudioErrors *errs) {
  memset(errs, 0, sizeof *errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, errs);
  CPLErrorReset();
  VSICurlPartialClearCache(prefix); /* the listing must be the server's, now */
  char **names = recursive ? VSIReadDirRecursive(prefix) : VSIReadDir(prefix);
  *state = CLOUDIO_LIST_OK;
  if (names == NULL && !errs->failed) {
    /* An object store's empty prefix, or a local directory, lists as
     * nothing; a stat of a prefix could answer from what GDAL cached about
     * its bucket, so it is probed anew. */
    *state = cloudioNoAnswer(errs->warning) || cloudioNoAnswer(errs->msg) ? CLOUDIO_LIST_NO_ANSWER
             : !recursive && cloudioPathExists(prefix)                    ? CLOUDIO_LIST_OK
                                                                          : cloudioCanList(prefix);
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
