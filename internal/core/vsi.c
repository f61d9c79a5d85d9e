/* struct stat64, behind VSIStatBufL, is declared only with large-file extensions. */
#define _GNU_SOURCE
#include "translate.h"

#include <cpl_vsi.h>

/* VSIStatBufL is a struct stat64, which cgo cannot allocate. */
int cloudioPathExists(const char *name) {
  VSIStatBufL st;
  return VSIStatExL(name, &st, VSI_STAT_EXISTS_FLAG) == 0;
}
