#ifndef CLOUDIO_GDALC_H
#define CLOUDIO_GDALC_H

/* The one error convention of cloudio's C helpers: each takes a
 * cloudioErrors, fills it between cloudioErrorsBegin and cloudioErrorsEnd
 * with what GDAL raised (and what the helper itself finds, through
 * cloudioRecord or CPLError), and returns only data. C collects; Go
 * (gdalc.go) decides what the failure means. */

#include <stdio.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_vsi_error.h>

typedef struct {
  int failed;        /* a CE_Failure or CE_Fatal was raised */
  int code;          /* the CPLE number of the first one */
  char msg[2048];    /* their messages, joined by "; " */
  char warning[512]; /* the last warning: GDAL reports some HTTP failures only so */
  int vsi_code;      /* VSIGetLastErrorNo() at cloudioErrorsEnd: a VSIE_* number, 0 for none */
  char vsi_msg[512]; /* VSIGetLastErrorMsg() at cloudioErrorsEnd */
} cloudioErrors;

/* Records one message of class cls and CPLE number num into errs. */
static inline void cloudioRecord(cloudioErrors *errs, CPLErr cls, int num, const char *msg) {
  if (cls == CE_Warning) {
    snprintf(errs->warning, sizeof errs->warning, "%s", msg ? msg : "");
    return;
  }
  if (cls < CE_Failure) {
    return;
  }
  if (!errs->failed) {
    errs->failed = 1;
    errs->code = num;
  }
  size_t used = strlen(errs->msg);
  if (used + 3 < sizeof errs->msg) {
    snprintf(errs->msg + used, sizeof errs->msg - used, "%s%s", used ? "; " : "", msg ? msg : "");
  }
}

/* The error handler cloudioErrorsBegin pushes; its user data is a cloudioErrors. */
static inline void CPL_STDCALL cloudioCollectErrors(CPLErr cls, CPLErrorNum num, const char *msg) {
  cloudioErrors *errs = (cloudioErrors *)CPLGetErrorHandlerUserData();
  if (errs != NULL) {
    cloudioRecord(errs, cls, (int)num, msg);
  }
}

/* Clears errs and collects into it what GDAL raises on this thread. */
static inline void cloudioErrorsBegin(cloudioErrors *errs) {
  memset(errs, 0, sizeof *errs);
  CPLPushErrorHandlerEx(cloudioCollectErrors, errs);
  CPLErrorReset();
  VSIErrorReset();
}

/* Stops collecting, keeping the virtual file system's last error. */
static inline void cloudioErrorsEnd(cloudioErrors *errs) {
  errs->vsi_code = VSIGetLastErrorNo();
  snprintf(errs->vsi_msg, sizeof errs->vsi_msg, "%s", VSIGetLastErrorMsg());
  CPLPopErrorHandler();
}

#endif
