/* bench_write_cog: cloudio's COG write through the C ABI, for bench/bench.py.
 *
 *   bench_write_cog SRC DST [COMPRESS [KEY=VALUE ...]]
 *   bench_write_cog --version
 *
 * Calls cloudio_write_cog(SRC, DST, COMPRESS, OPTIONS, NULL, NULL, ...) once:
 * with SRC and DST alone, exactly the library's defaults (what
 * cloudio_write_cog(src, dst, NULL, NULL, NULL, NULL, err, sizeof err) does).
 * COMPRESS "-" means NULL (the default). Exits 0 on success, 1 with the
 * library's message on failure, 2 on bad usage. No Python, no progress
 * callback: only the library's own cost is measured. */
#include <stdio.h>
#include <string.h>

#include "cloudio.h"

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("%s\n", cloudio_version());
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: %s SRC DST [COMPRESS|- [KEY=VALUE ...]]\n       %s --version\n", argv[0], argv[0]);
    return 2;
  }
  if (cloudio_abi_version() != CLOUDIO_ABI_VERSION) {
    fprintf(stderr, "bench_write_cog: built against ABI %d, running on ABI %d\n", CLOUDIO_ABI_VERSION,
            cloudio_abi_version());
    return 2;
  }
  const char *compress = NULL;
  if (argc > 3 && strcmp(argv[3], "-") != 0) {
    compress = argv[3];
  }
  /* argv[argc] is NULL (C99 5.1.2.2.1), so argv + 4 is a NULL-terminated
   * option list when options were given. */
  const char *const *options = argc > 4 ? (const char *const *)(argv + 4) : NULL;

  char err[1024];
  int rc = cloudio_write_cog(argv[1], argv[2], compress, options, NULL, NULL, err, sizeof err);
  if (rc != CLOUDIO_OK) {
    fprintf(stderr, "bench_write_cog: %s (%s)\n", err, cloudio_status_name(rc));
    return 1;
  }
  return 0;
}
