#ifndef CLOUDIO_STORAGE_VSI_H
#define CLOUDIO_STORAGE_VSI_H

/* GDAL's virtual file system calls that godal lacks (vsi.c). Each that can
 * fail fills a cloudioErrors (gdalc.h) and returns only data; vsi.go decides
 * what a failure means. */

#include "gdalc.h"

/* Pin name's values of keys (NULL-terminated) onto the calling thread's
 * configuration, and put back what they replaced. */
char **cloudioPinOptions(const char *name, char **keys);
void cloudioUnpinOptions(char **saved);

/* 1 when GDAL's virtual file system finds name (a local path or /vsi...). */
int cloudioPathExists(const char *name);

/* 1 when name exists, asked of its server, not of GDAL's cache. */
int cloudioStatFresh(const char *name, cloudioErrors *errs);

/* 1 when name (a directory, or an object store's bucket, container or
 * prefix) opens for listing, asked of its server. */
int cloudioOpensAsDir(const char *name, cloudioErrors *errs);

/* 1 when the file or object name opens for reading, asked of its server. */
int cloudioOpensForReading(const char *name, cloudioErrors *errs);

/* 1 when from was renamed to to (works for /vsimem/ too). */
int cloudioRename(const char *from, const char *to, cloudioErrors *errs);

/* Copy local file src to dst (any GDAL name). */
void cloudioUpload(const char *src, const char *dst, cloudioErrors *errs);

/* Per-prefix GDAL configuration (credentials, endpoints, timeouts). */
void cloudioSetPathOption(const char *prefix, const char *key, const char *value);
void cloudioClearPathOptions(const char *prefix);

/* Names under prefix, asked of its server, NULL-terminated (NULL for none);
 * free with CSLDestroy. */
char **cloudioList(const char *prefix, int recursive, cloudioErrors *errs);

/* Delete one file or object. */
void cloudioUnlink(const char *name, cloudioErrors *errs);

#endif
