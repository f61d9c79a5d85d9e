/* bench_read_tiles SRC [TILE]: read every TILE x TILE tile of band 1 of SRC
 * through cloudio's tile reader and sum it; prints the sum. Measures the
 * reader without any Python in the way. */
#include <stdio.h>
#include <stdlib.h>

#include "cloudio.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SRC [TILE]\n", argv[0]);
    return 2;
  }
  char err[1024];
  cloudio_reader_options opts;
  cloudio_reader_options_init(&opts);
  opts.tile_rows = opts.tile_cols = argc > 2 ? atoll(argv[2]) : 1024;
  opts.dtype = CLOUDIO_FLOAT32;
  cloudio_reader *reader = NULL;
  size_t len = 0;
  int rc = cloudio_reader_open(argv[1], &opts, &reader, err, sizeof err);
  if (rc == CLOUDIO_OK) {
    rc = cloudio_reader_info(reader, NULL, NULL, &len, err, sizeof err);
  }
  float *buf = rc == CLOUDIO_OK ? malloc(len) : NULL;
  double sum = 0;
  int64_t win[8];
  while (buf != NULL && (rc = cloudio_reader_next(reader, win, buf, len, err, sizeof err)) == CLOUDIO_OK && win[2] > 0) {
    for (int64_t i = 0; i < win[2] * win[3]; i++) {
      sum += buf[i];
    }
  }
  free(buf);
  if (reader != NULL) {
    cloudio_reader_close(reader, NULL, 0);
  }
  if (rc != CLOUDIO_OK) {
    fprintf(stderr, "bench_read_tiles: %s (%s)\n", err, cloudio_status_name(rc));
    return 1;
  }
  printf("checksum %.17g\n", sum); /* as bench/tasks.py prints it */
  return 0;
}
